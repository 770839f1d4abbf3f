//! Built-in alerts: the checklist's alert table, evaluated continuously over the same metrics
//! Prometheus scrapes, listed at `GET /alerts`, exposed as `switchboard_alert_active`, and sent to
//! a JSON webhook, Slack or Alertmanager.
//!
//! # How it fits together
//!
//! ```text
//! metrics::counter!(..) ─▶ PrefixLayer ─▶ AlertTapLayer ─▶ Prometheus exporter ─▶ GET /metrics
//!                                              │ (atomics)
//!                                              ▼
//!                  AlertEngine::evaluate (every evaluation_interval, or on demand)
//!                      │ pending → firing → resolved, with `for` / `keep_firing_for`
//!                      ├─▶ GET /alerts, switchboard_alert_active{alert,severity}, logs
//!                      └─▶ one bounded queue + worker per channel (never blocks the engine)
//! ```
//!
//! # Wiring (in `startup.rs`)
//!
//! `telemetry` builds the recorder stack and knows nothing of alerts; `startup` puts the tap in it:
//!
//! ```no_run
//! # async fn wire(settings: switchboard::alerts::AlertSettings, secrets: Vec<switchboard::secrets::Secret>,
//! #     shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use switchboard::{alerts, startup, telemetry};
//!
//! let metrics = startup::install_metrics()?; // once per process; later calls return the same one
//! let engine = alerts::AlertEngine::new(settings, Arc::new(switchboard::clock::MonotonicClock::new()), metrics.tap())?
//!     .with_channel_secrets(&secrets); // `LoadedSecrets::alert_secrets` of the configuration
//! let routes = axum::Router::new()
//!     .merge(telemetry::metrics_router(metrics.handle()))
//!     .merge(alerts::router(engine.clone()));
//! tokio::spawn(engine.run(shutdown));
//! # let _ = routes; Ok(()) }
//! ```
//!
//! The tap lives in the process-wide recorder, so every engine in a process sees every metric of
//! that process, as Prometheus would. Tests that need isolation build their own tap and recorder
//! and set it with `metrics::set_default_local_recorder`:
//!
//! ```
//! use switchboard::{alerts, telemetry};
//!
//! let tap = alerts::AlertTapLayer::new(); // give it to `AlertEngine::new` with a manual clock
//! let (recorder, handle) = telemetry::build_recorder(&tap);
//! let _guard = metrics::set_default_local_recorder(&recorder);
//! metrics::counter!(telemetry::names::DEAD_LETTERS, "destination" => "crm").increment(1);
//! assert!(handle.render().contains("switchboard_dead_letters_total"));
//! ```

mod engine;
mod export;
mod notify;
mod rules;
mod settings;
mod tap;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json};
use axum::routing::get;

pub use engine::{AlertEngine, AlertState, AlertStatus, AlertsError, AlertsView};
pub use export::{export_prometheus, rule_metrics};
pub use rules::{RuleId, RuleParams, Severity};
pub use settings::{
    AlertSettings, ChannelKind, ChannelSettings, ChannelUrl, MAX_WINDOW, NotifySettings, RuleOverride,
};
pub use tap::{AlertTap, AlertTapLayer};

/// `GET /alerts`: every enabled rule with its state (see [`AlertsView`]).
pub fn router(engine: AlertEngine) -> Router {
    Router::new().route("/alerts", get(list)).with_state(engine)
}

async fn list(State(engine): State<AlertEngine>) -> impl IntoResponse {
    Json(engine.snapshot())
}

/// RFC 3339 in UTC with milliseconds, as Alertmanager and the JSON APIs expect.
pub(crate) fn format_time(t: SystemTime) -> String {
    let millis = unix_millis(t);
    let nanos = i128::from(millis) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// Milliseconds since the Unix epoch (0 before it).
pub(crate) fn unix_millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub(crate) fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

pub(crate) fn rfc3339_opt<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format_time(*t)),
        None => s.serialize_none(),
    }
}
