//! Benchmarks and load generators behind `switchboard bench`.

pub mod pacing;
pub mod webhooks;
