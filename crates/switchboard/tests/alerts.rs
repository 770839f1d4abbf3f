#![allow(clippy::unwrap_used)]
//! Built-in alerts: each rule fires and resolves with hysteresis when driven through the real
//! metrics path (the `metrics` macros, or the real Intercom client against the simulator, into a
//! recorder built with the prefix and tap layers) on a manual clock; each channel format reaches a
//! test receiver; a failing receiver is retried and blocks nothing; `/alerts`, `/metrics`, the
//! exported Prometheus rules and the Grafana dashboard stay consistent with the code.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;
use switchboard::alerts::{
    AlertEngine, AlertSettings, AlertState, AlertTapLayer, AlertsView, ChannelKind, ChannelSettings, Clock,
    ManualClock, RuleId, RuleOverride, RuleParams, Severity, export_prometheus, rule_metrics,
};
use switchboard::delivery::signing;
use switchboard::secrets::Secret;
use switchboard::telemetry;
use tokio::sync::{Notify, mpsc, oneshot};

const T0: u64 = 1_700_000_000;
const STEP: Duration = Duration::from_secs(5);
/// Enough 5 s steps for the longest default window plus hysteresis, many times over.
const MAX_STEPS: usize = 1000;
const WEBHOOK_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const AM_TOKEN: &str = "am-token-for-tests";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---- a test receiver ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    raw: Bytes,
    body: Value,
}

#[derive(Clone)]
struct ReceiverState {
    tx: mpsc::UnboundedSender<Received>,
    hits: Arc<AtomicUsize>,
    fail_first: usize,
    hold_first: Option<Arc<Notify>>,
}

/// An HTTP server that records every request; it can answer 503 to the first requests, and hold
/// the very first one open until released.
struct Receiver {
    base: String,
    rx: mpsc::UnboundedReceiver<Received>,
    hits: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail_first: usize, hold_first: Option<Arc<Notify>>) -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let hits = Arc::new(AtomicUsize::new(0));
        let state = ReceiverState { tx, hits: hits.clone(), fail_first, hold_first };
        let app = Router::new().fallback(receive).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { base, rx, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next request answered 2xx that `matches`, skipping others (waits for it; the timeout
    /// only stops a broken test from hanging).
    async fn next(&mut self, what: &str, matches: impl Fn(&Received) -> bool) -> Received {
        loop {
            let received = tokio::time::timeout(Duration::from_secs(30), self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} arrived"))
                .unwrap();
            if matches(&received) {
                return received;
            }
        }
    }
}

async fn receive(State(state): State<ReceiverState>, uri: Uri, headers: HeaderMap, raw: Bytes) -> StatusCode {
    let n = state.hits.fetch_add(1, Ordering::SeqCst);
    if n == 0
        && let Some(hold) = &state.hold_first
    {
        hold.notified().await;
    }
    if n < state.fail_first {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let _ = state.tx.send(Received { path: uri.path().to_owned(), headers, raw, body });
    StatusCode::OK
}

// ---- an engine on a manual clock with its own recorder ---------------------------------------------

struct Rig {
    clock: Arc<ManualClock>,
    engine: AlertEngine,
    handle: metrics_exporter_prometheus::PrometheusHandle,
}

/// An engine with its own tap and layered recorder, set as this thread's recorder for as long as
/// the returned guard's recorder lives (tests run on the current-thread runtime, so the code under
/// test records into it too).
fn rig(settings: AlertSettings, secrets: &[Secret]) -> (Rig, Box<dyn metrics::Recorder>) {
    let tap = AlertTapLayer::new();
    let (recorder, handle) = telemetry::build_recorder(&tap);
    let clock = Arc::new(ManualClock::at_secs(T0));
    let engine = AlertEngine::new(settings, clock.clone(), &tap).unwrap().with_channel_secrets(secrets);
    (Rig { clock, engine, handle }, Box::new(recorder))
}

fn state_of(view: &AlertsView, rule: RuleId) -> AlertState {
    view.alerts.iter().find(|a| a.rule == rule.key()).unwrap().state
}

fn params(engine: &AlertEngine, rule: RuleId) -> RuleParams {
    engine.rules().iter().find(|r| r.id == rule).unwrap().clone()
}

fn since(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap()
}

fn active_gauge(handle: &metrics_exporter_prometheus::PrometheusHandle, rule: &RuleParams) -> Option<f64> {
    let series = format!(
        r#"switchboard_alert_active{{alert="{}",severity="{}"}} "#,
        rule.id.alert_name(),
        rule.severity.as_str()
    );
    let text = handle.render();
    text.lines().find_map(|l| l.strip_prefix(&series)).map(|v| v.trim().parse().unwrap())
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t).format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn parse_time(text: &str) -> SystemTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap().into()
}

/// The three channel kinds, each with a secret: a signed webhook, Slack with its URL in the
/// secret, Alertmanager with a bearer token.
struct Channels {
    webhook: Receiver,
    slack: Receiver,
    alertmanager: Receiver,
}

impl Channels {
    async fn start() -> Channels {
        Channels {
            webhook: Receiver::start(0, None).await,
            slack: Receiver::start(0, None).await,
            alertmanager: Receiver::start(0, None).await,
        }
    }

    fn settings(&self) -> Vec<ChannelSettings> {
        vec![
            ChannelSettings {
                secret: Some("env:ALERT_WEBHOOK_KEY".into()),
                ..ChannelSettings::new(ChannelKind::Webhook, &self.webhook.url("/hooks/alerts"))
            },
            ChannelSettings {
                kind: ChannelKind::Slack,
                url: None,
                secret: Some("env:SLACK_WEBHOOK_URL".into()),
            },
            ChannelSettings {
                secret: Some("env:AM_TOKEN".into()),
                ..ChannelSettings::new(ChannelKind::Alertmanager, &self.alertmanager.base)
            },
        ]
    }

    fn secrets(&self) -> Vec<Secret> {
        vec![
            Secret::generated("alerts.channels[0].secret", WEBHOOK_KEY),
            Secret::generated("alerts.channels[1].secret", &self.slack.url("/services/T000/B000/XXXX")),
            Secret::generated("alerts.channels[2].secret", AM_TOKEN),
        ]
    }

    /// Checks the firing (or resolved) notification of `rule` in all three formats.
    async fn expect(&mut self, rule: &RuleParams, firing: bool, at: SystemTime) {
        let (name, key, severity) = (rule.id.alert_name(), rule.id.key(), rule.severity.as_str());
        let state = if firing { "firing" } else { "resolved" };

        let hook = self
            .webhook
            .next("webhook notification", |r| {
                r.body["alert"]["rule"] == key && r.body["alert"]["state"] == state
            })
            .await;
        assert_eq!(hook.path, "/hooks/alerts");
        assert_eq!(hook.body["type"], format!("alert.{state}"));
        let alert = &hook.body["alert"];
        assert_eq!(alert["name"], name);
        assert_eq!(alert["severity"], severity);
        assert_eq!(alert["threshold"].as_f64(), Some(rule.threshold));
        assert!(alert["value"].is_number(), "{alert}");
        assert!(alert["description"].as_str().unwrap().len() > 20);
        assert_eq!(alert["since"], rfc3339(at));
        if firing {
            assert!(alert["endsAt"].is_null());
        } else {
            assert_eq!(alert["endsAt"], rfc3339(at));
        }
        // Signed like deliveries (Standard Webhooks), so receivers can verify it.
        let header = |n: &str| hook.headers.get(n).unwrap().to_str().unwrap().to_owned();
        let id = header("webhook-id");
        let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
        let expected = signing::sign(&signing::signing_key(WEBHOOK_KEY), &id, timestamp, &hook.raw);
        assert_eq!(header("webhook-signature"), expected);

        let slack_prefix = format!("[{severity}] {name} {state}");
        let slack = self
            .slack
            .next("Slack notification", |r| {
                r.body["text"].as_str().is_some_and(|t| t.contains(&slack_prefix))
            })
            .await;
        assert_eq!(slack.path, "/services/T000/B000/XXXX");
        assert!(slack.body["blocks"].as_array().is_some_and(|b| !b.is_empty()));

        let am = self
            .alertmanager
            .next("Alertmanager alert", |r| {
                let alert = &r.body[0];
                alert["labels"]["rule"] == key
                    && if firing {
                        parse_time(alert["endsAt"].as_str().unwrap()) > at
                    } else {
                        alert["endsAt"] == rfc3339(at)
                    }
            })
            .await;
        assert_eq!(am.path, "/api/v2/alerts");
        assert_eq!(am.headers.get("authorization").unwrap(), &format!("Bearer {AM_TOKEN}"));
        let alert = &am.body[0];
        assert_eq!(alert["labels"]["alertname"], name);
        assert_eq!(alert["labels"]["severity"], severity);
        assert!(alert["annotations"]["description"].is_string());
        assert!(alert["annotations"]["summary"].as_str().unwrap().contains(name));
        assert!(parse_time(alert["startsAt"].as_str().unwrap()) <= at);
    }
}

/// Drives one rule: `bad` every step until it fires, then `good` every step until it resolves.
/// Checks pending → firing only after `for`, no flapping, resolution only after
/// `keep_firing_for`, the `alert_active` gauge, and the notifications in every channel format.
async fn scenario(rule: RuleId, bad: impl Fn(), good: impl Fn()) {
    let mut channels = Channels::start().await;
    let settings = AlertSettings { channels: channels.settings(), ..AlertSettings::default() };
    assert!(settings.validate().is_empty(), "{:?}", settings.validate());
    let (rig, recorder) = rig(settings, &channels.secrets());
    let _local = metrics::set_default_local_recorder(recorder.as_ref());
    let (stop, stopped) = oneshot::channel::<()>();
    let notifier = tokio::spawn(rig.engine.clone().run_notifications(async move {
        let _ = stopped.await;
    }));
    let p = params(&rig.engine, rule);

    assert_eq!(state_of(&rig.engine.evaluate(), rule), AlertState::Inactive);
    let mut seen = vec![AlertState::Inactive];
    let mut pending_at = None;
    let mut fired_at = None;
    for _ in 0..MAX_STEPS {
        bad();
        rig.clock.advance(STEP);
        let state = state_of(&rig.engine.evaluate(), rule);
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        if state != AlertState::Inactive && pending_at.is_none() {
            pending_at = Some(rig.clock.now());
        }
        if state == AlertState::Firing {
            fired_at = Some(rig.clock.now());
            break;
        }
    }
    let fired_at = fired_at.unwrap_or_else(|| panic!("{rule:?} never fired; states {seen:?}"));
    let waited = since(pending_at.unwrap(), fired_at);
    // On the manual clock: fires at the first evaluation once `for` has passed, not before.
    assert!(waited >= p.pending_for && waited < p.pending_for + STEP, "{rule:?} pending for {waited:?}");
    if p.pending_for.is_zero() {
        assert_eq!(seen, [AlertState::Inactive, AlertState::Firing]);
    } else {
        assert_eq!(seen, [AlertState::Inactive, AlertState::Pending, AlertState::Firing]);
    }
    assert_eq!(active_gauge(&rig.handle, &p), Some(1.0));
    channels.expect(&p, true, fired_at).await;

    // Still bad: stays firing, nothing new is sent to the webhook.
    for _ in 0..3 {
        bad();
        rig.clock.advance(STEP);
        assert_eq!(state_of(&rig.engine.evaluate(), rule), AlertState::Firing);
    }

    // The first evaluation whose value no longer meets the condition starts the clear period.
    let at_least = matches!(rule, RuleId::RateLimitBudgetHigh | RuleId::IntercomStatusDegraded);
    let holds = |v: Option<f64>| v.is_some_and(|v| if at_least { v >= p.threshold } else { v > p.threshold });
    let mut clear_at = None;
    let mut resolved_at = None;
    for _ in 0..MAX_STEPS {
        good();
        rig.clock.advance(STEP);
        let view = rig.engine.evaluate();
        let status = view.alerts.iter().find(|a| a.rule == rule.key()).unwrap();
        if !holds(status.value) && clear_at.is_none() {
            clear_at = Some(rig.clock.now());
        }
        match status.state {
            AlertState::Resolved => {
                resolved_at = Some(rig.clock.now());
                break;
            }
            state => assert_eq!(state, AlertState::Firing, "{rule:?} must not flap while clearing"),
        }
    }
    let resolved_at = resolved_at.unwrap_or_else(|| panic!("{rule:?} never resolved"));
    let calm = since(clear_at.unwrap(), resolved_at);
    assert!(
        calm >= p.keep_firing_for && calm < p.keep_firing_for + STEP,
        "{rule:?} resolved after {calm:?} of calm"
    );
    assert_eq!(active_gauge(&rig.handle, &p), Some(0.0));
    channels.expect(&p, false, resolved_at).await;
    let view = rig.engine.snapshot();
    let status = view.alerts.iter().find(|a| a.rule == rule.key()).unwrap();
    assert_eq!(status.since, resolved_at);

    let _ = stop.send(());
    notifier.await.unwrap();
}

fn intercom_request(status: &str, n: u64) {
    metrics::counter!("intercom_api_requests_total", "endpoint" => "/contacts/{id}", "method" => "GET", "status" => status.to_owned())
        .increment(n);
}

fn intercom_latency(seconds: f64, n: usize) {
    for _ in 0..n {
        intercom_request("200", 1);
        metrics::histogram!("intercom_api_request_duration_seconds", "endpoint" => "/contacts/{id}", "method" => "GET")
            .record(seconds);
    }
}

#[tokio::test]
async fn intercom_unreachable_fires_on_5xx_and_resolves() {
    scenario(RuleId::IntercomUnreachable, || intercom_request("503", 3), || intercom_request("200", 3)).await;
}

#[tokio::test]
async fn intercom_auth_failure_fires_on_any_401_and_resolves() {
    scenario(RuleId::IntercomAuthFailure, || intercom_request("401", 1), || intercom_request("200", 1)).await;
}

#[tokio::test]
async fn intercom_rate_limited_fires_on_429s_and_resolves() {
    scenario(RuleId::IntercomRateLimited, || intercom_request("429", 2), || intercom_request("200", 2)).await;
}

#[tokio::test]
async fn intercom_high_latency_fires_above_3s_and_resolves() {
    scenario(RuleId::IntercomHighLatency, || intercom_latency(4.0, 10), || intercom_latency(0.1, 10)).await;
}

#[tokio::test]
async fn intercom_high_latency_warning_fires_above_2s_and_resolves() {
    scenario(RuleId::IntercomHighLatencyWarning, || intercom_latency(2.5, 10), || intercom_latency(0.1, 10))
        .await;
}

#[tokio::test]
async fn intercom_error_rate_fires_above_5_percent_and_resolves() {
    scenario(
        RuleId::IntercomErrorRate,
        || {
            intercom_request("200", 9);
            intercom_request("timeout", 1);
        },
        || intercom_request("200", 10),
    )
    .await;
}

#[tokio::test]
async fn rate_limit_budget_fires_at_80_percent_used_and_resolves() {
    scenario(
        RuleId::RateLimitBudgetHigh,
        || {
            metrics::gauge!("intercom_api_rate_limit_limit").set(1000.0);
            metrics::gauge!("intercom_api_rate_limit_remaining").set(150.0);
        },
        || metrics::gauge!("intercom_api_rate_limit_remaining").set(900.0),
    )
    .await;
}

#[tokio::test]
async fn webhook_delivery_failures_fire_and_resolve() {
    scenario(
        RuleId::WebhookDeliveryFailures,
        || {
            metrics::counter!("delivery_attempts_total", "destination" => "crm", "result" => "failed")
                .increment(1)
        },
        || {
            metrics::counter!("delivery_attempts_total", "destination" => "crm", "result" => "delivered")
                .increment(1)
        },
    )
    .await;
}

#[tokio::test]
async fn webhook_signature_failures_fire_above_10_per_minute_and_resolve() {
    scenario(
        RuleId::WebhookSignatureFailures,
        || metrics::counter!("webhook_verification_failures_total", "reason" => "mismatch").increment(3),
        || metrics::counter!("webhooks_ingested_total", "topic" => "ping", "result" => "stored").increment(3),
    )
    .await;
}

#[tokio::test]
async fn dead_letters_present_fires_on_depth_and_resolves() {
    scenario(
        RuleId::DeadLettersPresent,
        || metrics::gauge!("dead_letter_depth").set(2.0),
        || metrics::gauge!("dead_letter_depth").set(0.0),
    )
    .await;
}

#[tokio::test]
async fn intercom_status_degraded_fires_on_major_and_resolves_on_minor() {
    scenario(
        RuleId::IntercomStatusDegraded,
        || metrics::gauge!("intercom_status_indicator").set(2.0),
        || metrics::gauge!("intercom_status_indicator").set(1.0),
    )
    .await;
}

#[test]
fn short_blips_neither_fire_nor_resolve() {
    let (rig, recorder) = rig(AlertSettings::default(), &[]);
    metrics::with_local_recorder(recorder.as_ref(), || {
        let rule = RuleId::IntercomUnreachable;
        // One burst over the threshold: pending, then back to inactive once it leaves the window,
        // without ever firing (it did not last `for`).
        intercom_request("503", 11);
        rig.clock.advance(STEP);
        assert_eq!(state_of(&rig.engine.evaluate(), rule), AlertState::Pending);
        let mut states = HashSet::new();
        for _ in 0..30 {
            rig.clock.advance(STEP);
            states.insert(state_of(&rig.engine.evaluate(), rule));
        }
        assert!(!states.contains(&AlertState::Firing));
        assert_eq!(state_of(&rig.engine.snapshot(), rule), AlertState::Inactive);

        // Firing, then one bad step during the clearing period: the countdown restarts, so it
        // resolves a full keep_firing_for after the last bad step.
        for _ in 0..20 {
            intercom_request("503", 3);
            rig.clock.advance(STEP);
            rig.engine.evaluate();
        }
        assert_eq!(state_of(&rig.engine.snapshot(), rule), AlertState::Firing);
        for _ in 0..30 {
            rig.clock.advance(STEP);
            rig.engine.evaluate();
        }
        assert_eq!(
            state_of(&rig.engine.snapshot(), rule),
            AlertState::Firing,
            "still within keep_firing_for"
        );
        intercom_request("503", 20);
        let blip = rig.clock.now();
        let mut resolved_at = None;
        for _ in 0..200 {
            rig.clock.advance(STEP);
            if state_of(&rig.engine.evaluate(), rule) == AlertState::Resolved {
                resolved_at = Some(rig.clock.now());
                break;
            }
        }
        let p = params(&rig.engine, rule);
        assert!(since(blip, resolved_at.unwrap()) >= p.keep_firing_for);
    });
}

#[test]
fn a_full_queue_drops_the_oldest_and_evaluation_never_waits() {
    let mut settings = AlertSettings::default();
    settings.notify.queue_capacity = 2;
    settings.override_mut(RuleId::DeadLettersPresent).keep_firing_for = Some(Duration::ZERO);
    // A port nobody listens on; no workers run anyway, so everything stays queued.
    settings.channels = vec![ChannelSettings::new(ChannelKind::Webhook, "http://127.0.0.1:9/alerts")];
    let (rig, recorder) = rig(settings, &[]);
    metrics::with_local_recorder(recorder.as_ref(), || {
        for round in 0..5 {
            metrics::gauge!("dead_letter_depth").set(1.0);
            rig.clock.advance(STEP);
            assert_eq!(
                state_of(&rig.engine.evaluate(), RuleId::DeadLettersPresent),
                AlertState::Firing,
                "{round}"
            );
            metrics::gauge!("dead_letter_depth").set(0.0);
            rig.clock.advance(STEP);
            assert_eq!(state_of(&rig.engine.evaluate(), RuleId::DeadLettersPresent), AlertState::Resolved);
        }
    });
    assert_eq!(rig.engine.queued_notifications(), vec![2]);
    assert_eq!(rig.engine.dropped_notifications(), vec![8]);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_backoff_and_blocks_nothing() {
    let release = Arc::new(Notify::new());
    // The webhook receiver holds its first request open, then answers 503 twice before 200.
    let mut webhook = Receiver::start(2, Some(release.clone())).await;
    let mut slack = Receiver::start(0, None).await;
    let mut settings = AlertSettings::default();
    // Long enough that the held request is never abandoned by the client while the test looks.
    settings.notify.timeout = Duration::from_secs(120);
    settings.notify.backoff = Duration::from_millis(10);
    settings.notify.max_backoff = Duration::from_millis(40);
    settings.override_mut(RuleId::DeadLettersPresent).keep_firing_for = Some(Duration::ZERO);
    settings.channels = vec![
        ChannelSettings::new(ChannelKind::Webhook, &webhook.url("/alerts")),
        ChannelSettings::new(ChannelKind::Slack, &slack.url("/slack")),
    ];
    let (rig, recorder) = rig(settings, &[]);
    let _local = metrics::set_default_local_recorder(recorder.as_ref());
    let (stop, stopped) = oneshot::channel::<()>();
    let notifier = tokio::spawn(rig.engine.clone().run_notifications(async move {
        let _ = stopped.await;
    }));

    metrics::gauge!("dead_letter_depth").set(3.0);
    rig.clock.advance(STEP);
    assert_eq!(state_of(&rig.engine.evaluate(), RuleId::DeadLettersPresent), AlertState::Firing);
    // While the webhook channel hangs, the engine keeps evaluating and Slack hears both the
    // firing and the resolution.
    slack
        .next("Slack firing", |r| r.body["text"].as_str().unwrap().contains("DeadLettersPresent firing"))
        .await;
    metrics::gauge!("dead_letter_depth").set(0.0);
    rig.clock.advance(STEP);
    assert_eq!(state_of(&rig.engine.evaluate(), RuleId::DeadLettersPresent), AlertState::Resolved);
    slack
        .next("Slack resolved", |r| r.body["text"].as_str().unwrap().contains("DeadLettersPresent resolved"))
        .await;
    assert_eq!(webhook.hits.load(Ordering::SeqCst), 1, "the held request is still the only one");

    release.notify_one();
    let firing = webhook.next("webhook firing after retries", |_| true).await;
    assert_eq!(firing.body["type"], "alert.firing");
    let resolved = webhook.next("webhook resolved", |_| true).await;
    assert_eq!(resolved.body["type"], "alert.resolved");
    assert_eq!(webhook.hits.load(Ordering::SeqCst), 4, "two failures, then the two notifications in order");
    assert_eq!(rig.engine.dropped_notifications(), vec![0, 0]);

    let _ = stop.send(());
    notifier.await.unwrap();
}

#[tokio::test]
async fn the_real_client_against_the_simulator_drives_unreachable_and_auth_failure() {
    let (rig, recorder) = rig(AlertSettings::default(), &[]);
    let _local = metrics::set_default_local_recorder(recorder.as_ref());
    let sim = intercom_sim::Simulator::start(intercom_sim::SimConfig::default()).await.unwrap();
    let retry = intercom_api::RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
        max_reset_wait: Duration::from_secs(1),
        jitter: false,
        reset_jitter: Duration::from_millis(1),
    };
    let client = intercom_api::Client::builder()
        .base_url(sim.base_url())
        .token(sim.default_app().token.clone())
        .retry(retry.clone())
        .build()
        .unwrap();

    sim.set_faults("503").unwrap();
    let mut fired = false;
    for _ in 0..40 {
        assert!(client.me().await.is_err());
        rig.clock.advance(STEP);
        if state_of(&rig.engine.evaluate(), RuleId::IntercomUnreachable) == AlertState::Firing {
            fired = true;
            break;
        }
    }
    assert!(fired, "three 503 attempts every 5 s is 36/min, above 10/min");
    let status = rig.engine.snapshot();
    let unreachable = status.alerts.iter().find(|a| a.rule == "intercom_unreachable").unwrap();
    assert!(unreachable.value.unwrap() > 10.0);

    sim.clear_faults();
    let wrong = intercom_api::Client::builder()
        .base_url(sim.base_url())
        .token("not-a-valid-token")
        .retry(retry)
        .build()
        .unwrap();
    assert!(wrong.me().await.is_err());
    rig.clock.advance(STEP);
    assert_eq!(state_of(&rig.engine.evaluate(), RuleId::IntercomAuthFailure), AlertState::Firing);
    assert!(client.me().await.is_ok(), "the simulator answers again");
    sim.shutdown().await;
}

#[tokio::test]
async fn alerts_endpoint_lists_every_rule_with_its_state() {
    let (rig, recorder) = rig(AlertSettings::default(), &[]);
    metrics::with_local_recorder(recorder.as_ref(), || {
        metrics::gauge!("dead_letter_depth").set(4.0);
        intercom_request("503", 30);
        rig.clock.advance(STEP);
        rig.engine.evaluate();
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, switchboard::alerts::router(rig.engine.clone())).await });
    let response = reqwest::get(format!("http://{addr}/alerts")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["evaluatedAt"], rfc3339(rig.clock.now()));
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 11);
    for alert in alerts {
        for field in ["name", "rule", "severity", "state", "since", "value", "threshold", "description"] {
            assert!(alert.get(field).is_some(), "{field} missing in {alert}");
        }
    }
    assert_eq!(alerts[0]["name"], "DeadLettersPresent");
    assert_eq!(alerts[0]["state"], "firing");
    assert_eq!(alerts[0]["severity"], "P3");
    assert_eq!(alerts[0]["value"], 4.0);
    assert_eq!(alerts[0]["threshold"], 0.0);
    assert_eq!(alerts[1]["name"], "IntercomUnreachable");
    assert_eq!(alerts[1]["state"], "pending");
    assert_eq!(alerts[1]["value"], 30.0);
    let latency = alerts.iter().find(|a| a["rule"] == "intercom_high_latency").unwrap();
    assert_eq!(latency["state"], "inactive");
    assert!(latency["value"].is_null(), "no requests timed yet: no data");
    assert!(alerts.iter().any(|a| a["name"] == "IntercomHighLatency" && a["severity"] == "warning"));
}

#[tokio::test]
async fn metrics_endpoint_serves_prefixed_prometheus_text() {
    let tap = AlertTapLayer::new();
    let (recorder, handle) = telemetry::build_recorder(&tap);
    metrics::with_local_recorder(&recorder, || {
        telemetry::describe_all();
        metrics::counter!("webhooks_refused_total", "reason" => "too_large").increment(1);
        intercom_request("200", 2);
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, telemetry::metrics_router(handle)).await });
    let response = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains(r#"switchboard_webhooks_refused_total{reason="too_large"} 1"#), "{text}");
    assert!(text.contains("switchboard_intercom_api_requests_total{"), "{text}");
    assert!(text.contains("# TYPE switchboard_intercom_api_requests_total counter"), "{text}");
}

#[test]
fn installing_twice_returns_the_same_pipeline() {
    let first = switchboard::startup::install_metrics().unwrap();
    let second = switchboard::startup::install_metrics().unwrap();
    metrics::counter!("contact_cache_invalidations_total").increment(1);
    for t in [first, second] {
        assert!(t.handle().render().contains("switchboard_contact_cache_invalidations_total"));
    }
}

#[test]
fn exported_rules_are_in_sync_and_promtool_accepts_them() {
    let path = repo_root().join("deploy/prometheus/switchboard-alerts.yml");
    let generated = export_prometheus(&AlertSettings::default());
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == generated,
        "deploy/prometheus/switchboard-alerts.yml is stale; regenerate it with \
         `cargo run -p switchboard -- alerts export --format prometheus > deploy/prometheus/switchboard-alerts.yml`"
    );

    let parsed: Value = serde_norway::from_str(&generated).unwrap();
    let rules = parsed["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), RuleId::ALL.len());
    let names: HashSet<&str> = rules.iter().map(|r| r["alert"].as_str().unwrap()).collect();
    for id in RuleId::ALL {
        assert!(names.contains(id.alert_name()));
    }
    assert!(
        rules
            .iter()
            .all(|r| ["P1", "P2", "P3", "warning"].contains(&r["labels"]["severity"].as_str().unwrap()))
    );

    match std::process::Command::new("promtool").arg("check").arg("rules").arg(&path).output() {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "promtool check rules failed:\n{stdout}\n{stderr}");
            assert!(stdout.contains(&format!("SUCCESS: {} rules found", RuleId::ALL.len())), "{stdout}");
            println!("promtool: {}", stdout.trim());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "promtool is not on PATH: `promtool check rules` SKIPPED (install Debian's prometheus package)"
            );
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    }
}

#[test]
fn the_export_command_prints_the_committed_rules() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["alerts", "export", "--format", "prometheus"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let committed =
        std::fs::read_to_string(repo_root().join("deploy/prometheus/switchboard-alerts.yml")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), committed);
}

/// Every `switchboard_*` name in `text`.
fn metric_names(text: &str) -> HashSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        // The bare prefix is prose ("every name starts with switchboard_"), not a name.
        .filter(|t| t.starts_with("switchboard_") && t.len() > "switchboard_".len())
        .map(str::to_owned)
        .collect()
}

fn exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn the_dashboard_reads_only_exported_metrics_and_covers_the_alerts() {
    let text = std::fs::read_to_string(repo_root().join("deploy/grafana/switchboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    assert!(dashboard["title"].is_string());
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(!all.is_empty());
    let used: HashSet<String> = all.iter().flat_map(|e| metric_names(e)).collect();
    for name in &used {
        assert!(
            telemetry::find_exported(name).is_some(),
            "the dashboard reads {name}, which is not exported"
        );
    }
    for name in rule_metrics(&AlertSettings::default()) {
        assert!(used.contains(&name), "the dashboard has no panel over {name}, which an alert reads");
    }
    assert!(used.contains("switchboard_alert_active"));
}

#[test]
fn docs_document_every_metric_and_nothing_else() {
    let docs = std::fs::read_to_string(repo_root().join("docs/metrics.md")).unwrap();
    for m in telemetry::METRICS {
        let row = format!("`{}`", m.exported());
        assert!(docs.contains(&row), "docs/metrics.md does not document {row}");
        for label in m.labels {
            assert!(docs.contains(&format!("`{label}`")), "docs/metrics.md does not mention label {label}");
        }
    }
    for name in metric_names(&docs) {
        assert!(
            telemetry::find_exported(&name).is_some(),
            "docs/metrics.md names {name}, which is not exported"
        );
    }
}

#[test]
fn severities_follow_the_checklist() {
    let rules = AlertSettings::default().rules();
    let severity = |id: RuleId| rules.iter().find(|r| r.id == id).unwrap().severity;
    assert_eq!(severity(RuleId::IntercomUnreachable), Severity::P1);
    assert_eq!(severity(RuleId::IntercomAuthFailure), Severity::P1);
    assert_eq!(severity(RuleId::IntercomRateLimited), Severity::P2);
    assert_eq!(severity(RuleId::IntercomHighLatency), Severity::P2);
    assert_eq!(severity(RuleId::IntercomHighLatencyWarning), Severity::Warning);
    assert_eq!(severity(RuleId::IntercomErrorRate), Severity::P2);
    assert_eq!(severity(RuleId::RateLimitBudgetHigh), Severity::P2);
    assert_eq!(severity(RuleId::WebhookDeliveryFailures), Severity::P3);
    assert_eq!(severity(RuleId::WebhookSignatureFailures), Severity::P2);
    assert_eq!(severity(RuleId::DeadLettersPresent), Severity::P3);
    assert_eq!(severity(RuleId::IntercomStatusDegraded), Severity::P2);
}

#[test]
fn the_export_command_uses_the_configured_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, "[alerts.intercom_unreachable]\nthreshold = 42\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["alerts", "export", "--format", "prometheus", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let rules = String::from_utf8(output.stdout).unwrap();
    assert!(rules.contains("> 42"), "{rules}");
    let committed =
        std::fs::read_to_string(repo_root().join("deploy/prometheus/switchboard-alerts.yml")).unwrap();
    assert_ne!(rules, committed);
}

#[test]
fn rule_tables_from_variables_override_only_their_keys_and_refuse_keys_the_rule_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, "[alerts.intercom_error_rate]\nthreshold = 0.1\n").unwrap();
    let export = |vars: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["alerts", "export", "--format", "prometheus", "--config"])
            .arg(&path)
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };
    // Variables are text; a rule's numbers still read from them, over the file's table.
    let output = export(&[
        ("SWITCHBOARD_ALERTS__INTERCOM_ERROR_RATE__MIN_REQUESTS", "30"),
        ("SWITCHBOARD_ALERTS__DEAD_LETTERS_PRESENT__ENABLED", "false"),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let rules = String::from_utf8(output.stdout).unwrap();
    let mut expected = AlertSettings::default();
    *expected.override_mut(RuleId::IntercomErrorRate) =
        RuleOverride { threshold: Some(0.1), min_requests: Some(30), ..RuleOverride::default() };
    expected.override_mut(RuleId::DeadLettersPresent).enabled = Some(false);
    let expected = export_prometheus(&expected);
    assert!(expected.contains(" > 0.1 and sum(increase(") && expected.contains(">= 30\""), "{expected}");
    assert!(!expected.contains("DeadLettersPresent"), "{expected}");
    assert_eq!(rules, expected);

    let output = export(&[("SWITCHBOARD_ALERTS__DEAD_LETTERS_PRESENT__WINDOW", "5m")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(
            "alerts.dead_letters_present.window: unknown field: found `window`, expected `one of `enabled`, \
             `severity`, `threshold`, `for`, `keep_firing_for``"
        ),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
