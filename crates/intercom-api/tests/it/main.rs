//! intercom-api's integration tests, as one binary (one link instead of one per file): the client
//! against an in-process simulator, over real HTTP on ephemeral ports.
//!
//! - [`cache`]: the contact cache, counted at the simulator.
//! - [`errors`]: every error kind, produced by a real request.
//! - [`metrics`]: what the client records through the `metrics` facade.
//! - [`retries`]: 429 storms, 503 bursts, what is never resent, token rotation.
//! - [`streaming`]: 10,000 items through every pagination style.
//! - [`validation`]: search queries and custom attributes checked before sending.
//! - [`support`]: the one harness they share.
//!
//! Tests run concurrently in this one process, so none may install process-wide state (a global
//! metrics recorder, environment variables, the current directory).
#![allow(clippy::expect_used, reason = "test helpers fail loudly, naming what they expected")]

mod cache;
mod errors;
mod metrics;
mod retries;
mod streaming;
mod support;
mod validation;
