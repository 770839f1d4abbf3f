//! intercom-sim's integration tests, as one binary (one link instead of one per file): the
//! simulator started in-process and driven over real HTTP on ephemeral ports.
//!
//! - [`api`]: every endpoint, success and error paths.
//! - [`conformance`]: every response validated against Intercom's OpenAPI description, with the
//!   validator in [`openapi`].
//! - [`faults`]: faults on demand.
//! - [`ratelimit`]: rate-limit windows on the manual clock.
//! - [`webhooks`]: signed deliveries to a recording receiver.
//! - [`support`]: the one harness they share.
//!
//! Tests run concurrently in this one process, so none may install process-wide state (a global
//! recorder or subscriber, environment variables, the current directory).
#![allow(clippy::expect_used, reason = "test helpers fail loudly, naming what they expected")]

mod api;
mod conformance;
mod faults;
mod openapi;
mod ratelimit;
mod support;
mod webhooks;
