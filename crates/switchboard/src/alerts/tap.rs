//! The alert tap: a metrics-util layer that passes every metric through to the exporter and also
//! folds the few the alerts need into process-wide atomics the engine samples.
//!
//! The recorder path stays cheap: classification happens once per handle registration (a match on
//! the name and labels), and an increment is then one or a few relaxed atomic adds. Only gauges
//! take a short lock, because a gauge's value is kept per label set. Nothing here awaits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use metrics_util::layers::Layer;

use crate::telemetry::{PREFIX, SECONDS_BUCKETS, names};

/// Counters the alerts read, summed over all label sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CounterSignal {
    /// Every request attempt to Intercom.
    Requests = 0,
    /// Attempts answered 5xx.
    Status5xx,
    /// Attempts answered 401.
    Status401,
    /// Attempts answered 429.
    Status429,
    /// Failed attempts: 5xx, 429, timeout, transport.
    Errors,
    /// Delivery attempts that failed (or met 410 Gone).
    DeliveryFailures,
    /// Webhooks whose signature did not verify.
    SignatureFailures,
}

/// How many [`CounterSignal`]s there are.
pub(crate) const COUNTERS: usize = 7;

/// Gauges the alerts read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum GaugeSignal {
    /// `X-RateLimit-Remaining`.
    RateLimitRemaining,
    /// `X-RateLimit-Limit`.
    RateLimitLimit,
    /// Dead letters waiting.
    DeadLetterDepth,
    /// Intercom's status page indicator.
    StatusIndicator,
}

/// How many latency buckets there are: one per bound plus `+Inf`.
pub(crate) const LATENCY_BUCKETS: usize = SECONDS_BUCKETS.len() + 1;

/// What the tap has seen since the process started.
#[derive(Debug)]
pub(crate) struct Signals {
    counters: [AtomicU64; COUNTERS],
    // Non-cumulative: latency[i] counts observations in (bound[i-1], bound[i]].
    latency: [AtomicU64; LATENCY_BUCKETS],
    gauges: Mutex<HashMap<(GaugeSignal, Key), f64>>,
}

/// A copy of the cumulative counters and latency buckets at one moment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Totals {
    /// By [`CounterSignal`] index.
    pub counters: [u64; COUNTERS],
    /// Observations per latency bucket (not cumulative).
    pub latency: [u64; LATENCY_BUCKETS],
}

impl Signals {
    fn new() -> Self {
        Signals {
            counters: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            gauges: Mutex::new(HashMap::new()),
        }
    }

    /// The counters and buckets now.
    pub fn totals(&self) -> Totals {
        Totals {
            counters: std::array::from_fn(|i| self.counters[i].load(Ordering::Relaxed)),
            latency: std::array::from_fn(|i| self.latency[i].load(Ordering::Relaxed)),
        }
    }

    /// A gauge folded over its label sets (sum for depths, max for the indicator and the limit,
    /// min for what remains), or `None` when it was never set.
    pub fn gauge(&self, signal: GaugeSignal) -> Option<f64> {
        let gauges = self.gauges.lock().unwrap_or_else(PoisonError::into_inner);
        let values = gauges.iter().filter(|((s, _), _)| *s == signal).map(|(_, v)| *v);
        match signal {
            GaugeSignal::DeadLetterDepth => values.reduce(|a, b| a + b),
            GaugeSignal::StatusIndicator | GaugeSignal::RateLimitLimit => values.reduce(f64::max),
            GaugeSignal::RateLimitRemaining => values.reduce(f64::min),
        }
    }

    fn add(&self, mask: u16, by: u64) {
        for (i, counter) in self.counters.iter().enumerate() {
            if mask & (1 << i) != 0 {
                counter.fetch_add(by, Ordering::Relaxed);
            }
        }
    }

    fn observe_latency(&self, seconds: f64, count: u64) {
        // Prometheus `le` semantics: an observation equal to a bound belongs to that bucket.
        let index =
            SECONDS_BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(SECONDS_BUCKETS.len());
        self.latency[index].fetch_add(count, Ordering::Relaxed);
    }

    fn update_gauge(&self, signal: GaugeSignal, key: &Key, f: impl FnOnce(f64) -> f64) {
        let mut gauges = self.gauges.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = gauges.entry((signal, key.clone())).or_insert(0.0);
        *slot = f(*slot);
    }
}

/// The metrics-util layer that feeds the alert engine; see the module docs.
///
/// One tap serves the whole process (it sits in the global recorder); every engine created with
/// it reads the same signals, just as every scrape of `/metrics` reads the same exporter.
#[derive(Debug, Clone)]
pub struct AlertTapLayer {
    signals: Arc<Signals>,
}

impl AlertTapLayer {
    /// A tap with nothing seen yet.
    pub fn new() -> Self {
        AlertTapLayer { signals: Arc::new(Signals::new()) }
    }

    pub(crate) fn signals(&self) -> Arc<Signals> {
        self.signals.clone()
    }
}

impl Default for AlertTapLayer {
    fn default() -> Self {
        AlertTapLayer::new()
    }
}

impl<R> Layer<R> for AlertTapLayer {
    type Output = AlertTap<R>;

    fn layer(&self, inner: R) -> Self::Output {
        AlertTap { inner, signals: self.signals.clone() }
    }
}

/// The recorder [`AlertTapLayer`] wraps around the exporter.
#[derive(Debug)]
pub struct AlertTap<R> {
    inner: R,
    signals: Arc<Signals>,
}

/// The name without the exporter prefix, whether or not the prefix layer ran first.
fn base_name(name: &str) -> &str {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('.').or_else(|| rest.strip_prefix('_')))
        .unwrap_or(name)
}

fn label<'a>(key: &'a Key, name: &str) -> Option<&'a str> {
    key.labels().find(|l| l.key() == name).map(|l| l.value())
}

/// Which counter signals an increment of `key` feeds, as a bit mask over [`CounterSignal`].
fn counter_mask(key: &Key) -> u16 {
    let bit = |s: CounterSignal| 1u16 << (s as u16);
    let name = base_name(key.name());
    if name == names::INTERCOM_REQUESTS {
        let status = label(key, "status").unwrap_or("");
        let mut mask = bit(CounterSignal::Requests);
        let is_5xx =
            status.len() == 3 && status.starts_with('5') && status.chars().all(|c| c.is_ascii_digit());
        if is_5xx {
            mask |= bit(CounterSignal::Status5xx);
        }
        match status {
            "401" => mask |= bit(CounterSignal::Status401),
            "429" => mask |= bit(CounterSignal::Status429),
            _ => {}
        }
        if is_5xx || matches!(status, "429" | "timeout" | "transport") {
            mask |= bit(CounterSignal::Errors);
        }
        mask
    } else if name == names::DELIVERY_ATTEMPTS {
        match label(key, "result") {
            Some("failed" | "gone") => bit(CounterSignal::DeliveryFailures),
            _ => 0,
        }
    } else if name == names::WEBHOOK_VERIFICATION_FAILURES {
        bit(CounterSignal::SignatureFailures)
    } else {
        0
    }
}

fn gauge_signal(key: &Key) -> Option<GaugeSignal> {
    let name = base_name(key.name());
    if name == names::INTERCOM_RATE_LIMIT_REMAINING {
        Some(GaugeSignal::RateLimitRemaining)
    } else if name == names::INTERCOM_RATE_LIMIT_LIMIT {
        Some(GaugeSignal::RateLimitLimit)
    } else if name == names::DEAD_LETTER_DEPTH {
        Some(GaugeSignal::DeadLetterDepth)
    } else if name == names::INTERCOM_STATUS_INDICATOR {
        Some(GaugeSignal::StatusIndicator)
    } else {
        None
    }
}

impl<R: Recorder> Recorder for AlertTap<R> {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        let inner = self.inner.register_counter(key, metadata);
        match counter_mask(key) {
            0 => inner,
            mask => Counter::from_arc(Arc::new(TapCounter { inner, signals: self.signals.clone(), mask })),
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        let inner = self.inner.register_gauge(key, metadata);
        match gauge_signal(key) {
            None => inner,
            Some(signal) => Gauge::from_arc(Arc::new(TapGauge {
                inner,
                signals: self.signals.clone(),
                signal,
                key: key.clone(),
            })),
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let inner = self.inner.register_histogram(key, metadata);
        if base_name(key.name()) == names::INTERCOM_REQUEST_DURATION {
            Histogram::from_arc(Arc::new(TapHistogram { inner, signals: self.signals.clone() }))
        } else {
            inner
        }
    }
}

struct TapCounter {
    inner: Counter,
    signals: Arc<Signals>,
    mask: u16,
}

impl CounterFn for TapCounter {
    fn increment(&self, value: u64) {
        self.inner.increment(value);
        self.signals.add(self.mask, value);
    }

    fn absolute(&self, value: u64) {
        // Nothing in the service sets counters absolutely; the alerts would need the delta, so the
        // value goes to the exporter only.
        self.inner.absolute(value);
    }
}

struct TapGauge {
    inner: Gauge,
    signals: Arc<Signals>,
    signal: GaugeSignal,
    key: Key,
}

impl GaugeFn for TapGauge {
    fn increment(&self, value: f64) {
        self.inner.increment(value);
        self.signals.update_gauge(self.signal, &self.key, |v| v + value);
    }

    fn decrement(&self, value: f64) {
        self.inner.decrement(value);
        self.signals.update_gauge(self.signal, &self.key, |v| v - value);
    }

    fn set(&self, value: f64) {
        self.inner.set(value);
        self.signals.update_gauge(self.signal, &self.key, |_| value);
    }
}

struct TapHistogram {
    inner: Histogram,
    signals: Arc<Signals>,
}

impl HistogramFn for TapHistogram {
    fn record(&self, value: f64) {
        self.inner.record(value);
        self.signals.observe_latency(value, 1);
    }

    fn record_many(&self, value: f64, count: usize) {
        self.inner.record_many(value, count);
        self.signals.observe_latency(value, count as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_util::debugging::DebuggingRecorder;
    use metrics_util::layers::{PrefixLayer, Stack};

    #[test]
    fn classifies_what_the_alerts_need_and_passes_everything_through() {
        let tap = AlertTapLayer::new();
        let debugging = DebuggingRecorder::new();
        let snapshotter = debugging.snapshotter();
        let recorder = Stack::new(debugging).push(tap.clone()).push(PrefixLayer::new(PREFIX));
        metrics::with_local_recorder(&recorder, || {
            for status in ["200", "503", "500", "401", "429", "timeout", "transport", "404"] {
                metrics::counter!(names::INTERCOM_REQUESTS, "endpoint" => "/me", "method" => "GET", "status" => status)
                    .increment(1);
            }
            metrics::counter!(names::DELIVERY_ATTEMPTS, "destination" => "crm", "result" => "failed")
                .increment(2);
            metrics::counter!(names::DELIVERY_ATTEMPTS, "destination" => "crm", "result" => "delivered")
                .increment(5);
            metrics::counter!(names::WEBHOOK_VERIFICATION_FAILURES, "reason" => "mismatch").increment(3);
            metrics::histogram!(names::INTERCOM_REQUEST_DURATION).record(2.0);
            metrics::histogram!(names::INTERCOM_REQUEST_DURATION).record(100.0);
            metrics::gauge!(names::DEAD_LETTER_DEPTH).set(4.0);
            metrics::gauge!(names::DEAD_LETTER_DEPTH).decrement(1.0);
            metrics::gauge!(names::INTERCOM_STATUS_INDICATOR).set(2.0);
        });
        let totals = tap.signals.totals();
        assert_eq!(totals.counters[CounterSignal::Requests as usize], 8);
        assert_eq!(totals.counters[CounterSignal::Status5xx as usize], 2);
        assert_eq!(totals.counters[CounterSignal::Status401 as usize], 1);
        assert_eq!(totals.counters[CounterSignal::Status429 as usize], 1);
        assert_eq!(totals.counters[CounterSignal::Errors as usize], 5);
        assert_eq!(totals.counters[CounterSignal::DeliveryFailures as usize], 2);
        assert_eq!(totals.counters[CounterSignal::SignatureFailures as usize], 3);
        let two = SECONDS_BUCKETS.iter().position(|b| *b == 2.0).unwrap();
        assert_eq!(totals.latency[two], 1);
        assert_eq!(totals.latency[LATENCY_BUCKETS - 1], 1);
        assert_eq!(tap.signals.gauge(GaugeSignal::DeadLetterDepth), Some(3.0));
        assert_eq!(tap.signals.gauge(GaugeSignal::StatusIndicator), Some(2.0));
        assert_eq!(tap.signals.gauge(GaugeSignal::RateLimitLimit), None);

        let snapshot = snapshotter.snapshot().into_vec();
        assert!(snapshot.iter().any(|(k, ..)| k.key().name() == "switchboard.delivery_attempts_total"));
        assert!(snapshot.iter().any(|(k, ..)| k.key().name() == "switchboard.dead_letter_depth"));
    }
}
