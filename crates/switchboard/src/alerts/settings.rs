//! `[alerts]`: thresholds, hysteresis, evaluation and notification channels.
//!
//! Every rule has its own table (`[alerts.intercom_unreachable]`, ...) whose missing keys take
//! that rule's defaults, the seed checklist's thresholds.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::rules::{DEFAULTS, RuleId, RuleParams, Severity};
use crate::secrets::{Fingerprint, SecretRef, SecretSlot};

/// The longest window a rule may look back over (the engine keeps samples that far).
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// The `[alerts]` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Evaluate the built-in rules at all.
    pub enabled: bool,
    /// How often the rules are evaluated.
    #[serde(with = "humantime_serde")]
    pub evaluation_interval: Duration,
    /// How often a firing alert is sent to Alertmanager again (it expires alerts not re-sent).
    #[serde(with = "humantime_serde")]
    pub resend_interval: Duration,
    /// Retries and queueing of notifications.
    pub notify: NotifySettings,
    /// Where notifications go (`[[alerts.channels]]`).
    pub channels: Vec<ChannelSettings>,
    /// IntercomUnreachable: 5xx answers per window.
    pub intercom_unreachable: WindowRule<0>,
    /// IntercomAuthFailure: 401 answers per window.
    pub intercom_auth_failure: WindowRule<1>,
    /// IntercomRateLimited: 429 answers per window.
    pub intercom_rate_limited: WindowRule<2>,
    /// IntercomHighLatency (P2): P95 latency in seconds.
    pub intercom_high_latency: WindowRule<3>,
    /// IntercomHighLatency (warning): P95 latency in seconds.
    pub intercom_high_latency_warning: WindowRule<4>,
    /// IntercomErrorRate: failed share of requests (0–1).
    pub intercom_error_rate: ErrorRateRule,
    /// RateLimitBudgetHigh: used share of the rate limit (0–1).
    pub rate_limit_budget_high: GaugeRule<6>,
    /// WebhookDeliveryFailures: failed delivery attempts per window.
    pub webhook_delivery_failures: WindowRule<7>,
    /// WebhookSignatureFailures: verification failures per window.
    pub webhook_signature_failures: WindowRule<8>,
    /// DeadLettersPresent: dead-letter depth.
    pub dead_letters_present: GaugeRule<9>,
    /// IntercomStatusDegraded: status indicator level (2 major, 3 critical).
    pub intercom_status_degraded: GaugeRule<10>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            enabled: true,
            evaluation_interval: Duration::from_secs(5),
            resend_interval: Duration::from_secs(60),
            notify: NotifySettings::default(),
            channels: Vec::new(),
            intercom_unreachable: WindowRule::default(),
            intercom_auth_failure: WindowRule::default(),
            intercom_rate_limited: WindowRule::default(),
            intercom_high_latency: WindowRule::default(),
            intercom_high_latency_warning: WindowRule::default(),
            intercom_error_rate: ErrorRateRule::default(),
            rate_limit_budget_high: GaugeRule::default(),
            webhook_delivery_failures: WindowRule::default(),
            webhook_signature_failures: WindowRule::default(),
            dead_letters_present: GaugeRule::default(),
            intercom_status_degraded: GaugeRule::default(),
        }
    }
}

/// A rule that counts or measures over a sliding window; `R` picks its defaults, so a table that
/// sets only `threshold` keeps that rule's window and hysteresis.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRule<const R: usize> {
    /// Evaluate this rule.
    pub enabled: bool,
    /// Its severity.
    pub severity: Severity,
    /// Fires when the value exceeds this.
    pub threshold: f64,
    /// How far back the value looks.
    pub window: Duration,
    /// How long the condition must hold before the alert fires (pending until then); `for`.
    pub pending_for: Duration,
    /// How long the condition must stay clear before the alert resolves.
    pub keep_firing_for: Duration,
}

impl<const R: usize> Default for WindowRule<R> {
    fn default() -> Self {
        let d = DEFAULTS[R];
        WindowRule {
            enabled: true,
            severity: d.severity,
            threshold: d.threshold,
            window: d.window,
            pending_for: d.pending_for,
            keep_firing_for: d.keep_firing_for,
        }
    }
}

// Serde's derive does not take const generics, so the rule tables go through these shapes.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct WindowRuleToml {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(default, with = "humantime_serde::option", skip_serializing_if = "Option::is_none")]
    window: Option<Duration>,
    #[serde(
        default,
        rename = "for",
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pending_for: Option<Duration>,
    #[serde(default, with = "humantime_serde::option", skip_serializing_if = "Option::is_none")]
    keep_firing_for: Option<Duration>,
}

impl<'de, const R: usize> Deserialize<'de> for WindowRule<R> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = WindowRuleToml::deserialize(deserializer)?;
        let d = Self::default();
        Ok(WindowRule {
            enabled: raw.enabled.unwrap_or(d.enabled),
            severity: raw.severity.unwrap_or(d.severity),
            threshold: raw.threshold.unwrap_or(d.threshold),
            window: raw.window.unwrap_or(d.window),
            pending_for: raw.pending_for.unwrap_or(d.pending_for),
            keep_firing_for: raw.keep_firing_for.unwrap_or(d.keep_firing_for),
        })
    }
}

impl<const R: usize> Serialize for WindowRule<R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WindowRuleToml {
            enabled: Some(self.enabled),
            severity: Some(self.severity),
            threshold: Some(self.threshold),
            window: Some(self.window),
            pending_for: Some(self.pending_for),
            keep_firing_for: Some(self.keep_firing_for),
        }
        .serialize(serializer)
    }
}

/// A rule over a gauge's current value; `R` picks its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GaugeRule<const R: usize> {
    /// Evaluate this rule.
    pub enabled: bool,
    /// Its severity.
    pub severity: Severity,
    /// The threshold (see each rule for the comparison).
    pub threshold: f64,
    /// How long the condition must hold before the alert fires (pending until then); `for`.
    pub pending_for: Duration,
    /// How long the condition must stay clear before the alert resolves.
    pub keep_firing_for: Duration,
}

impl<const R: usize> Default for GaugeRule<R> {
    fn default() -> Self {
        let d = DEFAULTS[R];
        GaugeRule {
            enabled: true,
            severity: d.severity,
            threshold: d.threshold,
            pending_for: d.pending_for,
            keep_firing_for: d.keep_firing_for,
        }
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GaugeRuleToml {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(
        default,
        rename = "for",
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pending_for: Option<Duration>,
    #[serde(default, with = "humantime_serde::option", skip_serializing_if = "Option::is_none")]
    keep_firing_for: Option<Duration>,
}

impl<'de, const R: usize> Deserialize<'de> for GaugeRule<R> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = GaugeRuleToml::deserialize(deserializer)?;
        let d = Self::default();
        Ok(GaugeRule {
            enabled: raw.enabled.unwrap_or(d.enabled),
            severity: raw.severity.unwrap_or(d.severity),
            threshold: raw.threshold.unwrap_or(d.threshold),
            pending_for: raw.pending_for.unwrap_or(d.pending_for),
            keep_firing_for: raw.keep_firing_for.unwrap_or(d.keep_firing_for),
        })
    }
}

impl<const R: usize> Serialize for GaugeRule<R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        GaugeRuleToml {
            enabled: Some(self.enabled),
            severity: Some(self.severity),
            threshold: Some(self.threshold),
            pending_for: Some(self.pending_for),
            keep_firing_for: Some(self.keep_firing_for),
        }
        .serialize(serializer)
    }
}

/// IntercomErrorRate: a ratio, which needs enough requests to mean anything.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorRateRule {
    /// Evaluate this rule.
    pub enabled: bool,
    /// Its severity.
    pub severity: Severity,
    /// Fires when the failed share (0–1) exceeds this.
    pub threshold: f64,
    /// How far back the ratio looks.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Fewer requests than this in the window never fire (one failure of two is not a trend).
    pub min_requests: u64,
    /// How long the condition must hold before the alert fires (pending until then).
    #[serde(rename = "for", with = "humantime_serde")]
    pub pending_for: Duration,
    /// How long the condition must stay clear before the alert resolves.
    #[serde(with = "humantime_serde")]
    pub keep_firing_for: Duration,
}

const ERROR_RATE: usize = 5;

impl Default for ErrorRateRule {
    fn default() -> Self {
        let d = DEFAULTS[ERROR_RATE];
        ErrorRateRule {
            enabled: true,
            severity: d.severity,
            threshold: d.threshold,
            window: d.window,
            min_requests: d.min_requests,
            pending_for: d.pending_for,
            keep_firing_for: d.keep_firing_for,
        }
    }
}

/// `[alerts.notify]`: how notifications are sent and retried.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// How long one send may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The first retry delay after a failed send; it doubles per failure.
    #[serde(with = "humantime_serde")]
    pub backoff: Duration,
    /// The longest retry delay.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Notifications kept per channel while it is failing; the oldest is dropped beyond this.
    pub queue_capacity: usize,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            queue_capacity: 1000,
        }
    }
}

/// What a channel speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A generic JSON webhook (signed like deliveries when a secret is set).
    Webhook,
    /// A Slack-compatible incoming webhook (`{"text": ...}`).
    Slack,
    /// Alertmanager's API (`POST /api/v2/alerts`).
    Alertmanager,
}

impl ChannelKind {
    /// As written in config.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Alertmanager => "alertmanager",
        }
    }
}

/// One `[[alerts.channels]]` entry.
///
/// `secret` is a secret reference (`file:`, `exec:`, `env:`): for `webhook` the signing key
/// (Standard Webhooks headers, as on deliveries), for `alertmanager` a bearer token, for `slack`
/// the incoming-webhook URL itself (Slack's URL is a credential; then `url` is left out).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettings {
    /// The channel's protocol.
    pub kind: ChannelKind,
    /// Where to send; Alertmanager's base URL (`/api/v2/alerts` is appended).
    #[serde(default)]
    pub url: Option<ChannelUrl>,
    /// A secret reference; see the type's docs for what it means per kind.
    #[serde(default)]
    pub secret: Option<String>,
}

impl ChannelSettings {
    /// A channel posting to `url` without a secret.
    pub fn new(kind: ChannelKind, url: &str) -> Self {
        ChannelSettings { kind, url: Some(ChannelUrl(url.to_owned())), secret: None }
    }
}

/// A channel URL. It may carry a credential (Slack's does), so `Debug` and `Serialize` show only
/// its scheme and host with a fingerprint of the whole.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ChannelUrl(pub String);

impl ChannelUrl {
    /// The URL as configured. Keep it out of logs and messages: use [`ChannelUrl::redacted`].
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `https://hooks.slack.com/… (sha256:1a2b3c4d)`.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

/// A URL shown as its scheme and host and a fingerprint of the whole.
pub(crate) fn redact_url(url: &str) -> String {
    let shown = match url::Url::parse(url) {
        Ok(parsed) => {
            format!("{}://{}/…", parsed.scheme(), parsed.host_str().unwrap_or(""))
        }
        Err(_) => "(not a URL)".to_owned(),
    };
    format!("{shown} ({})", Fingerprint::of(url))
}

impl fmt::Debug for ChannelUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelUrl({})", self.redacted())
    }
}

impl Serialize for ChannelUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl AlertSettings {
    /// Every rule with its settings, in the checklist's order.
    pub fn rules(&self) -> Vec<RuleParams> {
        fn window<const R: usize>(id: RuleId, r: &WindowRule<R>) -> RuleParams {
            RuleParams {
                id,
                enabled: r.enabled,
                severity: r.severity,
                threshold: r.threshold,
                window: r.window,
                pending_for: r.pending_for,
                keep_firing_for: r.keep_firing_for,
                min_requests: 0,
            }
        }
        fn gauge<const R: usize>(id: RuleId, r: &GaugeRule<R>) -> RuleParams {
            RuleParams {
                id,
                enabled: r.enabled,
                severity: r.severity,
                threshold: r.threshold,
                window: Duration::ZERO,
                pending_for: r.pending_for,
                keep_firing_for: r.keep_firing_for,
                min_requests: 0,
            }
        }
        let e = &self.intercom_error_rate;
        vec![
            window(RuleId::IntercomUnreachable, &self.intercom_unreachable),
            window(RuleId::IntercomAuthFailure, &self.intercom_auth_failure),
            window(RuleId::IntercomRateLimited, &self.intercom_rate_limited),
            window(RuleId::IntercomHighLatency, &self.intercom_high_latency),
            window(RuleId::IntercomHighLatencyWarning, &self.intercom_high_latency_warning),
            RuleParams {
                id: RuleId::IntercomErrorRate,
                enabled: e.enabled,
                severity: e.severity,
                threshold: e.threshold,
                window: e.window,
                pending_for: e.pending_for,
                keep_firing_for: e.keep_firing_for,
                min_requests: e.min_requests,
            },
            gauge(RuleId::RateLimitBudgetHigh, &self.rate_limit_budget_high),
            window(RuleId::WebhookDeliveryFailures, &self.webhook_delivery_failures),
            window(RuleId::WebhookSignatureFailures, &self.webhook_signature_failures),
            gauge(RuleId::DeadLettersPresent, &self.dead_letters_present),
            gauge(RuleId::IntercomStatusDegraded, &self.intercom_status_degraded),
        ]
    }

    /// The secret references of the channels, keyed `alerts.channels[i].secret`, for the config
    /// loader to resolve (pass the loaded secrets to `AlertEngine::with_channel_secrets`).
    pub fn secret_refs(&self) -> Vec<(String, SecretRef)> {
        self.channels
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let reference = SecretRef::parse(c.secret.as_deref()?).ok()?;
                Some((SecretSlot::AlertChannelSecret(i).to_string(), reference))
            })
            .collect()
    }

    /// Every problem, as (key, message with the fix); empty when valid.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut issues = Vec::new();
        let mut push = |key: String, message: String| issues.push((key, message));
        if self.evaluation_interval < Duration::from_millis(100) || self.evaluation_interval > MAX_WINDOW {
            push(
                "alerts.evaluation_interval".into(),
                "must be between 100ms and 1h; the default \"5s\" suits most deployments".into(),
            );
        }
        if self.resend_interval < Duration::from_secs(1) {
            push(
                "alerts.resend_interval".into(),
                "must be at least 1s; Alertmanager expects firing alerts again about every minute (\"1m\")"
                    .into(),
            );
        }
        let n = &self.notify;
        if n.timeout.is_zero() {
            push("alerts.notify.timeout".into(), "must be above zero; write one like \"10s\"".into());
        }
        if n.backoff.is_zero() {
            push("alerts.notify.backoff".into(), "must be above zero; write one like \"1s\"".into());
        }
        if n.max_backoff < n.backoff {
            push(
                "alerts.notify.max_backoff".into(),
                format!(
                    "must be at least alerts.notify.backoff ({}); raise it, e.g. \"5m\"",
                    humantime::format_duration(n.backoff)
                ),
            );
        }
        if n.queue_capacity == 0 {
            push(
                "alerts.notify.queue_capacity".into(),
                "must be at least 1; the default 1000 keeps about a day of notifications".into(),
            );
        }
        let rules = self.rules();
        for rule in &rules {
            validate_rule(rule, self.evaluation_interval, &mut push);
        }
        let p2 = &self.intercom_high_latency;
        let warning = &self.intercom_high_latency_warning;
        if p2.enabled && warning.enabled && warning.threshold >= p2.threshold {
            push(
                "alerts.intercom_high_latency_warning.threshold".into(),
                format!(
                    "must be below alerts.intercom_high_latency.threshold ({}s): the warning is the early level; \
                     lower it or set enabled = false",
                    p2.threshold
                ),
            );
        }
        for (i, channel) in self.channels.iter().enumerate() {
            validate_channel(i, channel, &mut push);
        }
        issues
    }
}

fn validate_rule(rule: &RuleParams, interval: Duration, push: &mut impl FnMut(String, String)) {
    let key = |field: &str| format!("alerts.{}.{field}", rule.id.key());
    let t = rule.threshold;
    let range = match rule.id {
        RuleId::IntercomErrorRate | RuleId::RateLimitBudgetHigh => {
            Some((0.0, 1.0, "a share between 0 and 1, e.g. 0.05 for 5%"))
        }
        RuleId::IntercomStatusDegraded => Some((1.0, 3.0, "a level: 1 minor, 2 major, 3 critical")),
        _ => None,
    };
    match range {
        _ if !t.is_finite() => push(key("threshold"), "must be a finite number".into()),
        Some((low, high, what)) if t < low || t > high => {
            push(key("threshold"), format!("must be {what} (got {t})"));
        }
        None if t < 0.0 => push(key("threshold"), format!("must be zero or more (got {t})")),
        _ => {}
    }
    if rule.id.has_window() && (rule.window < interval || rule.window > MAX_WINDOW) {
        push(
            key("window"),
            format!(
                "must be between alerts.evaluation_interval ({}) and 1h; write one like \"5m\"",
                humantime::format_duration(interval)
            ),
        );
    }
    for (field, d) in [("for", rule.pending_for), ("keep_firing_for", rule.keep_firing_for)] {
        if d > Duration::from_secs(24 * 3600) {
            push(key(field), "must be at most 24h; write one like \"5m\"".into());
        }
    }
}

fn validate_channel(i: usize, channel: &ChannelSettings, push: &mut impl FnMut(String, String)) {
    let key = |field: &str| format!("alerts.channels[{i}].{field}");
    if let Some(secret) = &channel.secret
        && let Err(e) = SecretRef::parse(secret)
    {
        push(key("secret"), e.to_string());
    }
    let slack_url_in_secret = channel.kind == ChannelKind::Slack && channel.secret.is_some();
    match (&channel.url, slack_url_in_secret) {
        (Some(_), true) => push(
            key("url"),
            "a slack channel takes its URL from `secret` when one is set; remove `url` (keeping the webhook URL \
             in the secret manager is the safer choice)"
                .into(),
        ),
        (None, false) => push(
            key("url"),
            format!(
                "is missing; set the {} URL{}",
                channel.kind.as_str(),
                if channel.kind == ChannelKind::Slack {
                    ", or better, secret = \"file:/run/secrets/slack-webhook-url\""
                } else {
                    ""
                }
            ),
        ),
        (Some(url), false) => {
            if let Err(message) = check_url(url.expose()) {
                push(key("url"), message);
            }
        }
        (None, true) => {}
    }
}

/// Checks a channel URL; the message never repeats the URL (it may hold a credential).
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(_) => Err("must be an http:// or https:// URL with a host".into()),
        Err(e) => Err(format!("is not a URL ({e}); write one like https://alerts.example.com/hook")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seed_thresholds_and_valid() {
        let s = AlertSettings::default();
        assert!(s.validate().is_empty(), "{:?}", s.validate());
        let rules = s.rules();
        let get = |id: RuleId| rules.iter().find(|r| r.id == id).unwrap().clone();
        assert_eq!(get(RuleId::IntercomUnreachable).threshold, 10.0);
        assert_eq!(get(RuleId::IntercomUnreachable).window, Duration::from_secs(60));
        assert_eq!(get(RuleId::IntercomUnreachable).severity, Severity::P1);
        assert_eq!(get(RuleId::IntercomAuthFailure).threshold, 0.0);
        assert_eq!(get(RuleId::IntercomRateLimited).threshold, 5.0);
        assert_eq!(get(RuleId::IntercomHighLatency).threshold, 3.0);
        assert_eq!(get(RuleId::IntercomHighLatencyWarning).threshold, 2.0);
        assert_eq!(get(RuleId::IntercomHighLatencyWarning).severity, Severity::Warning);
        assert_eq!(get(RuleId::IntercomErrorRate).threshold, 0.05);
        assert_eq!(get(RuleId::IntercomErrorRate).window, Duration::from_secs(300));
        assert_eq!(get(RuleId::RateLimitBudgetHigh).threshold, 0.8);
        assert_eq!(get(RuleId::WebhookSignatureFailures).threshold, 10.0);
        assert_eq!(get(RuleId::DeadLettersPresent).severity, Severity::P3);
        assert_eq!(get(RuleId::IntercomStatusDegraded).threshold, 2.0);
    }

    #[test]
    fn a_partial_rule_table_keeps_that_rules_other_defaults() {
        let s: AlertSettings = toml::from_str(
            r#"
            evaluation_interval = "10s"
            [intercom_rate_limited]
            threshold = 20
            [[channels]]
            kind = "slack"
            secret = "env:SLACK_URL"
            "#,
        )
        .unwrap();
        assert_eq!(s.intercom_rate_limited.threshold, 20.0);
        assert_eq!(s.intercom_rate_limited.window, Duration::from_secs(60));
        assert_eq!(s.intercom_rate_limited.severity, Severity::P2);
        assert_eq!(s.intercom_unreachable, WindowRule::<0>::default());
        assert_eq!(s.evaluation_interval, Duration::from_secs(10));
        assert!(s.validate().is_empty(), "{:?}", s.validate());
        assert_eq!(s.secret_refs().len(), 1);
        assert_eq!(s.secret_refs()[0].0, "alerts.channels[0].secret");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<AlertSettings>("[intercom_unreachable]\nthreshhold = 3\n").unwrap_err();
        assert!(err.to_string().contains("threshhold"), "{err}");
        assert!(toml::from_str::<AlertSettings>("[dead_letters_present]\nwindow = \"1m\"\n").is_err());
    }

    #[test]
    fn invalid_values_name_their_key_and_the_fix() {
        let mut s = AlertSettings::default();
        s.intercom_error_rate.threshold = 5.0;
        s.intercom_unreachable.window = Duration::from_secs(2 * 3600);
        s.intercom_high_latency_warning.threshold = 4.0;
        s.notify.queue_capacity = 0;
        s.channels = vec![
            ChannelSettings::new(ChannelKind::Webhook, "ftp://example.com/x"),
            ChannelSettings { kind: ChannelKind::Alertmanager, url: None, secret: Some("hunter2".into()) },
        ];
        let issues = s.validate();
        let keys: Vec<&str> = issues.iter().map(|(k, _)| k.as_str()).collect();
        for expected in [
            "alerts.intercom_error_rate.threshold",
            "alerts.intercom_unreachable.window",
            "alerts.intercom_high_latency_warning.threshold",
            "alerts.notify.queue_capacity",
            "alerts.channels[0].url",
            "alerts.channels[1].secret",
            "alerts.channels[1].url",
        ] {
            assert!(keys.contains(&expected), "{expected} missing from {issues:?}");
        }
        assert!(issues.iter().all(|(_, m)| !m.contains("hunter2")));
    }

    #[test]
    fn channel_urls_never_show_in_debug_or_serialization() {
        let secret_url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        let s = AlertSettings {
            channels: vec![ChannelSettings::new(ChannelKind::Slack, secret_url)],
            ..AlertSettings::default()
        };
        let debug = format!("{s:?}");
        let rendered = toml::to_string(&s).unwrap();
        for shown in [&debug, &rendered] {
            assert!(!shown.contains("XXXXSECRET"), "{shown}");
            assert!(shown.contains("https://hooks.slack.com/…"), "{shown}");
            assert!(shown.contains("sha256:"), "{shown}");
        }
    }
}
