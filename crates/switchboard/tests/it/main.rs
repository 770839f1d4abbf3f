//! Switchboard's integration tests, one module per feature, in one binary that links once. They run
//! the real service in-process on ephemeral ports ([`harness::spawn_app`]), the simulator in-process,
//! the real binary for the CLI ([`harness::cli`]), with real files and real SQLite.
//!
//! One process holds them all, so they share what is process-wide: the global metrics recorder above
//! all. A test whose assertions read it runs alone in a child process ([`harness::in_own_process`]);
//! nothing else here sets environment variables, the current directory, a global tracing subscriber
//! or a panic hook (the configuration property test counts panics with one, in its own process).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on unexpected errors")]

mod harness;

mod admin;
mod alerts;
mod architecture;
mod cli;
mod config;
mod crash;
mod delivery;
mod end_to_end;
mod health;
mod leases;
mod listeners;
mod logging;
mod network_faults;
mod preflight;
mod sandbox;
mod scan;
mod secrets;
mod store;
mod store_health;
mod webhooks;
