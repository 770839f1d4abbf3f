//! `[alerts]`: thresholds, hysteresis, evaluation and notification channels.
//!
//! Every rule has its own table (`[alerts.intercom_unreachable]`, ...), read into a
//! [`RuleOverride`] whose missing keys take that rule's defaults ([`RuleId::defaults`]), the seed
//! checklist's thresholds.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use humantime_serde::Serde as Human;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::rules::{RuleId, RuleParams, Severity};
use crate::secrets::{Fingerprint, SecretRef};

/// The longest window a rule may look back over (the engine keeps samples that far).
pub const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// The `[alerts]` section.
///
/// It (de)serializes as the config writes it: its own keys, then one table per rule named by
/// [`RuleId::key`]. Serialized, every rule's table shows all its effective settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    /// Evaluate the built-in rules at all.
    pub enabled: bool,
    /// How often the rules are evaluated.
    pub evaluation_interval: Duration,
    /// How often a firing alert is sent to Alertmanager again (it expires alerts not re-sent).
    pub resend_interval: Duration,
    /// Retries and queueing of notifications.
    pub notify: NotifySettings,
    /// Where notifications go (`[[alerts.channels]]`).
    pub channels: Vec<ChannelSettings>,
    /// The rule tables the config sets, by rule; a rule without one runs on its defaults. Read a
    /// rule's effective settings with [`AlertSettings::rule`].
    pub overrides: BTreeMap<RuleId, RuleOverride>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            enabled: true,
            evaluation_interval: Duration::from_secs(5),
            resend_interval: Duration::from_secs(60),
            notify: NotifySettings::default(),
            channels: Vec::new(),
            overrides: BTreeMap::new(),
        }
    }
}

/// One rule's table (`[alerts.intercom_unreachable]`, ...): every key is optional, and a key left
/// out keeps that rule's default.
///
/// `window` belongs only to rules that look back over one ([`RuleId::has_window`]) and
/// `min_requests` only to those that need enough requests ([`RuleId::has_min_requests`]): the
/// config loader refuses either key elsewhere, naming it, and [`RuleOverride::apply`] ignores one
/// set there in code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RuleOverride {
    /// Evaluate this rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Its severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The threshold the value is compared with (see each rule for the comparison).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// How far back the value looks.
    #[serde(serialize_with = "humantime_serde::option::serialize", skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
    /// Fewer requests than this in the window never fire (one failure of two is not a trend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_requests: Option<u64>,
    /// How long the condition must hold before the alert fires (pending until then); `for`.
    #[serde(
        rename = "for",
        serialize_with = "humantime_serde::option::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub pending_for: Option<Duration>,
    /// How long the condition must stay clear before the alert resolves.
    #[serde(serialize_with = "humantime_serde::option::serialize", skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<Duration>,
}

impl RuleOverride {
    /// `rule` with every key this table sets in place of its value.
    pub fn apply(&self, rule: RuleParams) -> RuleParams {
        let id = rule.id;
        RuleParams {
            id,
            enabled: self.enabled.unwrap_or(rule.enabled),
            severity: self.severity.unwrap_or(rule.severity),
            threshold: self.threshold.unwrap_or(rule.threshold),
            window: self.window.filter(|_| id.has_window()).unwrap_or(rule.window),
            pending_for: self.pending_for.unwrap_or(rule.pending_for),
            keep_firing_for: self.keep_firing_for.unwrap_or(rule.keep_firing_for),
            min_requests: self.min_requests.filter(|_| id.has_min_requests()).unwrap_or(rule.min_requests),
        }
    }
}

impl From<&RuleParams> for RuleOverride {
    /// The table setting every key the rule has to its value: how `config check` shows a rule.
    fn from(rule: &RuleParams) -> Self {
        RuleOverride {
            enabled: Some(rule.enabled),
            severity: Some(rule.severity),
            threshold: Some(rule.threshold),
            window: Some(rule.window).filter(|_| rule.id.has_window()),
            min_requests: Some(rule.min_requests).filter(|_| rule.id.has_min_requests()),
            pending_for: Some(rule.pending_for),
            keep_firing_for: Some(rule.keep_firing_for),
        }
    }
}

/// The keys of `[alerts]` that are not rule tables.
const OWN_KEYS: [&str; 5] = ["enabled", "evaluation_interval", "resend_interval", "notify", "channels"];

/// The keys of `[alerts]`: its own settings, then one table per rule (built from [`RuleId::key`]
/// so the two never drift; serde's "unknown field" error lists them).
static ALERTS_KEYS: [&str; OWN_KEYS.len() + RuleId::ALL.len()] = {
    let mut keys = [""; OWN_KEYS.len() + RuleId::ALL.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = if i < OWN_KEYS.len() { OWN_KEYS[i] } else { RuleId::ALL[i - OWN_KEYS.len()].key() };
        i += 1;
    }
    keys
};

/// The keys of rule `id`'s table, in the order `config check` shows them.
fn rule_keys(id: RuleId) -> &'static [&'static str] {
    match (id.has_window(), id.has_min_requests()) {
        (true, true) => {
            &["enabled", "severity", "threshold", "window", "min_requests", "for", "keep_firing_for"]
        }
        (true, false) => &["enabled", "severity", "threshold", "window", "for", "keep_firing_for"],
        (false, _) => &["enabled", "severity", "threshold", "for", "keep_firing_for"],
    }
}

impl Serialize for AlertSettings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("AlertSettings", ALERTS_KEYS.len())?;
        out.serialize_field("enabled", &self.enabled)?;
        out.serialize_field("evaluation_interval", &Human::from(self.evaluation_interval))?;
        out.serialize_field("resend_interval", &Human::from(self.resend_interval))?;
        out.serialize_field("notify", &self.notify)?;
        out.serialize_field("channels", &self.channels)?;
        for id in RuleId::ALL {
            out.serialize_field(id.key(), &RuleOverride::from(&self.rule(id)))?;
        }
        out.end()
    }
}

// By hand rather than derived: which keys a rule's table takes depends on the rule, and a key it
// does not take must be refused while its name is being read, so the error names it in full
// (`alerts.dead_letters_present.window: unknown field ...`) as a derived `deny_unknown_fields` would.
impl<'de> Deserialize<'de> for AlertSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("AlertSettings", &ALERTS_KEYS, AlertsTable)
    }
}

struct AlertsTable;

impl<'de> Visitor<'de> for AlertsTable {
    type Value = AlertSettings;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct AlertSettings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AlertSettings, A::Error> {
        let mut settings = AlertSettings::default();
        let mut seen = Vec::new();
        while let Some(key) = next_key(&mut map, &ALERTS_KEYS, &mut seen)? {
            match key {
                "enabled" => settings.enabled = map.next_value()?,
                "evaluation_interval" => {
                    settings.evaluation_interval = map.next_value::<Human<Duration>>()?.into_inner();
                }
                "resend_interval" => {
                    settings.resend_interval = map.next_value::<Human<Duration>>()?.into_inner()
                }
                "notify" => settings.notify = map.next_value()?,
                "channels" => settings.channels = map.next_value()?,
                rule => {
                    let id = RuleId::ALL
                        .into_iter()
                        .find(|id| id.key() == rule)
                        .ok_or_else(|| de::Error::unknown_field(rule, &ALERTS_KEYS))?;
                    settings.overrides.insert(id, map.next_value_seed(RuleTable(id))?);
                }
            }
        }
        Ok(settings)
    }
}

/// Reads rule `.0`'s table.
struct RuleTable(RuleId);

impl<'de> DeserializeSeed<'de> for RuleTable {
    type Value = RuleOverride;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RuleOverride, D::Error> {
        deserializer.deserialize_struct("RuleOverride", rule_keys(self.0), self)
    }
}

impl<'de> Visitor<'de> for RuleTable {
    type Value = RuleOverride;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a table of the rule's settings ({})", rule_keys(self.0).join(", "))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RuleOverride, A::Error> {
        let keys = rule_keys(self.0);
        let mut rule = RuleOverride::default();
        let mut seen = Vec::new();
        while let Some(key) = next_key(&mut map, keys, &mut seen)? {
            match key {
                "enabled" => rule.enabled = map.next_value()?,
                "severity" => rule.severity = map.next_value()?,
                "threshold" => rule.threshold = map.next_value()?,
                "window" => rule.window = map.next_value::<Human<Option<Duration>>>()?.into_inner(),
                "min_requests" => rule.min_requests = map.next_value()?,
                "for" => rule.pending_for = map.next_value::<Human<Option<Duration>>>()?.into_inner(),
                "keep_firing_for" => {
                    rule.keep_firing_for = map.next_value::<Human<Option<Duration>>>()?.into_inner();
                }
                other => return Err(de::Error::unknown_field(other, keys)),
            }
        }
        Ok(rule)
    }
}

/// The next key of a table that takes `keys`; each may appear once.
fn next_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    keys: &'static [&'static str],
    seen: &mut Vec<&'static str>,
) -> Result<Option<&'static str>, A::Error> {
    let Some(key) = map.next_key_seed(Key(keys))? else { return Ok(None) };
    if seen.contains(&key) {
        return Err(de::Error::duplicate_field(key));
    }
    seen.push(key);
    Ok(Some(key))
}

/// A key that must be one of `.0`, refused otherwise with serde's "unknown field" error, raised
/// while the key is read so that the config loader reports it under its full path.
struct Key(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'static str, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<&'static str, E> {
        self.0.iter().copied().find(|k| *k == key).ok_or_else(|| E::unknown_field(key, self.0))
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
    /// Rule `id` as it runs: its defaults with its table, if the config has one, applied.
    pub fn rule(&self, id: RuleId) -> RuleParams {
        let defaults = id.defaults();
        match self.overrides.get(&id) {
            Some(table) => table.apply(defaults),
            None => defaults,
        }
    }

    /// Every rule as it runs, in the checklist's order.
    pub fn rules(&self) -> Vec<RuleParams> {
        RuleId::ALL.into_iter().map(|id| self.rule(id)).collect()
    }

    /// Rule `id`'s table, added empty if the config has none: set a key on it to change that rule.
    pub fn override_mut(&mut self, id: RuleId) -> &mut RuleOverride {
        self.overrides.entry(id).or_default()
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
        // Resends are multiplied and backoffs doubled: far larger values would overflow when an
        // alert fires or a send fails, long after start.
        for (key, value, max, max_text, default) in [
            ("alerts.resend_interval", self.resend_interval, 24 * 3600, "24h", "1m"),
            ("alerts.notify.timeout", n.timeout, 600, "10m", "10s"),
            ("alerts.notify.backoff", n.backoff, 3600, "1h", "1s"),
            ("alerts.notify.max_backoff", n.max_backoff, 24 * 3600, "24h", "5m"),
        ] {
            if value > Duration::from_secs(max) {
                push(key.into(), format!("must be at most \"{max_text}\"; the default is \"{default}\""));
            }
        }
        if n.queue_capacity == 0 {
            push(
                "alerts.notify.queue_capacity".into(),
                "must be at least 1; the default 1000 keeps about a day of notifications".into(),
            );
        }
        for rule in self.rules() {
            validate_rule(&rule, self.evaluation_interval, &mut push);
        }
        let p2 = self.rule(RuleId::IntercomHighLatency);
        let warning = self.rule(RuleId::IntercomHighLatencyWarning);
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
        let limited = s.rule(RuleId::IntercomRateLimited);
        assert_eq!(limited.threshold, 20.0);
        assert_eq!(limited, RuleParams { threshold: 20.0, ..RuleId::IntercomRateLimited.defaults() });
        assert_eq!(limited.window, Duration::from_secs(60));
        assert_eq!(limited.severity, Severity::P2);
        assert_eq!(s.rule(RuleId::IntercomUnreachable), RuleId::IntercomUnreachable.defaults());
        assert_eq!(s.evaluation_interval, Duration::from_secs(10));
        assert!(s.validate().is_empty(), "{:?}", s.validate());
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<AlertSettings>("[intercom_unreachable]\nthreshhold = 3\n").unwrap_err();
        assert!(err.to_string().contains("threshhold"), "{err}");
        assert!(toml::from_str::<AlertSettings>("[dead_letters_present]\nwindow = \"1m\"\n").is_err());
    }

    fn unknown_field(toml_text: &str) -> String {
        match toml::from_str::<AlertSettings>(toml_text) {
            Ok(s) => panic!("accepted {toml_text:?} as {s:?}"),
            Err(e) => e.message().to_owned(),
        }
    }

    #[test]
    fn a_key_the_rule_does_not_have_is_refused_by_name_with_the_keys_it_has() {
        let window = "`enabled`, `severity`, `threshold`, `window`, `for`, `keep_firing_for`";
        let gauge = "`enabled`, `severity`, `threshold`, `for`, `keep_firing_for`";
        let error_rate =
            "`enabled`, `severity`, `threshold`, `window`, `min_requests`, `for`, `keep_firing_for`";
        for (table, expected) in [
            (
                "[dead_letters_present]\nwindow = \"1m\"",
                format!("unknown field `window`, expected one of {gauge}"),
            ),
            (
                "[rate_limit_budget_high]\nmin_requests = 3",
                format!("unknown field `min_requests`, expected one of {gauge}"),
            ),
            (
                "[intercom_unreachable]\nmin_requests = 3",
                format!("unknown field `min_requests`, expected one of {window}"),
            ),
            (
                "[intercom_error_rate]\nwindoww = \"1m\"",
                format!("unknown field `windoww`, expected one of {error_rate}"),
            ),
            (
                "[intercom_status_degraded]\nthreshold = 3\nwindow = \"1m\"",
                format!("unknown field `window`, expected one of {gauge}"),
            ),
        ] {
            assert_eq!(unknown_field(table), expected, "{table}");
        }
        let top = unknown_field("evaluaton_interval = \"1s\"");
        assert!(top.starts_with("unknown field `evaluaton_interval`, expected one of `enabled`, `evaluation_interval`, `resend_interval`, `notify`, `channels`, `intercom_unreachable`,"), "{top}");
        assert!(top.ends_with("`dead_letters_present`, `intercom_status_degraded`"), "{top}");
        let rule = unknown_field("[intercom_down]\nthreshold = 1");
        assert!(rule.starts_with("unknown field `intercom_down`, expected one of `enabled`,"), "{rule}");
    }

    #[test]
    fn a_table_setting_only_the_threshold_keeps_every_other_default() {
        for id in RuleId::ALL {
            let s: AlertSettings = toml::from_str(&format!("[{}]\nthreshold = 7.5\n", id.key())).unwrap();
            assert_eq!(s.overrides[&id], RuleOverride { threshold: Some(7.5), ..RuleOverride::default() });
            assert_eq!(s.rule(id), RuleParams { threshold: 7.5, ..id.defaults() }, "{id:?}");
            for other in RuleId::ALL.into_iter().filter(|o| *o != id) {
                assert_eq!(s.rule(other), other.defaults(), "{other:?} changed by {id:?}'s table");
            }
        }
    }

    #[test]
    fn every_rules_defaults_round_trip_through_its_table() {
        let defaults = AlertSettings::default();
        let text = toml::to_string(&defaults).unwrap();
        let read: AlertSettings = toml::from_str(&text).unwrap();
        for id in RuleId::ALL {
            let table = RuleOverride::from(&id.defaults());
            assert_eq!(table.apply(id.defaults()), id.defaults(), "{id:?}");
            // Written with exactly the keys the rule takes, and read back to the same rule.
            let written = toml::Value::try_from(table).unwrap();
            let keys: Vec<&str> = written.as_table().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, rule_keys(id), "{id:?}");
            assert_eq!(read.rule(id), id.defaults(), "{id:?}");
            assert_eq!(read.overrides[&id], table, "{id:?}");
        }
        assert_eq!(toml::to_string(&read).unwrap(), text);
    }

    #[test]
    fn a_table_sets_every_key_it_names() {
        let s: AlertSettings = toml::from_str(
            r#"
            [intercom_error_rate]
            enabled = false
            severity = "P1"
            threshold = 0.2
            window = "90s"
            min_requests = 7
            for = "2m"
            keep_firing_for = "0s"
            "#,
        )
        .unwrap();
        let expected = RuleParams {
            id: RuleId::IntercomErrorRate,
            enabled: false,
            severity: Severity::P1,
            threshold: 0.2,
            window: Duration::from_secs(90),
            pending_for: Duration::from_secs(120),
            keep_firing_for: Duration::ZERO,
            min_requests: 7,
        };
        assert_eq!(s.rule(RuleId::IntercomErrorRate), expected);
    }

    #[test]
    fn keys_a_rule_lacks_set_in_code_change_nothing() {
        let mut s = AlertSettings::default();
        *s.override_mut(RuleId::DeadLettersPresent) = RuleOverride {
            window: Some(Duration::from_secs(60)),
            min_requests: Some(5),
            ..RuleOverride::default()
        };
        assert_eq!(s.rule(RuleId::DeadLettersPresent), RuleId::DeadLettersPresent.defaults());
        let shown = toml::Value::try_from(&s).unwrap();
        assert!(shown["dead_letters_present"].get("window").is_none(), "{shown}");
    }

    #[test]
    fn invalid_values_name_their_key_and_the_fix() {
        let mut s = AlertSettings::default();
        s.override_mut(RuleId::IntercomErrorRate).threshold = Some(5.0);
        s.override_mut(RuleId::IntercomUnreachable).window = Some(Duration::from_secs(2 * 3600));
        s.override_mut(RuleId::IntercomHighLatencyWarning).threshold = Some(4.0);
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
