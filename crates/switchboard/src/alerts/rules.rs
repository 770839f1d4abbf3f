//! The built-in rules: the checklist's alert table, what each one measures, and its defaults.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::tap::CounterSignal;

/// How urgent an alert is: the checklist's P1–P3, and `warning` for early signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// Page someone now.
    P1,
    /// Needs attention today.
    P2,
    /// Look at it when convenient.
    P3,
    /// An early sign, below the P-level threshold.
    #[serde(rename = "warning")]
    Warning,
}

impl Severity {
    /// As written in config, labels and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One built-in rule. `IntercomHighLatencyWarning` is the early-warning level of
/// `IntercomHighLatency`: it fires under the same alert name with severity `warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// 5xx answers from Intercom.
    IntercomUnreachable,
    /// 401 answers from Intercom.
    IntercomAuthFailure,
    /// 429 answers from Intercom.
    IntercomRateLimited,
    /// P95 latency above the P2 threshold.
    IntercomHighLatency,
    /// P95 latency above the warning threshold.
    IntercomHighLatencyWarning,
    /// Share of failed requests.
    IntercomErrorRate,
    /// Share of the rate limit used.
    RateLimitBudgetHigh,
    /// Failed deliveries to destinations.
    WebhookDeliveryFailures,
    /// Webhooks failing signature verification.
    WebhookSignatureFailures,
    /// Dead letters waiting.
    DeadLettersPresent,
    /// Intercom's status page reports an incident.
    IntercomStatusDegraded,
}

/// What a rule computes from the signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expr {
    /// How much a counter grew over the window.
    Increase(CounterSignal),
    /// The 95th percentile of Intercom request latency over the window.
    LatencyP95,
    /// Failed requests / all requests over the window, given at least `min_requests`.
    ErrorRatio,
    /// `1 - remaining / limit` of the last answer.
    BudgetUsed,
    /// Dead letters waiting.
    DeadLetterDepth,
    /// The status page indicator (0–3).
    StatusIndicator,
}

/// How a value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// value > threshold
    Above,
    /// value ≥ threshold
    AtLeast,
}

impl Op {
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Above => value > threshold,
            Op::AtLeast => value >= threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Above => ">",
            Op::AtLeast => ">=",
        }
    }
}

impl RuleId {
    /// Every rule, in the order of the checklist's table.
    pub const ALL: [RuleId; 11] = [
        RuleId::IntercomUnreachable,
        RuleId::IntercomAuthFailure,
        RuleId::IntercomRateLimited,
        RuleId::IntercomHighLatency,
        RuleId::IntercomHighLatencyWarning,
        RuleId::IntercomErrorRate,
        RuleId::RateLimitBudgetHigh,
        RuleId::WebhookDeliveryFailures,
        RuleId::WebhookSignatureFailures,
        RuleId::DeadLettersPresent,
        RuleId::IntercomStatusDegraded,
    ];

    /// The alert name (shared by the two latency levels).
    pub fn alert_name(self) -> &'static str {
        match self {
            RuleId::IntercomUnreachable => "IntercomUnreachable",
            RuleId::IntercomAuthFailure => "IntercomAuthFailure",
            RuleId::IntercomRateLimited => "IntercomRateLimited",
            RuleId::IntercomHighLatency | RuleId::IntercomHighLatencyWarning => "IntercomHighLatency",
            RuleId::IntercomErrorRate => "IntercomErrorRate",
            RuleId::RateLimitBudgetHigh => "RateLimitBudgetHigh",
            RuleId::WebhookDeliveryFailures => "WebhookDeliveryFailures",
            RuleId::WebhookSignatureFailures => "WebhookSignatureFailures",
            RuleId::DeadLettersPresent => "DeadLettersPresent",
            RuleId::IntercomStatusDegraded => "IntercomStatusDegraded",
        }
    }

    /// The rule's table under `[alerts]` in the config.
    pub const fn key(self) -> &'static str {
        match self {
            RuleId::IntercomUnreachable => "intercom_unreachable",
            RuleId::IntercomAuthFailure => "intercom_auth_failure",
            RuleId::IntercomRateLimited => "intercom_rate_limited",
            RuleId::IntercomHighLatency => "intercom_high_latency",
            RuleId::IntercomHighLatencyWarning => "intercom_high_latency_warning",
            RuleId::IntercomErrorRate => "intercom_error_rate",
            RuleId::RateLimitBudgetHigh => "rate_limit_budget_high",
            RuleId::WebhookDeliveryFailures => "webhook_delivery_failures",
            RuleId::WebhookSignatureFailures => "webhook_signature_failures",
            RuleId::DeadLettersPresent => "dead_letters_present",
            RuleId::IntercomStatusDegraded => "intercom_status_degraded",
        }
    }

    pub(crate) fn expr(self) -> Expr {
        match self {
            RuleId::IntercomUnreachable => Expr::Increase(CounterSignal::Status5xx),
            RuleId::IntercomAuthFailure => Expr::Increase(CounterSignal::Status401),
            RuleId::IntercomRateLimited => Expr::Increase(CounterSignal::Status429),
            RuleId::IntercomHighLatency | RuleId::IntercomHighLatencyWarning => Expr::LatencyP95,
            RuleId::IntercomErrorRate => Expr::ErrorRatio,
            RuleId::RateLimitBudgetHigh => Expr::BudgetUsed,
            RuleId::WebhookDeliveryFailures => Expr::Increase(CounterSignal::DeliveryFailures),
            RuleId::WebhookSignatureFailures => Expr::Increase(CounterSignal::SignatureFailures),
            RuleId::DeadLettersPresent => Expr::DeadLetterDepth,
            RuleId::IntercomStatusDegraded => Expr::StatusIndicator,
        }
    }

    pub(crate) fn op(self) -> Op {
        match self {
            RuleId::RateLimitBudgetHigh | RuleId::IntercomStatusDegraded => Op::AtLeast,
            _ => Op::Above,
        }
    }

    /// Whether the rule looks back over a window (else it reads a gauge's current value).
    pub fn has_window(self) -> bool {
        !matches!(self.expr(), Expr::BudgetUsed | Expr::DeadLetterDepth | Expr::StatusIndicator)
    }

    /// Whether the rule counts only with enough requests in its window (`min_requests`).
    pub fn has_min_requests(self) -> bool {
        self.expr() == Expr::ErrorRatio
    }

    /// The rule as it runs when the config leaves its table out: the seed checklist's thresholds.
    pub fn defaults(self) -> RuleParams {
        use Severity::{P1, P2, P3, Warning};
        // (severity, threshold, window in seconds, `for` in seconds); gauge rules have no window.
        let (severity, threshold, window, pending_for) = match self {
            RuleId::IntercomUnreachable => (P1, 10.0, 60, 60),
            // Any 401 fires at once: every request is failing, waiting only delays the rotation.
            RuleId::IntercomAuthFailure => (P1, 0.0, 60, 0),
            RuleId::IntercomRateLimited => (P2, 5.0, 60, 60),
            RuleId::IntercomHighLatency => (P2, 3.0, 300, 60),
            RuleId::IntercomHighLatencyWarning => (Warning, 2.0, 300, 60),
            RuleId::IntercomErrorRate => (P2, 0.05, 300, 60),
            RuleId::RateLimitBudgetHigh => (P2, 0.8, 0, 60),
            RuleId::WebhookDeliveryFailures => (P3, 0.0, 300, 0),
            RuleId::WebhookSignatureFailures => (P2, 10.0, 60, 60),
            RuleId::DeadLettersPresent => (P3, 0.0, 0, 0),
            RuleId::IntercomStatusDegraded => (P2, 2.0, 0, 0),
        };
        RuleParams {
            id: self,
            enabled: true,
            severity,
            threshold,
            window: Duration::from_secs(window),
            pending_for: Duration::from_secs(pending_for),
            // Five minutes of calm before resolving: long enough that a bursty failure does not
            // page, resolve and page again.
            keep_firing_for: Duration::from_secs(300),
            // One failure of two is not a trend.
            min_requests: if self.has_min_requests() { 20 } else { 0 },
        }
    }

    /// What to do when it fires (the checklist's "Action" column, made concrete).
    fn action(self) -> &'static str {
        match self {
            RuleId::IntercomUnreachable => {
                "Check https://www.intercomstatus.com and turn outbound calls off (intercom.enabled = false) if it persists."
            }
            RuleId::IntercomAuthFailure => {
                "Rotate the access token in the secret manager and verify it in Intercom's Developer Hub."
            }
            RuleId::IntercomRateLimited => {
                "Reduce the request volume, queue non-urgent work, or lower the pacer's share of the limit."
            }
            RuleId::IntercomHighLatency | RuleId::IntercomHighLatencyWarning => {
                "Check https://www.intercomstatus.com and serve reads from the cache."
            }
            RuleId::IntercomErrorRate => {
                "Look at switchboard_intercom_api_requests_total by status and endpoint to find the failing calls."
            }
            RuleId::RateLimitBudgetHigh => {
                "Reduce the request volume or lower the pacer's share before requests start getting 429."
            }
            RuleId::WebhookDeliveryFailures => {
                "Check the destinations' health (switchboard destinations list) and their signature verification."
            }
            RuleId::WebhookSignatureFailures => {
                "Compare webhooks.client_secrets with the app's client secret in the Developer Hub; if they match, find who is calling the endpoint."
            }
            RuleId::DeadLettersPresent => {
                "Fix the destination, then replay the dead letters (switchboard dlq replay)."
            }
            RuleId::IntercomStatusDegraded => {
                "Expect failures and latency from Intercom; follow the incident at https://www.intercomstatus.com."
            }
        }
    }
}

/// The status page indicator's name for a level.
pub(crate) fn indicator_name(level: f64) -> &'static str {
    match level.round() as i64 {
        i64::MIN..=0 => "none",
        1 => "minor",
        2 => "major",
        _ => "critical",
    }
}

/// A Prometheus-style duration: `1m`, `90s` → `1m30s`, `300ms`.
pub(crate) fn prom_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// A rule with its settings resolved: what the engine evaluates and the exporter writes.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleParams {
    /// Which rule.
    pub id: RuleId,
    /// Whether it is evaluated at all.
    pub enabled: bool,
    /// Its severity.
    pub severity: Severity,
    /// The threshold the value is compared with.
    pub threshold: f64,
    /// How far back it looks (zero for gauge rules).
    pub window: Duration,
    /// How long the condition must hold before it fires.
    pub pending_for: Duration,
    /// How long the condition must stay clear before it resolves.
    pub keep_firing_for: Duration,
    /// For the error rate: fewer requests than this in the window never fire.
    pub min_requests: u64,
}

impl RuleParams {
    /// A sentence saying what is wrong and what to do, with the configured numbers.
    pub fn description(&self) -> String {
        let t = self.threshold;
        let w = prom_duration(self.window);
        let condition = match self.id {
            RuleId::IntercomUnreachable => {
                format!("Intercom answered 5xx {} in {w}: its API is failing.", times(t))
            }
            RuleId::IntercomAuthFailure => format!(
                "Intercom answered 401 Unauthorized {} in {w}: the access token is invalid or revoked.",
                times(t)
            ),
            RuleId::IntercomRateLimited => format!(
                "Intercom answered 429 Too Many Requests {} in {w}: the integration exceeds its rate limit.",
                times(t)
            ),
            RuleId::IntercomHighLatency | RuleId::IntercomHighLatencyWarning => {
                format!("The 95th percentile of Intercom request latency over {w} is above {t}s.")
            }
            RuleId::IntercomErrorRate => format!(
                "More than {}% of requests to Intercom failed (5xx, 429, timeouts, connection errors) over {w} \
                 (with at least {} requests).",
                percent(t),
                self.min_requests
            ),
            RuleId::RateLimitBudgetHigh => {
                format!("Intercom's rate-limit headers show {}% or more of the limit used.", percent(t))
            }
            RuleId::WebhookDeliveryFailures => {
                format!("Delivery attempts to destinations failed {} in {w}.", times(t))
            }
            RuleId::WebhookSignatureFailures => format!(
                "Webhooks failed signature verification {} in {w}: someone is probing the endpoint, \
                 or the client secret changed.",
                times(t)
            ),
            RuleId::DeadLettersPresent if t == 0.0 => {
                "Deliveries are dead-lettered and wait for a replay.".to_owned()
            }
            RuleId::DeadLettersPresent => {
                format!("More than {t} deliveries are dead-lettered and wait for a replay.")
            }
            RuleId::IntercomStatusDegraded => {
                format!("Intercom's status page reports a {} (or worse) incident.", indicator_name(t))
            }
        };
        format!("{condition} {}", self.id.action())
    }

    /// The value in words, for notifications: "14", "3.2s", "7.5%", "major".
    pub fn format_value(&self, value: f64) -> String {
        match self.id.expr() {
            Expr::LatencyP95 => format!("{value:.2}s"),
            Expr::ErrorRatio | Expr::BudgetUsed => format!("{}%", percent(value)),
            Expr::StatusIndicator => indicator_name(value).to_owned(),
            Expr::Increase(_) | Expr::DeadLetterDepth => format!("{value}"),
        }
    }
}

/// "more than 10 times", or "at least once" for a zero threshold.
fn times(threshold: f64) -> String {
    if threshold == 0.0 { "at least once".to_owned() } else { format!("more than {threshold} times") }
}

fn percent(ratio: f64) -> String {
    let p = (ratio * 1000.0).round() / 10.0;
    format!("{p}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_prometheus_writes_them() {
        assert_eq!(prom_duration(Duration::from_secs(60)), "1m");
        assert_eq!(prom_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(prom_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(prom_duration(Duration::ZERO), "0s");
        assert_eq!(prom_duration(Duration::from_secs(3600)), "1h");
    }

    #[test]
    fn keys_and_names_are_unique_where_they_must_be() {
        let keys: std::collections::HashSet<_> = RuleId::ALL.iter().map(|r| r.key()).collect();
        assert_eq!(keys.len(), RuleId::ALL.len());
        let names: std::collections::HashSet<_> = RuleId::ALL.iter().map(|r| r.alert_name()).collect();
        assert_eq!(names.len(), 10, "the checklist's ten alerts");
    }

    #[test]
    fn defaults_have_a_window_and_a_request_minimum_exactly_where_the_rule_takes_one() {
        for id in RuleId::ALL {
            let d = id.defaults();
            assert_eq!(d.id, id);
            assert!(d.enabled, "{id:?}");
            assert_eq!(d.window.is_zero(), !id.has_window(), "{id:?}");
            assert_eq!(d.min_requests > 0, id.has_min_requests(), "{id:?}");
        }
    }
}
