//! Built-in alert rules: each fires and resolves with hysteresis when driven through the real
//! metrics path (the `metrics` macros, or the real Intercom client against the simulator, into a
//! recorder built with the prefix and tap layers) on a manual clock; each channel format reaches a
//! test receiver; a failing receiver is retried and blocks nothing; `/alerts` lists every rule.
//!
//! Every engine here records into a recorder of its own, set on the test's current-thread runtime,
//! so the process-wide one that in-process services share never reaches these assertions.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use switchboard::alerts::{
    AlertEngine, AlertSettings, AlertState, AlertTapLayer, AlertsView, ChannelKind, ChannelSettings, RuleId,
    RuleParams, Severity,
};
use switchboard::clock::{Clock, ManualClock};
use switchboard::delivery::signing;
use switchboard::secrets::Secret;
use switchboard::telemetry;
use tokio::sync::{Notify, oneshot};

use crate::harness::{DESTINATION_SECRET, Receiver, serve};

const T0: u64 = 1_700_000_000;
const STEP: Duration = Duration::from_secs(5);
/// Enough 5 s steps for the longest default window plus hysteresis, many times over.
const MAX_STEPS: usize = 1000;
const AM_TOKEN: &str = "am-token-for-tests";

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
            webhook: Receiver::start().await.0,
            slack: Receiver::start().await.0,
            alertmanager: Receiver::start().await.0,
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
                ..ChannelSettings::new(ChannelKind::Alertmanager, &self.alertmanager.url(""))
            },
        ]
    }

    fn secrets(&self) -> Vec<Secret> {
        vec![
            Secret::generated("alerts.channels[0].secret", DESTINATION_SECRET),
            Secret::generated("alerts.channels[1].secret", &self.slack.url("/services/T000/B000/XXXX")),
            Secret::generated("alerts.channels[2].secret", AM_TOKEN),
        ]
    }

    /// Checks the firing (or resolved) notification of `rule` in all three formats.
    async fn expect(&self, rule: &RuleParams, firing: bool, at: SystemTime) {
        let (name, key, severity) = (rule.id.alert_name(), rule.id.key(), rule.severity.as_str());
        let state = if firing { "firing" } else { "resolved" };

        let hook = self
            .webhook
            .next("webhook notification", |r| {
                r.json["alert"]["rule"] == key && r.json["alert"]["state"] == state
            })
            .await;
        assert_eq!(hook.path, "/hooks/alerts");
        assert_eq!(hook.json["type"], format!("alert.{state}"));
        let alert = &hook.json["alert"];
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
        let expected =
            signing::sign(&signing::signing_key(DESTINATION_SECRET).unwrap(), &id, timestamp, &hook.body);
        assert_eq!(header("webhook-signature"), expected);

        let slack_prefix = format!("[{severity}] {name} {state}");
        let slack = self
            .slack
            .next("Slack notification", |r| {
                r.json["text"].as_str().is_some_and(|t| t.contains(&slack_prefix))
            })
            .await;
        assert_eq!(slack.path, "/services/T000/B000/XXXX");
        assert!(slack.json["blocks"].as_array().is_some_and(|b| !b.is_empty()));

        let am = self
            .alertmanager
            .next("Alertmanager alert", |r| {
                let alert = &r.json[0];
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
        let alert = &am.json[0];
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
    let channels = Channels::start().await;
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

pub(super) fn intercom_request(status: &str, n: u64) {
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
    let (webhook, _) = Receiver::start().await;
    webhook.script(&[(503, None), (503, None)]);
    webhook.hold_first(release.clone());
    let (slack, _) = Receiver::start().await;
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
        .next("Slack firing", |r| r.json["text"].as_str().unwrap().contains("DeadLettersPresent firing"))
        .await;
    metrics::gauge!("dead_letter_depth").set(0.0);
    rig.clock.advance(STEP);
    assert_eq!(state_of(&rig.engine.evaluate(), RuleId::DeadLettersPresent), AlertState::Resolved);
    slack
        .next("Slack resolved", |r| r.json["text"].as_str().unwrap().contains("DeadLettersPresent resolved"))
        .await;
    assert_eq!(webhook.received().len(), 1, "the held request is still the only one");

    release.notify_one();
    let firing = webhook.next("webhook firing after retries", |_| true).await;
    assert_eq!(firing.json["type"], "alert.firing");
    let resolved = webhook.next("webhook resolved", |_| true).await;
    assert_eq!(resolved.json["type"], "alert.resolved");
    assert_eq!(webhook.received().len(), 4, "two failures, then the two notifications in order");
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
    let addr = serve(switchboard::alerts::router(rig.engine.clone())).await;
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
