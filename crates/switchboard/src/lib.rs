//! Switchboard: a production gateway and toolkit for Intercom integrations.
//!
//! `main.rs` only calls [`cli::main`]; everything else lives in one module per capability, each
//! owning its types. ARCHITECTURE.md at the repository's root says what each module owns, what it
//! must not know and which way dependencies point; the architecture test checks those layers.

pub mod admin;
pub mod alerts;
pub mod bench;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod dlq;
pub mod exit;
pub mod health;
pub mod http_error;
pub mod intercom;
pub mod logging;
pub mod preflight;
pub mod sandbox;
pub mod scan;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod webhooks;

/// The clock the service reads time from ([`startup::Application::build_with`] takes one).
pub use switchboard_clock as clock;
