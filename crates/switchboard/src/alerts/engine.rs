//! The alert engine: samples the tap's signals, evaluates the rules over sliding windows, moves
//! each alert through pending → firing → resolved with hysteresis, and hands transitions to the
//! notifier.
//!
//! Windows work like Prometheus' `increase()`: every evaluation stores a sample of the cumulative
//! counters and latency buckets, and a rule's value is the difference between the newest sample
//! and the newest one at least a window old (or the first sample, taken when the engine started).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use switchboard_clock::{SharedClock, SystemClock};

use super::notify::{AlertEvent, EventKind, Notifier};
use super::rules::{Expr, RuleParams, Severity};
use super::settings::AlertSettings;
use super::tap::{AlertTapLayer, CounterSignal, GaugeSignal, LATENCY_BUCKETS, Signals, Totals};
use crate::secrets::Secret;
use crate::telemetry::{SECONDS_BUCKETS, names};

/// Why the engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    /// The HTTP client for notifications could not be built (TLS setup).
    #[error("cannot build the HTTP client for alert notifications: {0}")]
    Http(#[source] reqwest::Error),
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Never fired since the service started.
    Inactive,
    /// The condition holds, for less than the rule's `for`.
    Pending,
    /// The condition held for `for`; notifications were sent.
    Firing,
    /// It fired, then stayed clear for `keep_firing_for`.
    Resolved,
}

/// One alert as `GET /alerts` lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    /// The alert name, e.g. `IntercomUnreachable`.
    pub name: &'static str,
    /// The rule's config table, e.g. `intercom_high_latency_warning`.
    pub rule: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// Where it is.
    pub state: AlertState,
    /// When it entered that state.
    #[serde(serialize_with = "super::rfc3339")]
    pub since: SystemTime,
    /// The value at the last evaluation (`null` without data, e.g. no requests in the window).
    pub value: Option<f64>,
    /// The threshold it is compared with.
    pub threshold: f64,
    /// What it means and what to do.
    pub description: String,
}

/// The body of `GET /alerts`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertsView {
    /// When the rules were last evaluated (`null` before the first evaluation).
    #[serde(serialize_with = "super::rfc3339_opt")]
    pub evaluated_at: Option<SystemTime>,
    /// Every enabled rule: firing first, then pending, resolved, inactive.
    pub alerts: Vec<AlertStatus>,
}

#[derive(Debug, Clone)]
struct Sample {
    at: SystemTime,
    totals: Totals,
}

#[derive(Debug, Clone)]
struct Slot {
    state: AlertState,
    since: SystemTime,
    // Where a pending alert goes back to if its condition clears before `for`.
    settled: (AlertState, SystemTime),
    clear_since: Option<SystemTime>,
    value: Option<f64>,
    fired_at: SystemTime,
    last_sent: SystemTime,
}

#[derive(Debug)]
struct State {
    samples: VecDeque<Sample>,
    slots: Vec<Slot>,
    evaluated_at: Option<SystemTime>,
}

#[derive(Debug)]
struct Inner {
    settings: AlertSettings,
    rules: Vec<RuleParams>,
    clock: SharedClock,
    signals: Arc<Signals>,
    horizon: Duration,
    state: Mutex<State>,
    notifier: Notifier,
}

/// The built-in alerts of one service; cheap to clone (the clones share state).
#[derive(Debug, Clone)]
pub struct AlertEngine {
    inner: Arc<Inner>,
}

impl AlertEngine {
    /// An engine evaluating `settings` over what `tap` sees, on `clock`. Its first sample is
    /// taken now, so counts from before it do not fire anything. In a service `clock` is a
    /// [`switchboard_clock::MonotonicClock`]: windows are differences of two readings, which a
    /// wall-clock step must not shrink or stretch. Alert webhooks' `webhook-timestamp` comes from the
    /// wall clock instead, unless `clock` is a [`switchboard_clock::ManualClock`], which then drives
    /// both (tests).
    pub fn new(
        settings: AlertSettings,
        clock: SharedClock,
        tap: &AlertTapLayer,
    ) -> Result<Self, AlertsError> {
        let rules: Vec<RuleParams> = if settings.enabled {
            settings.rules().into_iter().filter(|r| r.enabled).collect()
        } else {
            Vec::new()
        };
        let horizon = rules.iter().map(|r| r.window).max().unwrap_or(Duration::ZERO);
        let signals = tap.signals();
        let now = clock.now();
        let slot = Slot {
            state: AlertState::Inactive,
            since: now,
            settled: (AlertState::Inactive, now),
            clear_since: None,
            value: None,
            fired_at: now,
            last_sent: now,
        };
        let state = State {
            samples: VecDeque::from([Sample { at: now, totals: signals.totals() }]),
            slots: vec![slot; rules.len()],
            evaluated_at: None,
        };
        // Signature timestamps are checked against the receiver's wall clock, so they come from the
        // wall clock, not from the engine's monotonic one (whose offset is frozen at start and would
        // drift after an NTP step or a VM pause); a manual clock in tests drives both.
        let signing: SharedClock =
            if clock.as_manual().is_some() { clock.clone() } else { Arc::new(SystemClock) };
        let notifier = Notifier::new(&settings, signing).map_err(AlertsError::Http)?;
        Ok(AlertEngine {
            inner: Arc::new(Inner {
                settings,
                rules,
                clock,
                signals,
                horizon,
                state: Mutex::new(state),
                notifier,
            }),
        })
    }

    /// Gives the channels their resolved secrets (keys `alerts.channels[i].secret`).
    pub fn with_channel_secrets(self, secrets: &[Secret]) -> Self {
        self.inner.notifier.set_secrets(secrets);
        self
    }

    /// The rules being evaluated (enabled ones only).
    pub fn rules(&self) -> &[RuleParams] {
        &self.inner.rules
    }

    /// Evaluates, then sends notifications, until `shutdown` resolves. Spawn it once per engine.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let notifier = self.inner.notifier.spawn_workers(self.inner.settings.clone());
        let mut ticker = tokio::time::interval(self.inner.settings.evaluation_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        if !self.inner.rules.is_empty() {
            loop {
                tokio::select! {
                    _ = ticker.tick() => { self.evaluate(); }
                    () = &mut shutdown => break,
                }
            }
        } else {
            shutdown.await;
        }
        notifier.shutdown().await;
    }

    /// Sends notifications (no evaluation tick) until `shutdown` resolves: for tests that drive
    /// [`AlertEngine::evaluate`] themselves on a manual clock.
    pub async fn run_notifications(self, shutdown: impl Future<Output = ()> + Send) {
        let notifier = self.inner.notifier.spawn_workers(self.inner.settings.clone());
        shutdown.await;
        notifier.shutdown().await;
    }

    /// Evaluates every rule now (the tick calls this; so can anyone) and returns the alerts.
    /// Never blocks on notifications: they are queued.
    pub fn evaluate(&self) -> AlertsView {
        let inner = &self.inner;
        let now = inner.clock.now();
        let totals = inner.signals.totals();
        let gauges = Gauges::read(&inner.signals);
        let mut events = Vec::new();
        let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.samples.push_back(Sample { at: now, totals });
        prune(&mut state.samples, now, inner.horizon);
        let resend = inner.settings.resend_interval;
        let State { samples, slots, evaluated_at } = &mut *state;
        *evaluated_at = Some(now);
        for (rule, slot) in inner.rules.iter().zip(slots.iter_mut()) {
            let value = compute(rule, samples, now, &gauges);
            slot.value = value;
            let holds = value.is_some_and(|v| rule.id.op().holds(v, rule.threshold));
            if let Some(kind) = step(rule, slot, holds, now) {
                events.push(AlertEvent::new(kind, rule, slot.value, slot.fired_at, now, resend));
            } else if slot.state == AlertState::Firing && elapsed(slot.last_sent, now) >= resend {
                // Alertmanager forgets alerts that are not sent again; the others hear transitions only.
                slot.last_sent = now;
                events.push(AlertEvent::new(EventKind::Repeat, rule, slot.value, slot.fired_at, now, resend));
            }
        }
        let view = view(&inner.rules, slots, *evaluated_at);
        drop(state);
        for rule in &inner.rules {
            let firing = view.alerts.iter().any(|a| a.rule == rule.id.key() && a.state == AlertState::Firing);
            metrics::gauge!(names::ALERT_ACTIVE, "alert" => rule.id.alert_name(), "severity" => rule.severity.as_str())
                .set(if firing { 1.0 } else { 0.0 });
        }
        for event in events {
            log(&event);
            inner.notifier.enqueue(event);
        }
        view
    }

    /// The alerts as of the last evaluation.
    pub fn snapshot(&self) -> AlertsView {
        let state = self.inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        view(&self.inner.rules, &state.slots, state.evaluated_at)
    }

    /// Notifications dropped so far because a channel's queue was full, per channel index.
    pub fn dropped_notifications(&self) -> Vec<u64> {
        self.inner.notifier.dropped()
    }

    /// Notifications waiting to be sent, per channel index.
    pub fn queued_notifications(&self) -> Vec<usize> {
        self.inner.notifier.queued()
    }
}

fn elapsed(from: SystemTime, to: SystemTime) -> Duration {
    to.duration_since(from).unwrap_or(Duration::ZERO)
}

/// Moves one alert; returns the transition to notify, if any.
fn step(rule: &RuleParams, slot: &mut Slot, holds: bool, now: SystemTime) -> Option<EventKind> {
    match slot.state {
        AlertState::Inactive | AlertState::Resolved if holds => {
            slot.settled = (slot.state, slot.since);
            slot.state = AlertState::Pending;
            slot.since = now;
            if rule.pending_for.is_zero() {
                return Some(fire(slot, now));
            }
            None
        }
        AlertState::Inactive | AlertState::Resolved => None,
        AlertState::Pending if holds => {
            (elapsed(slot.since, now) >= rule.pending_for).then(|| fire(slot, now))
        }
        AlertState::Pending => {
            (slot.state, slot.since) = slot.settled;
            None
        }
        AlertState::Firing if holds => {
            slot.clear_since = None;
            None
        }
        AlertState::Firing => {
            let clear_since = *slot.clear_since.get_or_insert(now);
            if elapsed(clear_since, now) >= rule.keep_firing_for {
                slot.state = AlertState::Resolved;
                slot.since = now;
                slot.clear_since = None;
                Some(EventKind::Resolved)
            } else {
                None
            }
        }
    }
}

fn fire(slot: &mut Slot, now: SystemTime) -> EventKind {
    slot.state = AlertState::Firing;
    slot.since = now;
    slot.fired_at = now;
    slot.last_sent = now;
    slot.clear_since = None;
    EventKind::Firing
}

/// Drops samples no window needs, keeping the newest one at or before the horizon.
fn prune(samples: &mut VecDeque<Sample>, now: SystemTime, horizon: Duration) {
    let Some(edge) = now.checked_sub(horizon) else { return };
    while samples.len() > 2 && samples.get(1).is_some_and(|s| s.at <= edge) {
        samples.pop_front();
    }
}

/// The gauges, read once per evaluation.
#[derive(Debug, Default)]
struct Gauges {
    remaining: Option<f64>,
    limit: Option<f64>,
    dead_letters: Option<f64>,
    status: Option<f64>,
}

impl Gauges {
    fn read(signals: &Signals) -> Self {
        Gauges {
            remaining: signals.gauge(GaugeSignal::RateLimitRemaining),
            limit: signals.gauge(GaugeSignal::RateLimitLimit),
            dead_letters: signals.gauge(GaugeSignal::DeadLetterDepth),
            status: signals.gauge(GaugeSignal::StatusIndicator),
        }
    }
}

/// The newest sample and the one a `window` before it.
fn span(samples: &VecDeque<Sample>, now: SystemTime, window: Duration) -> Option<(&Totals, &Totals)> {
    let newest = samples.back()?;
    let edge = now.checked_sub(window);
    let oldest =
        edge.and_then(|edge| samples.iter().rev().find(|s| s.at <= edge)).or_else(|| samples.front())?;
    Some((&newest.totals, &oldest.totals))
}

fn increase(newest: &Totals, oldest: &Totals, signal: CounterSignal) -> u64 {
    let i = signal as usize;
    newest.counters[i].saturating_sub(oldest.counters[i])
}

fn compute(rule: &RuleParams, samples: &VecDeque<Sample>, now: SystemTime, gauges: &Gauges) -> Option<f64> {
    match rule.id.expr() {
        Expr::Increase(signal) => {
            let (newest, oldest) = span(samples, now, rule.window)?;
            Some(increase(newest, oldest, signal) as f64)
        }
        Expr::LatencyP95 => {
            let (newest, oldest) = span(samples, now, rule.window)?;
            let buckets: [u64; LATENCY_BUCKETS] =
                std::array::from_fn(|i| newest.latency[i].saturating_sub(oldest.latency[i]));
            quantile(0.95, &buckets)
        }
        Expr::ErrorRatio => {
            let (newest, oldest) = span(samples, now, rule.window)?;
            let requests = increase(newest, oldest, CounterSignal::Requests);
            let errors = increase(newest, oldest, CounterSignal::Errors);
            (requests > 0 && requests >= rule.min_requests).then(|| errors as f64 / requests as f64)
        }
        Expr::BudgetUsed => match (gauges.remaining, gauges.limit) {
            (Some(remaining), Some(limit)) if limit > 0.0 => Some(1.0 - remaining / limit),
            _ => None,
        },
        Expr::DeadLetterDepth => gauges.dead_letters,
        Expr::StatusIndicator => gauges.status,
    }
}

/// The `q` quantile of bucketed observations, interpolated within the bucket the way
/// Prometheus' `histogram_quantile` does, so the built-in rule and the exported one agree.
pub(crate) fn quantile(q: f64, buckets: &[u64; LATENCY_BUCKETS]) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut below = 0u64;
    for (i, count) in buckets.iter().enumerate() {
        let cumulative = below + count;
        if cumulative as f64 >= rank && *count > 0 {
            let Some(upper) = SECONDS_BUCKETS.get(i) else {
                // In the +Inf bucket Prometheus answers the highest finite bound.
                return SECONDS_BUCKETS.last().copied();
            };
            let lower = if i == 0 { 0.0 } else { SECONDS_BUCKETS[i - 1] };
            return Some(lower + (upper - lower) * (rank - below as f64) / *count as f64);
        }
        below = cumulative;
    }
    SECONDS_BUCKETS.last().copied()
}

fn view(rules: &[RuleParams], slots: &[Slot], evaluated_at: Option<SystemTime>) -> AlertsView {
    let mut alerts: Vec<AlertStatus> = rules
        .iter()
        .zip(slots)
        .map(|(rule, slot)| AlertStatus {
            name: rule.id.alert_name(),
            rule: rule.id.key(),
            severity: rule.severity,
            state: slot.state,
            since: slot.since,
            value: slot.value,
            threshold: rule.threshold,
            description: rule.description(),
        })
        .collect();
    let order = |s: AlertState| match s {
        AlertState::Firing => 0,
        AlertState::Pending => 1,
        AlertState::Resolved => 2,
        AlertState::Inactive => 3,
    };
    // Stable: within a state, the checklist's order.
    alerts.sort_by_key(|a| (order(a.state), a.severity));
    AlertsView { evaluated_at, alerts }
}

fn log(event: &AlertEvent) {
    let rule = &event.rule;
    let value = event.value.map(|v| rule.format_value(v)).unwrap_or_else(|| "no data".into());
    let (name, severity, threshold) = (rule.id.alert_name(), rule.severity.as_str(), rule.threshold);
    match event.kind {
        EventKind::Firing if rule.severity == Severity::P1 => tracing::error!(
            alert = name, severity, %value, threshold, "ALERT FIRING: {}", rule.description()
        ),
        EventKind::Firing => {
            tracing::warn!(alert = name, severity, %value, threshold, "alert firing: {}", rule.description())
        }
        EventKind::Resolved => tracing::info!(alert = name, severity, %value, threshold, "alert resolved"),
        EventKind::Repeat => {
            tracing::debug!(alert = name, severity, "alert still firing; sent to Alertmanager again")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(observations: &[(f64, u64)]) -> [u64; LATENCY_BUCKETS] {
        let mut b = [0u64; LATENCY_BUCKETS];
        for (seconds, n) in observations {
            let i = SECONDS_BUCKETS.iter().position(|x| seconds <= x).unwrap_or(SECONDS_BUCKETS.len());
            b[i] += n;
        }
        b
    }

    #[test]
    fn quantile_interpolates_like_histogram_quantile() {
        assert_eq!(quantile(0.95, &[0; LATENCY_BUCKETS]), None);
        // All in (2, 3]: rank 0.95*10 = 9.5 of 10 → 2 + 1 * 0.95.
        let q = quantile(0.95, &buckets(&[(2.5, 10)])).unwrap();
        assert!((q - 2.95).abs() < 1e-9, "{q}");
        // 95 fast, 5 slow: P95 stays in the fast bucket's range.
        let q = quantile(0.95, &buckets(&[(0.05, 95), (4.0, 5)])).unwrap();
        assert!(q <= 0.05, "{q}");
        // 90 fast, 10 slow: P95 lands among the slow ones, in (3, 5].
        let q = quantile(0.95, &buckets(&[(0.05, 90), (4.0, 10)])).unwrap();
        assert!(q > 3.0 && q <= 5.0, "{q}");
        assert_eq!(quantile(0.95, &buckets(&[(100.0, 3)])), Some(60.0));
    }
}
