//! Webhooks as Intercom sends them: subscriptions validated with a HEAD request, the
//! `notification_event` envelope signed with `X-Hub-Signature: sha1=<hex HMAC-SHA1(body, client secret)>`,
//! a 5 s timeout, one retry after 60 s (`delivery_attempts: 2`, `delivery_status: "retry"`), 410
//! disabling the subscription and 429 throttling it.
//!
//! Deliveries run on their own tasks; an API response never waits for one. Retry and throttle
//! delays sleep on the simulator's [`Clock`](crate::clock::Clock), so a test on the manual clock
//! triggers a retry by advancing time, and can await [`DeliveryEvent`]s instead of polling.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use parking_lot::RwLock;
use serde::Serialize;
use serde_json::{Value, json};
use sha1::Sha1;
use tokio::sync::broadcast;

use crate::config::WebhookConfig;
use crate::errors::SimError;
use crate::state::SimState;

/// `User-Agent` of Intercom's webhook sender.
pub const USER_AGENT: &str = "intercom-parrot-service-client/1.0";

/// Topics the simulator emits from API state changes (plus `ping`).
pub const TOPICS: &[&str] = &[
    "ping",
    "contact.user.created",
    "contact.lead.created",
    "contact.user.updated",
    "contact.lead.updated",
    "contact.deleted",
    "contact.archived",
    "contact.unarchive",
    "contact.merged",
    "contact.user.tag.created",
    "contact.user.tag.deleted",
    "contact.lead.tag.created",
    "contact.lead.tag.deleted",
    "company.created",
    "company.updated",
    "company.deleted",
    "company.contact.attached",
    "company.contact.detached",
    "conversation.user.created",
    "conversation.user.replied",
    "conversation.admin.replied",
    "conversation.admin.noted",
    "conversation.admin.closed",
    "conversation.admin.opened",
    "conversation.admin.snoozed",
    "conversation.admin.assigned",
];

/// `sha1=<hex>` signature of `body` keyed by `secret`, as in `X-Hub-Signature`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so creating it cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A webhook subscription of one app.
#[derive(Debug)]
pub struct Subscription {
    /// Subscription id (`sub_…`).
    pub id: String,
    /// The app that owns it (signs with its client secret).
    pub app_id: String,
    /// Workspace whose events it receives.
    pub workspace_id: String,
    /// Target URL.
    pub url: String,
    /// Subscribed topics; empty means every topic. `ping` is always subscribed.
    pub topics: Vec<String>,
    active: AtomicBool,
    throttled_until_ms: AtomicU64,
    consecutive_429: AtomicU64,
}

impl Subscription {
    fn wants(&self, topic: &str) -> bool {
        topic == "ping" || self.topics.is_empty() || self.topics.iter().any(|t| t == topic)
    }

    /// False once a 410 answer disabled it.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    fn view(&self) -> SubscriptionView {
        SubscriptionView {
            id: self.id.clone(),
            app_id: self.app_id.clone(),
            url: self.url.clone(),
            topics: self.topics.clone(),
            active: self.is_active(),
            throttled_until_ms: match self.throttled_until_ms.load(Ordering::Acquire) {
                0 => None,
                t => Some(t),
            },
        }
    }
}

/// A subscription as reported to tests and `GET /_sim/webhooks/subscriptions`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubscriptionView {
    /// Id.
    pub id: String,
    /// Owning app.
    pub app_id: String,
    /// URL.
    pub url: String,
    /// Topics (empty: all).
    pub topics: Vec<String>,
    /// Still receiving notifications.
    pub active: bool,
    /// Throttled until (epoch ms) after a 429.
    pub throttled_until_ms: Option<u64>,
}

/// What happened to a notification, broadcast to tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// Answered 2xx.
    Delivered {
        /// HTTP status.
        status: u16,
    },
    /// The first attempt failed; the retry will be sent at `retry_at_ms`.
    RetryScheduled {
        /// Status or error of the failed attempt.
        reason: String,
        /// Epoch ms of the retry.
        retry_at_ms: u64,
    },
    /// The last attempt failed; the notification is marked failed.
    Failed {
        /// Status or error.
        reason: String,
    },
    /// 429: the subscription is throttled until `until_ms`.
    Throttled {
        /// Epoch ms.
        until_ms: u64,
    },
    /// 410: the subscription was disabled.
    Disabled,
    /// Dropped without sending (disabled subscription, or throttled for too long).
    Dropped {
        /// Why.
        reason: String,
    },
}

/// One delivery event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryEvent {
    /// `notif_…` id.
    pub notification_id: String,
    /// Subscription.
    pub subscription_id: String,
    /// Topic.
    pub topic: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// Outcome.
    #[serde(flatten)]
    pub outcome: DeliveryOutcome,
}

/// Subscriptions and delivery machinery.
#[derive(Debug)]
pub struct Webhooks {
    subs: RwLock<Vec<Arc<Subscription>>>,
    count: AtomicUsize,
    next_id: AtomicU64,
    client: reqwest::Client,
    /// Timing.
    pub config: WebhookConfig,
    events: broadcast::Sender<DeliveryEvent>,
}

impl Webhooks {
    /// Delivery machinery with the given timing.
    pub fn new(config: WebhookConfig) -> Result<Self, SimError> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| SimError::Config(format!("cannot build the webhook HTTP client: {e}")))?;
        let (events, _) = broadcast::channel(4096);
        Ok(Self {
            subs: RwLock::new(Vec::new()),
            count: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            client,
            config,
            events,
        })
    }

    /// Receives every delivery event from now on.
    pub fn subscribe_events(&self) -> broadcast::Receiver<DeliveryEvent> {
        self.events.subscribe()
    }

    /// True when some active subscription belongs to an app of this workspace.
    pub fn has_subscribers(&self, workspace_id: &str) -> bool {
        self.count.load(Ordering::Acquire) > 0
            && self.subs.read().iter().any(|s| s.workspace_id == workspace_id && s.is_active())
    }

    /// All subscriptions.
    pub fn list(&self) -> Vec<SubscriptionView> {
        self.subs.read().iter().map(|s| s.view()).collect()
    }

    /// Validates `url` with a HEAD request (as Intercom does) and adds the subscription.
    pub async fn add(
        &self,
        app_id: &str,
        workspace_id: &str,
        url: &str,
        topics: Vec<String>,
    ) -> Result<SubscriptionView, SimError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| SimError::WebhookValidation {
            url: url.into(),
            reason: format!("not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SimError::WebhookValidation {
                url: url.into(),
                reason: "the scheme must be http or https".into(),
            });
        }
        if let Some(bad) = topics.iter().find(|t| t.trim().is_empty()) {
            return Err(SimError::Control(format!("invalid topic {bad:?}")));
        }
        if self.config.validate_urls {
            let response = self
                .client
                .head(url)
                .timeout(self.config.timeout)
                .send()
                .await
                .map_err(|e| SimError::WebhookValidation { url: url.into(), reason: describe(&e) })?;
            if !response.status().is_success() {
                return Err(SimError::WebhookValidation {
                    url: url.into(),
                    reason: format!("HEAD answered {}", response.status()),
                });
            }
        }
        let id = format!("sub_{}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let sub = Arc::new(Subscription {
            id,
            app_id: app_id.into(),
            workspace_id: workspace_id.into(),
            url: url.into(),
            topics,
            active: AtomicBool::new(true),
            throttled_until_ms: AtomicU64::new(0),
            consecutive_429: AtomicU64::new(0),
        });
        let view = sub.view();
        self.subs.write().push(sub);
        self.count.fetch_add(1, Ordering::AcqRel);
        Ok(view)
    }

    /// Removes a subscription; false if there was none with that id.
    pub fn remove(&self, id: &str) -> bool {
        let mut subs = self.subs.write();
        let before = subs.len();
        subs.retain(|s| s.id != id);
        let removed = subs.len() != before;
        if removed {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
        removed
    }

    fn matching(&self, workspace_id: &str, app_id: Option<&str>, topic: &str) -> Vec<Arc<Subscription>> {
        self.subs
            .read()
            .iter()
            .filter(|s| {
                s.is_active()
                    && s.workspace_id == workspace_id
                    && app_id.is_none_or(|a| a == s.app_id)
                    && s.wants(topic)
            })
            .cloned()
            .collect()
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("connection failed: {e}")
    } else {
        e.to_string()
    }
}

/// Sends a notification for `topic` to every matching subscription of the workspace (or of one
/// app), each on its own task. Returns the number of notifications created.
pub fn dispatch(
    sim: &Arc<SimState>,
    workspace_id: &str,
    app_id: Option<&str>,
    topic: &str,
    item: Value,
) -> usize {
    let subs = sim.webhooks.matching(workspace_id, app_id, topic);
    let created_ms = sim.clock.now_millis();
    let mut sent = 0;
    for sub in subs {
        let Some(app) = sim.app(&sub.app_id) else { continue };
        sim.stats.webhooks.topic(topic);
        let job = Job {
            notification_id: format!("notif_{}", uuid::Uuid::new_v4()),
            topic: topic.to_string(),
            item: item.clone(),
            app_id: app.creds.app_id.clone(),
            secret: app.creds.client_secret.clone(),
            created_ms,
        };
        tokio::spawn(deliver(sim.clone(), sub, job));
        sent += 1;
    }
    sent
}

#[derive(Debug)]
struct Job {
    notification_id: String,
    topic: String,
    item: Value,
    app_id: String,
    secret: String,
    created_ms: u64,
}

enum Attempt {
    Success(u16),
    Gone,
    TooMany,
    Failure(String),
}

async fn deliver(sim: Arc<SimState>, sub: Arc<Subscription>, job: Job) {
    let wh = &sim.webhooks;
    let counters = &sim.stats.webhooks;
    let cfg = &wh.config;
    let mut attempts: u32 = 0;
    let mut failures = 0;
    let mut first_sent_at: Option<u64> = None;
    let event = |attempts: u32, outcome: DeliveryOutcome| {
        // Nobody listening is normal outside tests.
        let _ = wh.events.send(DeliveryEvent {
            notification_id: job.notification_id.clone(),
            subscription_id: sub.id.clone(),
            topic: job.topic.clone(),
            attempts,
            outcome,
        });
    };
    loop {
        if !sub.is_active() {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            event(attempts, DeliveryOutcome::Dropped { reason: "subscription disabled".into() });
            return;
        }
        let now = sim.clock.now_millis();
        let until = sub.throttled_until_ms.load(Ordering::Acquire);
        if until > now {
            if until.saturating_sub(job.created_ms) > cfg.max_throttle.as_millis() as u64 {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
                event(
                    attempts,
                    DeliveryOutcome::Dropped { reason: "throttled for longer than the maximum delay".into() },
                );
                return;
            }
            sim.clock.sleep(Duration::from_millis(until - now)).await;
            continue;
        }
        attempts += 1;
        let sent_at = *first_sent_at.get_or_insert(now / 1000);
        let envelope = json!({
            "type": "notification_event",
            "app_id": job.app_id,
            "id": job.notification_id,
            "topic": job.topic,
            "data": { "type": "notification_event_data", "item": job.item },
            "links": {},
            "self": null,
            "delivery_status": if attempts == 1 { "pending" } else { "retry" },
            "delivery_attempts": attempts,
            "delivered_at": 0,
            "first_sent_at": sent_at,
            "created_at": job.created_ms / 1000,
        });
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        let signature = sign(&job.secret, &body);
        counters.attempts.fetch_add(1, Ordering::Relaxed);
        let result = wh
            .client
            .post(&sub.url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("X-Hub-Signature", signature)
            .timeout(cfg.timeout)
            .body(body)
            .send()
            .await;
        let attempt = match result {
            Ok(r) => {
                let status = r.status().as_u16();
                counters.outcome(&status.to_string());
                match status {
                    200..=299 => Attempt::Success(status),
                    410 => Attempt::Gone,
                    429 => Attempt::TooMany,
                    s => Attempt::Failure(format!("HTTP {s}")),
                }
            }
            Err(e) => {
                counters.outcome(if e.is_timeout() { "timeout" } else { "error" });
                Attempt::Failure(describe(&e))
            }
        };
        match attempt {
            Attempt::Success(status) => {
                sub.consecutive_429.store(0, Ordering::Release);
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                event(attempts, DeliveryOutcome::Delivered { status });
                return;
            }
            Attempt::Gone => {
                if sub.active.swap(false, Ordering::AcqRel) {
                    counters.disabled.fetch_add(1, Ordering::Relaxed);
                    wh.count.fetch_sub(1, Ordering::AcqRel);
                }
                event(attempts, DeliveryOutcome::Disabled);
                return;
            }
            Attempt::TooMany => {
                counters.throttled.fetch_add(1, Ordering::Relaxed);
                // Each further 429 doubles the delay, from 1 minute up to the 2-hour cap.
                let n = sub.consecutive_429.fetch_add(1, Ordering::AcqRel).min(16);
                let delay = cfg.throttle_delay.saturating_mul(1 << n).min(cfg.max_throttle);
                let until = sim.clock.now_millis() + delay.as_millis() as u64;
                sub.throttled_until_ms.fetch_max(until, Ordering::AcqRel);
                if until.saturating_sub(job.created_ms) > cfg.max_throttle.as_millis() as u64 {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    event(
                        attempts,
                        DeliveryOutcome::Dropped {
                            reason: "throttled for longer than the maximum delay".into(),
                        },
                    );
                    return;
                }
                let sleep = sim.clock.sleep(delay);
                event(attempts, DeliveryOutcome::Throttled { until_ms: until });
                sleep.await;
            }
            Attempt::Failure(reason) => {
                failures += 1;
                if failures >= 2 {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    event(attempts, DeliveryOutcome::Failed { reason });
                    return;
                }
                counters.retried.fetch_add(1, Ordering::Relaxed);
                // The sleep's deadline is fixed before the event goes out, so a test that advances
                // a manual clock on seeing the event always wakes the retry.
                let retry_at_ms = sim.clock.now_millis() + cfg.retry_delay.as_millis() as u64;
                let sleep = sim.clock.sleep(cfg.retry_delay);
                event(attempts, DeliveryOutcome::RetryScheduled { reason, retry_at_ms });
                sleep.await;
            }
        }
    }
}

/// A plausible `data.item` for a topic emitted on demand without one.
pub fn sample_item(sim: &SimState, workspace_id: &str, topic: &str, now: i64) -> Value {
    let ws = sim.workspaces.iter().find(|w| w.id == workspace_id);
    let data = ws.map(|w| w.data.read());
    if topic == "ping" {
        return json!({ "type": "ping", "message": "Something for you to ponder" });
    }
    if let Some(data) = &data {
        if topic.starts_with("contact.")
            && let Some((_, c)) = data.contacts.iter_live().next()
        {
            {
                return match topic {
                    "contact.deleted" => json!({ "type": "contact", "id": c.id, "deleted": true }),
                    "contact.archived" => c.reference("archived", true),
                    "contact.unarchive" => c.reference("archived", false),
                    _ => c.to_value(workspace_id),
                };
            }
        }
        if topic.starts_with("company.")
            && let Some((_, c)) = data.companies.iter().next()
        {
            return c.to_json(workspace_id, data);
        }
        if topic.starts_with("conversation.")
            && let Some(c) = data.conversations.get(401)
        {
            return c.to_json(data, Some(&c.parts));
        }
    }
    let kind = topic.split('.').next().unwrap_or("item");
    json!({ "type": kind, "id": format!("{:024x}", now as u128), "created_at": now })
}
