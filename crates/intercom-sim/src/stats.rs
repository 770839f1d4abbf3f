//! Introspection counters behind `GET /_sim/stats`: requests by endpoint template and status, 429s,
//! and webhook deliveries with their outcomes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

/// Live counters.
#[derive(Debug, Default)]
pub struct Stats {
    requests: Mutex<HashMap<(&'static str, u16), u64>>,
    total: AtomicU64,
    rate_limited: AtomicU64,
    /// Webhook counters.
    pub webhooks: WebhookCounters,
}

/// Webhook delivery counters.
#[derive(Debug, Default)]
pub struct WebhookCounters {
    /// Notifications created (one per subscription per event).
    pub notifications: AtomicU64,
    /// HTTP attempts made.
    pub attempts: AtomicU64,
    /// Notifications answered 2xx.
    pub delivered: AtomicU64,
    /// Retries scheduled after a failed first attempt.
    pub retried: AtomicU64,
    /// Notifications that failed for good.
    pub failed: AtomicU64,
    /// 429 answers received (the subscription was throttled).
    pub throttled: AtomicU64,
    /// Subscriptions disabled by a 410 answer.
    pub disabled: AtomicU64,
    /// Notifications dropped (subscription disabled or throttled for too long).
    pub dropped: AtomicU64,
    /// Attempt outcomes: HTTP status, `timeout` or `error`.
    pub outcomes: Mutex<BTreeMap<String, u64>>,
    /// Notifications per topic.
    pub topics: Mutex<BTreeMap<String, u64>>,
}

impl WebhookCounters {
    /// Counts one attempt outcome.
    pub fn outcome(&self, outcome: &str) {
        *self.outcomes.lock().entry(outcome.to_string()).or_default() += 1;
    }

    /// Counts one notification for a topic.
    pub fn topic(&self, topic: &str) {
        self.notifications.fetch_add(1, Ordering::Relaxed);
        *self.topics.lock().entry(topic.to_string()).or_default() += 1;
    }
}

/// A point-in-time copy of the counters, as served by `GET /_sim/stats`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// All API requests counted.
    pub requests_total: u64,
    /// Requests by endpoint template (`GET /contacts/{id}`, `unmatched` for unknown paths) and
    /// status; status `0` counts connections dropped by a `drop` fault.
    pub requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// Requests refused with 429.
    pub rate_limited: u64,
    /// Webhook delivery figures.
    pub webhooks: WebhookSnapshot,
}

/// Webhook part of a [`StatsSnapshot`].
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WebhookSnapshot {
    /// Notifications created.
    pub notifications: u64,
    /// HTTP attempts.
    pub attempts: u64,
    /// Delivered (2xx).
    pub delivered: u64,
    /// Retries scheduled.
    pub retried: u64,
    /// Failed for good.
    pub failed: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Subscriptions disabled by 410.
    pub disabled: u64,
    /// Notifications dropped.
    pub dropped: u64,
    /// Attempt outcomes by status.
    pub outcomes: BTreeMap<String, u64>,
    /// Notifications by topic.
    pub topics: BTreeMap<String, u64>,
}

impl StatsSnapshot {
    /// Requests counted for an endpoint template and status.
    pub fn count(&self, endpoint: &str, status: u16) -> u64 {
        self.requests.get(endpoint).and_then(|m| m.get(&status.to_string())).copied().unwrap_or(0)
    }
}

impl Stats {
    /// Counts one API request.
    pub fn record(&self, endpoint: &'static str, status: u16) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if status == 429 {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        *self.requests.lock().entry((endpoint, status)).or_default() += 1;
    }

    /// Copies the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut requests: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((endpoint, status), n) in self.requests.lock().iter() {
            requests.entry((*endpoint).to_string()).or_default().insert(status.to_string(), *n);
        }
        let w = &self.webhooks;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            requests_total: load(&self.total),
            requests,
            rate_limited: load(&self.rate_limited),
            webhooks: WebhookSnapshot {
                notifications: load(&w.notifications),
                attempts: load(&w.attempts),
                delivered: load(&w.delivered),
                retried: load(&w.retried),
                failed: load(&w.failed),
                throttled: load(&w.throttled),
                disabled: load(&w.disabled),
                dropped: load(&w.dropped),
                outcomes: w.outcomes.lock().clone(),
                topics: w.topics.lock().clone(),
            },
        }
    }

    /// Resets the request counters (webhook counters too).
    pub fn reset(&self) {
        self.requests.lock().clear();
        self.total.store(0, Ordering::Relaxed);
        self.rate_limited.store(0, Ordering::Relaxed);
        let w = &self.webhooks;
        for a in [
            &w.notifications,
            &w.attempts,
            &w.delivered,
            &w.retried,
            &w.failed,
            &w.throttled,
            &w.disabled,
            &w.dropped,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        w.outcomes.lock().clear();
        w.topics.lock().clear();
    }
}
