//! The metrics pipeline: one process-wide `metrics` recorder that exports Prometheus text at
//! `GET /metrics` and feeds the built-in alerts.
//!
//! Code records unprefixed names through the `metrics` macros, always by a [`names`] constant
//! (`webhooks_ingested_total`, and the `intercom-api` client's `intercom_api_*`, whose constants
//! that crate exports). The recorder is a stack of metrics-util layers:
//!
//! ```text
//! metrics::counter!(..) → PrefixLayer("switchboard") → <a layer in between> → PrometheusRecorder
//! ```
//!
//! so every exported name starts with `switchboard_`. This module builds the stack around any
//! layer ([`build_recorder`]) and knows nothing of what sits in between: `startup` puts the alert
//! tap there (`startup::install_metrics`), so the alert engine sees exactly what Prometheus sees.
//! [`names`] and [`METRICS`] (every metric with its type, labels and meaning) are defined by one
//! table below; `docs/metrics.md` documents the same list and a test keeps the two in step.

use std::thread;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics::Recorder;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use metrics_util::layers::{Layer, PrefixLayer, Stack};

/// What every exported metric name starts with (`switchboard_`).
pub const PREFIX: &str = "switchboard";

/// Histogram buckets (seconds) of every histogram: from a 1 ms webhook ack up to Intercom's 30 s
/// timeout, with 2 s and 3 s as bounds so the latency alerts' thresholds fall on bucket edges.
pub const SECONDS_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0];

/// How often histogram samples are folded into their buckets (the exporter leaves it to us).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A metric's type in Prometheus terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (`_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in [`SECONDS_BUCKETS`] (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl MetricKind {
    /// The lowercase Prometheus name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric the service exports.
#[derive(Debug, Clone, Copy)]
pub struct MetricDoc {
    /// The name as recorded (without [`PREFIX`]).
    pub name: &'static str,
    /// Its type.
    pub kind: MetricKind,
    /// Its label names (never ids or e-mails).
    pub labels: &'static [&'static str],
    /// What it measures (the `# HELP` line).
    pub help: &'static str,
}

impl MetricDoc {
    /// The exported name: `switchboard_<name>`.
    pub fn exported(&self) -> String {
        format!("{PREFIX}_{}", self.name)
    }
}

/// Defines [`names`] and [`METRICS`] from one table, so that each metric's name, type, labels and
/// help are written once: the two cannot drift apart. The help is also the constant's doc.
macro_rules! metrics {
    ($(
        $(#[doc = $note:expr])*
        $name:ident($value:expr) {
            kind: $kind:ident,
            labels: [$($label:literal),*],
            help: $help:literal $(,)?
        }
    )*) => {
        /// Every metric name (unprefixed), for code that records or matches one: producers record by
        /// these constants and the alert rules compare against them, so a typo cannot silently
        /// disable an alert. The `intercom_api_*` names that the client records are
        /// `intercom_api::telemetry`'s constants.
        pub mod names {
            $(#[doc = $help] $(#[doc = ""] #[doc = $note])* pub const $name: &str = $value;)*
        }

        /// Every metric the service exports, by its unprefixed name.
        pub const METRICS: &[MetricDoc] = &[$(MetricDoc {
            name: names::$name,
            kind: MetricKind::$kind,
            labels: &[$($label),*],
            help: $help,
        }),*];
    };
}

metrics! {
    WEBHOOKS_INGESTED("webhooks_ingested_total") {
        kind: Counter,
        labels: ["topic", "result"],
        help: "Verified webhooks by topic and result (stored, duplicate, store_error, timeout).",
    }
    WEBHOOKS_REFUSED("webhooks_refused_total") {
        kind: Counter,
        labels: ["reason"],
        help: "Webhooks refused before storing, by reason (too_large, timeout, invalid_json, missing_fields, too_old, too_new).",
    }
    ADMIN_AUTH_FAILURES("admin_auth_failures_total") {
        kind: Counter,
        labels: ["result"],
        help: "Admin API requests refused for their key, by result (unauthorized: a wrong or missing key; throttled: 429 after repeated failures from the address).",
    }
    HTTP_CONNECTIONS_SHED("http_connections_shed_total") {
        kind: Counter,
        labels: ["listener", "action"],
        help: "Connections over server.max_connections, by listener (public, internal) and action (answered 503, closed).",
    }
    WEBHOOK_VERIFICATION_FAILURES("webhook_verification_failures_total") {
        kind: Counter,
        labels: ["reason"],
        help: "Webhooks whose X-Hub-Signature did not verify, by reason.",
    }
    WEBHOOK_ACK_SECONDS("webhook_ack_seconds") {
        kind: Histogram,
        labels: [],
        help: "Time from receiving a webhook to answering it (Intercom gives up after 5 s).",
    }
    WEBHOOK_QUEUE_DEPTH("webhook_queue_depth") {
        kind: Gauge,
        labels: [],
        help: "Deliveries waiting to be attempted.",
    }
    WEBHOOK_OLDEST_PENDING_SECONDS("webhook_oldest_pending_seconds") {
        kind: Gauge,
        labels: [],
        help: "Age of the oldest delivery still waiting, in seconds.",
    }
    DELIVERY_ATTEMPTS("delivery_attempts_total") {
        kind: Counter,
        labels: ["destination", "result"],
        help: "Delivery attempts to destinations by result (delivered, failed, gone).",
    }
    DELIVERY_SECONDS("delivery_seconds") {
        kind: Histogram,
        labels: ["destination"],
        help: "Duration of one delivery attempt.",
    }
    DEAD_LETTERS("dead_letters_total") {
        kind: Counter,
        labels: ["destination"],
        help: "Deliveries dead-lettered after their last attempt.",
    }
    LEASES_LOST("leases_lost_total") {
        kind: Counter,
        labels: ["destination"],
        help: "Delivery leases lost while an attempt was running (the delivery was claimed again).",
    }
    RESULTS_REFUSED("results_refused_total") {
        kind: Counter,
        labels: ["destination"],
        help: "Attempt results not recorded because a newer claim of the delivery exists.",
    }
    DEAD_LETTER_DEPTH("dead_letter_depth") {
        kind: Gauge,
        labels: [],
        help: "Dead-lettered deliveries waiting for a replay.",
    }
    DISABLED_DESTINATIONS("disabled_destinations") {
        kind: Gauge,
        labels: [],
        help: "Destinations disabled after answering 410 Gone.",
    }
    INTERCOM_STATUS_INDICATOR("intercom_status_indicator") {
        kind: Gauge,
        labels: [],
        help: "Intercom's status page indicator: 0 none, 1 minor, 2 major, 3 critical, -1 unreadable.",
    }
    /// Recorded by the intercom-api client.
    INTERCOM_REQUESTS(intercom_api::telemetry::REQUESTS) {
        kind: Counter,
        labels: ["endpoint", "method", "status"],
        help: "Requests to Intercom's API by endpoint template, method and status (HTTP status, timeout, transport).",
    }
    /// Recorded by the intercom-api client.
    INTERCOM_REQUEST_DURATION(intercom_api::telemetry::DURATION) {
        kind: Histogram,
        labels: ["endpoint", "method"],
        help: "Duration of one request attempt to Intercom's API.",
    }
    /// Recorded by the intercom-api client.
    INTERCOM_RETRIES(intercom_api::telemetry::RETRIES) {
        kind: Counter,
        labels: ["endpoint", "method", "reason"],
        help: "Retries of Intercom requests by reason (the HTTP status, or the error kind such as timeout).",
    }
    /// Recorded by the intercom-api client.
    INTERCOM_RATE_LIMIT_REMAINING(intercom_api::telemetry::RATE_LIMIT_REMAINING) {
        kind: Gauge,
        labels: [],
        help: "X-RateLimit-Remaining of Intercom's last answer.",
    }
    /// Recorded by the health probe.
    INTERCOM_RATE_LIMIT_LIMIT("intercom_api_rate_limit_limit") {
        kind: Gauge,
        labels: [],
        help: "X-RateLimit-Limit of Intercom's last answer.",
    }
    /// Recorded by the intercom-api client.
    INTERCOM_CACHE(intercom_api::telemetry::CACHE) {
        kind: Counter,
        labels: ["cache", "result"],
        help: "Client cache lookups by cache and result (hit, miss).",
    }
    /// Recorded by the intercom-api pacer.
    INTERCOM_PACER_WAIT_SECONDS(intercom_api::telemetry::PACER_WAIT) {
        kind: Histogram,
        labels: [],
        help: "Time a request waited for the pacer to stay under the rate limit.",
    }
    ALERT_ACTIVE("alert_active") {
        kind: Gauge,
        labels: ["alert", "severity"],
        help: "1 while a built-in alert is firing, else 0.",
    }
}

/// The documentation entry of an exported (prefixed) or recorded name, if it is one we export.
/// Histogram series (`_bucket`, `_sum`, `_count`) resolve to their histogram.
pub fn find_exported(name: &str) -> Option<&'static MetricDoc> {
    let base = name.strip_prefix(PREFIX).and_then(|n| n.strip_prefix('_'))?;
    METRICS.iter().find(|m| m.name == base).or_else(|| {
        ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| base.strip_suffix(suffix))
            .find_map(|b| METRICS.iter().find(|m| m.name == b && m.kind == MetricKind::Histogram))
    })
}

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// Something else installed a global `metrics` recorder first.
    #[error(
        "another metrics recorder is already installed in this process; install switchboard's \
         (startup::install_metrics) before anything records a metric"
    )]
    ForeignRecorder,
}

/// Builds the layered recorder `PrefixLayer → between → Prometheus` without installing it, with
/// the handle that renders what it recorded. Tests use it with `metrics::set_default_local_recorder`
/// for a pipeline of their own.
pub fn build_recorder<L>(between: &L) -> (impl Recorder + Send + Sync + 'static, PrometheusHandle)
where
    L: Layer<PrometheusRecorder>,
    L::Output: Recorder + Send + Sync + 'static,
{
    // `set_buckets` only fails on an empty list; ours is a non-empty constant.
    let builder = PrometheusBuilder::new();
    let builder = match builder.set_buckets(SECONDS_BUCKETS) {
        Ok(with_buckets) => with_buckets,
        Err(_) => PrometheusBuilder::new(),
    };
    let prometheus = builder.build_recorder();
    let handle = prometheus.handle();
    let stack = Stack::new(between.layer(prometheus)).push(PrefixLayer::new(PREFIX));
    (stack, handle)
}

/// Installs `recorder` as the process-wide one, registers every metric's `# HELP` and keeps
/// `handle`'s histograms folded. A process can do this once; the caller keeps the result.
pub fn install_global(
    recorder: impl Recorder + Send + Sync + 'static,
    handle: &PrometheusHandle,
) -> Result<(), TelemetryError> {
    metrics::set_global_recorder(recorder).map_err(|_| TelemetryError::ForeignRecorder)?;
    describe_all();
    let upkeep = handle.clone();
    // A plain thread: upkeep is a few microseconds of locking and must run with or without a runtime.
    let spawned = thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
        loop {
            thread::sleep(UPKEEP_EVERY);
            upkeep.run_upkeep();
        }
    });
    if let Err(error) = spawned {
        // Without upkeep, histograms are still folded in at every scrape; memory grows only
        // between scrapes, so this is worth a warning, not a failed start.
        tracing::warn!(%error, "cannot start the metrics upkeep thread; histograms are folded at scrape time");
    }
    Ok(())
}

/// Registers the `# HELP` text of every metric with the current recorder.
pub fn describe_all() {
    for metric in METRICS {
        let help = metric.help;
        match metric.kind {
            MetricKind::Counter => metrics::describe_counter!(metric.name, help),
            MetricKind::Gauge => metrics::describe_gauge!(metric.name, help),
            MetricKind::Histogram => {
                metrics::describe_histogram!(metric.name, metrics::Unit::Seconds, help)
            }
        }
    }
}

/// `GET /metrics` in Prometheus text format.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new().route("/metrics", get(render)).with_state(handle)
}

async fn render(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer that adds nothing, for the stack without the alert tap.
    struct PassThrough;

    impl<R> Layer<R> for PassThrough {
        type Output = R;

        fn layer(&self, inner: R) -> R {
            inner
        }
    }

    #[test]
    fn names_are_prefixed_and_histograms_have_buckets() {
        let (recorder, handle) = build_recorder(&PassThrough);
        metrics::with_local_recorder(&recorder, || {
            describe_all();
            metrics::counter!(names::WEBHOOKS_INGESTED, "topic" => "contact.created", "result" => "stored")
                .increment(2);
            metrics::histogram!(names::INTERCOM_REQUEST_DURATION, "endpoint" => "/me", "method" => "GET")
                .record(2.5);
        });
        let text = handle.render();
        assert!(
            text.contains(
                r#"switchboard_webhooks_ingested_total{topic="contact.created",result="stored"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains("# HELP switchboard_webhooks_ingested_total Verified webhooks"), "{text}");
        assert!(
            text.contains(
                r#"switchboard_intercom_api_request_duration_seconds_bucket{endpoint="/me",method="GET",le="3"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"switchboard_intercom_api_request_duration_seconds_bucket{endpoint="/me",method="GET",le="2"} 0"#
            ),
            "{text}"
        );
    }

    #[test]
    fn every_metric_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for metric in METRICS {
            assert!(seen.insert(metric.name), "{} is in the table twice", metric.name);
        }
    }

    #[test]
    fn every_documented_name_resolves() {
        for m in METRICS {
            assert_eq!(find_exported(&m.exported()).map(|d| d.name), Some(m.name));
        }
        assert_eq!(
            find_exported("switchboard_intercom_api_request_duration_seconds_bucket").map(|d| d.name),
            Some("intercom_api_request_duration_seconds")
        );
        assert!(find_exported("switchboard_webhooks_ingested_total_bucket").is_none());
        assert!(find_exported("intercom_api_requests_total").is_none());
    }
}
