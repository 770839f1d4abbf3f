//! Faults on demand: 5xx answers, added latency, dropped connections and truncated bodies, set by
//! config (`--faults SPEC`), by `POST /_sim/faults`, or per request with an `X-Sim-Fault` header.
//!
//! # Fault spec syntax
//!
//! ```text
//! SPEC    := ITEM ("," ITEM)*
//! ITEM    := ACTION ["@" PROBABILITY] [":" WINDOW]
//! ACTION  := 500 | 502 | 503 | 504           answer with that status and an error.list body
//!          | drop                            close the connection without answering
//!          | truncate                        send the headers and half the body, then close
//!          | latency=DURATION["~"JITTER]     delay the answer by DURATION plus 0..JITTER
//! PROBABILITY := a number in 0..=1 (default 1: every request)
//! WINDOW  := DURATION                        active from now for DURATION
//!          | START "-" END                   active from START to END after the spec is set
//! DURATION := humantime, e.g. 200ms, 30s, 2m
//! ```
//!
//! Examples: `503:30s` (every request gets 503 for the next 30 s), `500@0.05,502@0.05`
//! (5 % each, forever), `latency=50ms~20ms` (50–70 ms added), `drop@0.01:10s-40s`.
//!
//! The `X-Sim-Fault` request header takes a comma-separated list of ACTIONs applied to that
//! request only, e.g. `X-Sim-Fault: 503` or `X-Sim-Fault: latency=200ms`.
//!
//! Faults apply to the Intercom API routes only, never to `/_sim/*` control routes, and are
//! decided before authentication, as an overloaded or failing front end would answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use rand::Rng;
use serde::Serialize;

/// What a fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this 5xx status.
    Status(u16),
    /// Close the connection without answering.
    Drop,
    /// Send half the body, then close the connection.
    Truncate,
    /// Delay the answer by `fixed` plus a uniformly random amount up to `jitter`.
    Latency {
        /// Fixed part of the delay.
        fixed: Duration,
        /// Upper bound of the random extra delay.
        jitter: Duration,
    },
}

/// One fault rule with its probability and optional time window (absolute epoch milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// What happens when the rule fires.
    pub action: FaultAction,
    /// Chance in 0..=1 that the rule fires for a request inside its window.
    pub probability: f64,
    /// Active window as (start, end) epoch milliseconds; `None` means always.
    pub window: Option<(u64, u64)>,
}

/// A parsed fault spec whose windows are still relative to the moment it is applied.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSpec {
    items: Vec<SpecItem>,
}

#[derive(Debug, Clone, PartialEq)]
struct SpecItem {
    action: FaultAction,
    probability: f64,
    window: Option<(Duration, Duration)>,
}

/// A fault spec that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid fault spec item {item:?}: {reason} (syntax: ACTION[@PROBABILITY][:WINDOW], e.g. 503@0.1:30s)"
)]
pub struct FaultSpecError {
    /// The item that failed.
    pub item: String,
    /// Why.
    pub reason: String,
}

impl FaultSpec {
    /// Parses a spec such as `503@0.1:30s,latency=20ms~5ms`; an empty string means no faults.
    pub fn parse(spec: &str) -> Result<Self, FaultSpecError> {
        let mut items = Vec::new();
        for raw in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            items.push(parse_item(raw)?);
        }
        Ok(Self { items })
    }

    /// True when the spec has no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Turns relative windows into absolute ones starting at `now_millis`.
    pub fn rules_at(&self, now_millis: u64) -> Vec<FaultRule> {
        self.items
            .iter()
            .map(|item| FaultRule {
                action: item.action,
                probability: item.probability,
                window: item.window.map(|(start, end)| {
                    (now_millis + start.as_millis() as u64, now_millis + end.as_millis() as u64)
                }),
            })
            .collect()
    }
}

fn err(item: &str, reason: impl Into<String>) -> FaultSpecError {
    FaultSpecError { item: item.to_string(), reason: reason.into() }
}

fn parse_duration(item: &str, text: &str) -> Result<Duration, FaultSpecError> {
    humantime::parse_duration(text.trim())
        .map_err(|e| err(item, format!("{text:?} is not a duration like 200ms or 30s ({e})")))
}

fn parse_item(raw: &str) -> Result<SpecItem, FaultSpecError> {
    let (rest, window) = match raw.split_once(':') {
        Some((rest, window)) => {
            let window = match window.split_once('-') {
                Some((start, end)) => {
                    let (start, end) = (parse_duration(raw, start)?, parse_duration(raw, end)?);
                    if end <= start {
                        return Err(err(raw, "the window must end after it starts"));
                    }
                    (start, end)
                }
                None => (Duration::ZERO, parse_duration(raw, window)?),
            };
            (rest, Some(window))
        }
        None => (raw, None),
    };
    let (action, probability) = match rest.split_once('@') {
        Some((action, p)) => {
            let p: f64 =
                p.trim().parse().map_err(|_| err(raw, format!("probability {p:?} is not a number")))?;
            if !(0.0..=1.0).contains(&p) {
                return Err(err(raw, "the probability must be between 0 and 1"));
            }
            (action, p)
        }
        None => (rest, 1.0),
    };
    Ok(SpecItem { action: parse_action(raw, action.trim())?, probability, window })
}

/// Parses one ACTION (`503`, `drop`, `truncate`, `latency=200ms~50ms`).
pub fn parse_action(item: &str, action: &str) -> Result<FaultAction, FaultSpecError> {
    match action {
        "500" | "502" | "503" | "504" => {
            // The match arm only admits these four digit strings, which always parse.
            Ok(FaultAction::Status(action.parse().unwrap_or(503)))
        }
        "drop" => Ok(FaultAction::Drop),
        "truncate" => Ok(FaultAction::Truncate),
        _ => {
            if let Some(value) = action.strip_prefix("latency=") {
                let (fixed, jitter) = match value.split_once('~') {
                    Some((fixed, jitter)) => (parse_duration(item, fixed)?, parse_duration(item, jitter)?),
                    None => (parse_duration(item, value)?, Duration::ZERO),
                };
                Ok(FaultAction::Latency { fixed, jitter })
            } else {
                Err(err(
                    item,
                    format!(
                        "unknown action {action:?}: use 500, 502, 503, 504, drop, truncate or latency=DURATION[~JITTER]"
                    ),
                ))
            }
        }
    }
}

/// Parses an `X-Sim-Fault` header value: a comma-separated list of actions.
pub fn parse_header(value: &str) -> Result<Vec<FaultAction>, FaultSpecError> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|a| parse_action(value, a)).collect()
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultDecision {
    /// Delay to add before answering.
    pub delay: Duration,
    /// The failure to inject, if any (never `Latency`).
    pub failure: Option<FaultAction>,
}

impl FaultDecision {
    fn apply(&mut self, action: FaultAction) {
        match action {
            FaultAction::Latency { fixed, jitter } => {
                let extra = if jitter.is_zero() {
                    Duration::ZERO
                } else {
                    Duration::from_micros(rand::rng().random_range(0..=jitter.as_micros() as u64))
                };
                self.delay += fixed + extra;
            }
            other => {
                if self.failure.is_none() {
                    self.failure = Some(other);
                }
            }
        }
    }
}

/// Live fault rules, cheap to consult when empty.
#[derive(Debug, Default)]
pub struct FaultState {
    rules: RwLock<Vec<FaultRule>>,
    any: AtomicBool,
}

/// A fault rule as shown by `GET /_sim/faults`.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRuleView {
    /// The action in spec syntax.
    pub action: String,
    /// Probability in 0..=1.
    pub probability: f64,
    /// Window start, epoch milliseconds.
    pub starts_at_ms: Option<u64>,
    /// Window end, epoch milliseconds.
    pub ends_at_ms: Option<u64>,
}

/// Renders an action back in spec syntax.
pub fn action_to_string(action: FaultAction) -> String {
    match action {
        FaultAction::Status(s) => s.to_string(),
        FaultAction::Drop => "drop".into(),
        FaultAction::Truncate => "truncate".into(),
        FaultAction::Latency { fixed, jitter } if jitter.is_zero() => {
            format!("latency={}", humantime::format_duration(fixed))
        }
        FaultAction::Latency { fixed, jitter } => {
            format!("latency={}~{}", humantime::format_duration(fixed), humantime::format_duration(jitter))
        }
    }
}

impl FaultState {
    /// Replaces every rule.
    pub fn replace(&self, rules: Vec<FaultRule>) {
        let mut guard = self.rules.write();
        *guard = rules;
        self.any.store(!guard.is_empty(), Ordering::Release);
    }

    /// Adds rules to the existing ones.
    pub fn extend(&self, rules: Vec<FaultRule>) {
        let mut guard = self.rules.write();
        guard.extend(rules);
        self.any.store(!guard.is_empty(), Ordering::Release);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.replace(Vec::new());
    }

    /// The current rules, for inspection.
    pub fn view(&self) -> Vec<FaultRuleView> {
        self.rules
            .read()
            .iter()
            .map(|r| FaultRuleView {
                action: action_to_string(r.action),
                probability: r.probability,
                starts_at_ms: r.window.map(|w| w.0),
                ends_at_ms: r.window.map(|w| w.1),
            })
            .collect()
    }

    /// Decides the faults for one request from the live rules and the request's header actions.
    pub fn decide(&self, now_millis: u64, header: &[FaultAction]) -> FaultDecision {
        let mut decision = FaultDecision::default();
        for action in header {
            decision.apply(*action);
        }
        if !self.any.load(Ordering::Acquire) {
            return decision;
        }
        let mut expired = false;
        {
            let rules = self.rules.read();
            let mut rng = rand::rng();
            for rule in rules.iter() {
                if let Some((start, end)) = rule.window {
                    if now_millis >= end {
                        expired = true;
                        continue;
                    }
                    if now_millis < start {
                        continue;
                    }
                }
                if rule.probability >= 1.0 || rng.random_bool(rule.probability.max(0.0)) {
                    decision.apply(rule.action);
                }
            }
        }
        if expired {
            let mut rules = self.rules.write();
            rules.retain(|r| r.window.is_none_or(|(_, end)| now_millis < end));
            self.any.store(!rules.is_empty(), Ordering::Release);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let spec = FaultSpec::parse("503:30s, 500@0.25, latency=20ms~5ms, drop@0.5:10s-40s, truncate")
            .expect("valid spec");
        let rules = spec.rules_at(1_000);
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0].action, FaultAction::Status(503));
        assert_eq!(rules[0].window, Some((1_000, 31_000)));
        assert_eq!(rules[1].probability, 0.25);
        assert_eq!(
            rules[2].action,
            FaultAction::Latency { fixed: Duration::from_millis(20), jitter: Duration::from_millis(5) }
        );
        assert_eq!(rules[3].window, Some((11_000, 41_000)));
        assert_eq!(rules[4].action, FaultAction::Truncate);
    }

    #[test]
    fn rejects_bad_items_with_reason() {
        assert!(FaultSpec::parse("418").unwrap_err().reason.contains("unknown action"));
        assert!(FaultSpec::parse("503@2").unwrap_err().reason.contains("between 0 and 1"));
        assert!(FaultSpec::parse("503:soon").unwrap_err().reason.contains("duration"));
        assert!(FaultSpec::parse("503:40s-10s").unwrap_err().reason.contains("end after"));
    }

    #[test]
    fn windows_open_and_expire() {
        let state = FaultState::default();
        state.replace(FaultSpec::parse("503:10s-20s").expect("valid").rules_at(0));
        assert_eq!(state.decide(5_000, &[]).failure, None);
        assert_eq!(state.decide(10_000, &[]).failure, Some(FaultAction::Status(503)));
        assert_eq!(state.decide(20_000, &[]).failure, None);
        assert!(state.view().is_empty(), "expired rules are pruned");
    }

    #[test]
    fn header_actions_apply_to_one_request() {
        let state = FaultState::default();
        let actions = parse_header("latency=200ms, 502").expect("valid header");
        let d = state.decide(0, &actions);
        assert_eq!(d.delay, Duration::from_millis(200));
        assert_eq!(d.failure, Some(FaultAction::Status(502)));
    }
}
