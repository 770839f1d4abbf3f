//! Benchmarks and load generators behind `switchboard bench`.

pub mod pacing;
pub mod sink;
pub mod webhooks;
