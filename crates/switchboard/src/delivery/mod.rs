//! Delivery of stored events: claim with a lease, run the built-in handlers, POST to destinations,
//! then record delivered, retry later, or dead-letter. Delivery also owns where events go: topic
//! patterns ([`TopicPattern`]) and the routing table ([`Routing`]) that the ingress asks at ingest,
//! never the other way round.
//!
//! Delivery is at least once. An event reaches a destination more than once only when an attempt's
//! outcome was lost: the destination answered but the result was not recorded (a crash, or a lease
//! lost while the store could not be reached to renew it). Destinations should deduplicate on
//! `webhook-id` (the Intercom notification id, also sent as `X-Intercom-Notification-Id`).
//!
//! Leases: a running attempt renews its lease every third of it, so however long an attempt takes,
//! no other worker takes the delivery over while this one lives. Each claim carries a fencing token,
//! and a result is recorded only with the token of the delivery's latest claim. The dispatcher never
//! claims a delivery it is still attempting, whatever the wall clock does, and each destination gets
//! at most its share of the attempts in flight, so one that hangs cannot hold up the others.

pub mod builtin;
pub mod routing;
pub mod schedule;
pub mod signing;
pub mod topic;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_clock::SharedClock;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

pub use builtin::{BUILTIN_DESTINATION, Builtin};
pub use routing::{Route, Routing};
pub use schedule::RetrySchedule;
pub use topic::{TopicPattern, TopicPatternError};

use crate::secrets::Secret;
use crate::store::{AttemptResult, ClaimExclusions, ClaimedDelivery, Millis, Store, now_millis};
use crate::telemetry::names;

/// A configured HTTP destination.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Its name.
    pub name: String,
    /// Where deliveries are POSTed.
    pub url: url::Url,
    /// The signing secret, if configured.
    pub secret: Option<Secret>,
    /// How long one attempt may take.
    pub timeout: Duration,
}

/// How the dispatcher behaves, from `[delivery]`.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Retry delays.
    pub schedule: RetrySchedule,
    /// Claim lease.
    pub lease: Duration,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// How often to look for due retries when nothing new arrives.
    pub poll_interval: Duration,
}

/// The delivery worker of one process.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    inner: Arc<DispatcherInner>,
}

#[derive(Debug)]
struct DispatcherInner {
    store: Arc<dyn Store>,
    destinations: HashMap<String, Destination>,
    builtin: Builtin,
    http: reqwest::Client,
    settings: DispatchSettings,
    wake: Arc<Notify>,
    owner: String,
    clock: SharedClock,
    /// Attempts in flight, so the dispatcher never claims one of them again and no destination takes
    /// more than its share.
    in_flight: Mutex<InFlight>,
    /// The most attempts in flight at once for one destination.
    share: usize,
}

/// What the dispatcher is attempting now.
#[derive(Debug, Default)]
struct InFlight {
    deliveries: std::collections::HashSet<i64>,
    per_destination: HashMap<String, usize>,
}

/// Marks one attempt in flight until dropped (also when its task panics).
struct Attempting {
    inner: Arc<DispatcherInner>,
    delivery: i64,
    destination: String,
}

impl Attempting {
    fn start(inner: &Arc<DispatcherInner>, delivery: &ClaimedDelivery) -> Self {
        let mut in_flight = inner.in_flight();
        in_flight.deliveries.insert(delivery.id);
        *in_flight.per_destination.entry(delivery.destination.clone()).or_default() += 1;
        Attempting { inner: inner.clone(), delivery: delivery.id, destination: delivery.destination.clone() }
    }
}

impl Drop for Attempting {
    fn drop(&mut self) {
        let mut in_flight = self.inner.in_flight();
        in_flight.deliveries.remove(&self.delivery);
        if let Some(n) = in_flight.per_destination.get_mut(&self.destination) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                in_flight.per_destination.remove(&self.destination);
            }
        }
    }
}

impl DispatcherInner {
    fn in_flight(&self) -> std::sync::MutexGuard<'_, InFlight> {
        // The set stays consistent even if a holder panicked: every change is one insert or remove.
        self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What the next claim must pass over, and how many deliveries it may take so that no
    /// destination goes past its share.
    fn next_claim(&self, free: usize) -> (ClaimExclusions, usize) {
        let in_flight = self.in_flight();
        let mut limit = free;
        let mut destinations = Vec::new();
        for (destination, &n) in &in_flight.per_destination {
            if n >= self.share {
                destinations.push(destination.clone());
            } else {
                // One claim could otherwise hand this destination more than its remaining share.
                limit = limit.min(self.share - n);
            }
        }
        (ClaimExclusions { deliveries: in_flight.deliveries.iter().copied().collect(), destinations }, limit)
    }
}

impl Dispatcher {
    /// A dispatcher delivering from `store` to `destinations`; `wake` is notified by the ingress.
    /// Leases, retry times and `webhook-timestamp` are read from `clock`.
    pub fn new(
        store: Arc<dyn Store>,
        destinations: Vec<Destination>,
        builtin: Builtin,
        settings: DispatchSettings,
        wake: Arc<Notify>,
        clock: SharedClock,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
            // Destinations get the original body; following redirects would re-send it elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        // Each destination gets an equal share of the slots (the built-in handlers are local and
        // quick, so they take none from the destinations' shares).
        let share = settings.concurrency.div_ceil(destinations.len().max(1)).max(1);
        Ok(Dispatcher {
            inner: Arc::new(DispatcherInner {
                store,
                destinations: destinations.into_iter().map(|d| (d.name.clone(), d)).collect(),
                builtin,
                http,
                settings,
                wake,
                owner,
                clock,
                in_flight: Mutex::new(InFlight::default()),
                share,
            }),
        })
    }

    /// Delivers until `shutdown` turns true, then waits for attempts in flight (up to the lease;
    /// whatever is still unfinished returns to the queue when its lease expires).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let inner = &self.inner;
        let permits = Arc::new(Semaphore::new(inner.settings.concurrency));
        let mut attempts = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            while attempts.try_join_next().is_some() {}
            let free = permits.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = attempts.join_next() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let (except, limit) = inner.next_claim(free);
            let claimed = if limit == 0 {
                Ok(Vec::new())
            } else {
                inner.store.claim_except(&inner.owner, self.now(), inner.settings.lease, limit, &except).await
            };
            let claimed = match claimed {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::error!(%error, "cannot claim deliveries; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(inner.settings.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    () = inner.wake.notified() => {}
                    () = tokio::time::sleep(inner.settings.poll_interval) => {}
                    // A finished attempt may leave its destination room under its share.
                    Some(_) = attempts.join_next() => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            for delivery in claimed {
                // The claim asked for no more than the free permits, and only this loop takes them.
                let Ok(permit) = permits.clone().try_acquire_owned() else { break };
                let attempting = Attempting::start(&self.inner, &delivery);
                let this = self.clone();
                attempts.spawn(async move {
                    let result = this.attempt_renewing(&delivery).await;
                    match this.inner.store.complete(&this.inner.owner, this.now(), vec![(delivery.claim(), result)]).await {
                        Ok(0) => tracing::warn!(
                            destination = %delivery.destination,
                            delivery = delivery.id,
                            "the result of a delivery attempt was not recorded: its lease was lost and the delivery \
                             claimed again; the newer claim's result counts"
                        ),
                        Ok(_) => {}
                        // The lease will expire and the delivery will be attempted again: at least once.
                        Err(error) => {
                            tracing::error!(%error, delivery = delivery.id, "cannot record a delivery result")
                        }
                    }
                    // Only now may the delivery be claimed again: its result is recorded (or refused).
                    drop(attempting);
                    drop(permit);
                });
            }
        }
        // Attempts in flight finish within their destination's timeout; waiting longer (up to the
        // lease) would only eat into the orchestrator's grace period before it kills the process.
        let longest = inner.destinations.values().map(|d| d.timeout).max().unwrap_or_default();
        let drain = async { while attempts.join_next().await.is_some() {} };
        if tokio::time::timeout(longest + Duration::from_secs(1), drain).await.is_err() {
            tracing::warn!(
                "deliveries still in flight at shutdown return to the queue when their leases expire"
            );
        }
    }

    /// The dispatcher's clock as store time.
    fn now(&self) -> Millis {
        now_millis(self.inner.clock.as_ref())
    }

    /// Runs one attempt and renews its lease every third of the lease until it ends, so that no
    /// other worker takes the delivery over however long the attempt takes. The renewals are timed
    /// on tokio's monotonic clock, so a wall-clock jump cannot hold them back.
    async fn attempt_renewing(&self, delivery: &ClaimedDelivery) -> AttemptResult {
        let inner = &self.inner;
        let every = inner.settings.lease / 3;
        let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let attempt = self.attempt(delivery);
        tokio::pin!(attempt);
        let mut held = true;
        loop {
            tokio::select! {
                result = &mut attempt => return result,
                _ = renewals.tick(), if held => {
                    match inner.store.renew(&inner.owner, self.now(), inner.settings.lease, vec![delivery.claim()]).await {
                        Ok(0) => {
                            held = false;
                            tracing::warn!(
                                destination = %delivery.destination,
                                delivery = delivery.id,
                                "lost the lease of a delivery still being attempted; another attempt may \
                                 run beside this one, and only the newer one's result will be recorded"
                            );
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, delivery = delivery.id, "cannot renew a delivery's lease; will try again"),
                    }
                }
            }
        }
    }

    async fn attempt(&self, delivery: &ClaimedDelivery) -> AttemptResult {
        let inner = &self.inner;
        let started = Instant::now();
        let attempt_number = delivery.attempts + 1;
        let (outcome, label) = if delivery.destination == BUILTIN_DESTINATION {
            match inner.builtin.handle(delivery).await {
                Ok(()) => (Outcome::Delivered(None), "delivered"),
                Err(error) => (Outcome::Failed { status: None, error, retry_after: None }, "failed"),
            }
        } else if let Some(destination) = inner.destinations.get(&delivery.destination) {
            let outcome = self.post(destination, delivery).await;
            let label = match &outcome {
                Outcome::Delivered(_) => "delivered",
                Outcome::Gone => "gone",
                Outcome::Failed { .. } => "failed",
            };
            (outcome, label)
        } else {
            let error = format!(
                "destination {:?} is no longer configured; add it back and replay, or ignore",
                delivery.destination
            );
            return AttemptResult::Dead { status: None, error };
        };
        metrics::counter!(
            names::DELIVERY_ATTEMPTS,
            "destination" => delivery.destination.clone(),
            "result" => label
        )
        .increment(1);
        metrics::histogram!(names::DELIVERY_SECONDS, "destination" => delivery.destination.clone())
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Outcome::Delivered(status) => AttemptResult::Delivered { status },
            Outcome::Gone => {
                let reason = "answered 410 Gone".to_owned();
                tracing::error!(
                    destination = %delivery.destination,
                    "DESTINATION DISABLED: it answered 410 Gone. Its deliveries are kept queued and will not be \
                     attempted until it is enabled again (switchboard destinations enable NAME)"
                );
                if let Err(error) = inner
                    .store
                    .set_destination_disabled(&delivery.destination, Some((self.now(), reason.clone())))
                    .await
                {
                    tracing::error!(%error, "cannot record the disabled destination");
                }
                AttemptResult::Retry { at: self.now(), status: Some(410), error: reason }
            }
            Outcome::Failed { status, error, retry_after } => {
                match inner.settings.schedule.next_delay(attempt_number, retry_after) {
                    Some(delay) => {
                        tracing::warn!(
                            destination = %delivery.destination,
                            attempt = attempt_number,
                            retry_in = %humantime::format_duration(Duration::from_millis(delay.as_millis() as u64)),
                            "delivery failed: {error}"
                        );
                        AttemptResult::Retry { at: self.now() + delay.as_millis() as i64, status, error }
                    }
                    None => {
                        tracing::error!(
                            destination = %delivery.destination,
                            attempts = attempt_number,
                            "delivery dead-lettered after its last attempt: {error}"
                        );
                        metrics::counter!(
                            names::DEAD_LETTERS,
                            "destination" => delivery.destination.clone()
                        )
                        .increment(1);
                        AttemptResult::Dead { status, error }
                    }
                }
            }
        }
    }

    async fn post(&self, destination: &Destination, delivery: &ClaimedDelivery) -> Outcome {
        let timestamp = self.now() / 1000;
        let mut request = self
            .inner
            .http
            .post(destination.url.clone())
            .timeout(destination.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.notification_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("x-intercom-topic", &delivery.topic)
            .header("x-intercom-notification-id", &delivery.notification_id)
            .header("x-switchboard-app", &delivery.app)
            .header("x-switchboard-attempt", (delivery.attempts + 1).to_string());
        if let Some(secret) = &destination.secret {
            let signature = secret.with_value(|value| {
                let key = signing::signing_key(value)?;
                Ok(signing::sign(&key, &delivery.notification_id, timestamp, &delivery.body))
            });
            match signature {
                Ok(signature) => request = request.header("webhook-signature", signature),
                // Loaded and rotated secrets are checked, so only an unchecked one gets here; sending
                // it signed with the wrong key or unsigned would both be worse than retrying later.
                Err(signing::InvalidSigningSecret) => {
                    return Outcome::Failed {
                        status: None,
                        error: format!("{}: {}", secret.key(), signing::InvalidSigningSecret),
                        retry_after: None,
                    };
                }
            }
        }
        match request.body(delivery.body.clone()).send().await {
            Ok(response) if response.status().is_success() => {
                Outcome::Delivered(Some(response.status().as_u16()))
            }
            Ok(response) if response.status() == reqwest::StatusCode::GONE => Outcome::Gone,
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| schedule::parse_retry_after(v, self.inner.clock.now()));
                Outcome::Failed { status: Some(status), error: format!("HTTP {status}"), retry_after }
            }
            Err(error) => Outcome::Failed {
                status: None,
                error: describe(error, destination.timeout),
                retry_after: None,
            },
        }
    }
}

/// What went wrong with a request, for `last_error` and the logs: reqwest's own text ("error sending
/// request") says nothing of it, so the causes are looked at.
fn describe(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {}", humantime::format_duration(timeout));
    }
    if error.is_connect() {
        return "connection failed".to_owned();
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
            )
        {
            return "the destination reset the connection before answering".to_owned();
        }
        if cause.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_incomplete_message) {
            return "the destination closed the connection before answering".to_owned();
        }
        causes.push(cause.to_string());
        source = cause.source();
    }
    // Without the URL: destination URLs sometimes carry a token of their own.
    std::iter::once(error.without_url().to_string()).chain(causes).collect::<Vec<_>>().join(": ")
}

enum Outcome {
    Delivered(Option<u16>),
    Gone,
    Failed { status: Option<u16>, error: String, retry_after: Option<Duration> },
}
