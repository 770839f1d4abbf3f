//! Notification channels: a generic JSON webhook, a Slack-compatible incoming webhook and
//! Alertmanager's `POST /api/v2/alerts`.
//!
//! Each channel has its own bounded queue and worker, so a slow or failing receiver delays only
//! itself. The engine only ever pushes onto a queue (a short lock, never an await); when a queue is
//! full the oldest notification is dropped with a warning. A failed send is retried with
//! exponential backoff (`alerts.notify.backoff` doubling up to `max_backoff`); 4xx answers other
//! than 408 and 429 are not retried, since sending the same body again cannot succeed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchboard_clock::{Clock, SharedClock};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::rules::RuleParams;
use super::settings::{AlertSettings, ChannelKind, ChannelSettings, NotifySettings};
use crate::delivery::signing;
use crate::secrets::{Secret, SecretSlot};

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// It started firing.
    Firing,
    /// It resolved.
    Resolved,
    /// It is still firing (Alertmanager only: it expires alerts that are not sent again).
    Repeat,
}

/// One notification, rendered per channel when sent.
#[derive(Debug, Clone)]
pub(crate) struct AlertEvent {
    pub kind: EventKind,
    pub rule: RuleParams,
    pub value: Option<f64>,
    pub starts_at: SystemTime,
    pub at: SystemTime,
    // How long Alertmanager should consider a firing alert current without hearing from us.
    pub valid_for: Duration,
}

impl AlertEvent {
    pub fn new(
        kind: EventKind,
        rule: &RuleParams,
        value: Option<f64>,
        starts_at: SystemTime,
        at: SystemTime,
        resend: Duration,
    ) -> Self {
        // Prometheus' rule: four resend intervals, so a few lost sends do not resolve the alert.
        AlertEvent { kind, rule: rule.clone(), value, starts_at, at, valid_for: resend * 4 }
    }

    fn firing(&self) -> bool {
        self.kind != EventKind::Resolved
    }

    fn value_text(&self) -> String {
        self.value.map(|v| self.rule.format_value(v)).unwrap_or_else(|| "no data".into())
    }

    fn threshold_text(&self) -> String {
        format!("{} {}", self.rule.id.op().symbol(), self.rule.format_value(self.rule.threshold))
    }

    /// One line: "[P1] IntercomUnreachable firing: value 14 (threshold > 10)".
    fn summary(&self) -> String {
        format!(
            "[{}] {} {}: value {} (threshold {})",
            self.rule.severity,
            self.rule.id.alert_name(),
            if self.firing() { "firing" } else { "resolved" },
            self.value_text(),
            self.threshold_text()
        )
    }

    fn alert_json(&self) -> Value {
        json!({
            "name": self.rule.id.alert_name(),
            "rule": self.rule.id.key(),
            "severity": self.rule.severity,
            "state": if self.firing() { "firing" } else { "resolved" },
            "since": super::format_time(if self.firing() { self.starts_at } else { self.at }),
            "startsAt": super::format_time(self.starts_at),
            "endsAt": (!self.firing()).then(|| super::format_time(self.at)),
            "value": self.value,
            "threshold": self.rule.threshold,
            "summary": self.summary(),
            "description": self.rule.description(),
        })
    }

    /// The generic webhook body.
    pub fn webhook_body(&self) -> Value {
        json!({
            "type": if self.firing() { "alert.firing" } else { "alert.resolved" },
            "source": "switchboard",
            "alert": self.alert_json(),
        })
    }

    /// The Slack body: `text` (what notifications and old clients show) and a block layout.
    pub fn slack_body(&self) -> Value {
        let icon = match (self.firing(), self.rule.severity) {
            (false, _) => ":white_check_mark:",
            (true, super::Severity::P1) => ":rotating_light:",
            (true, _) => ":warning:",
        };
        let text = format!("{icon} {}", self.summary());
        json!({
            "text": text,
            "blocks": [
                { "type": "section", "text": { "type": "mrkdwn", "text": format!("{icon} *{}*", self.summary()) } },
                { "type": "section", "text": { "type": "plain_text", "text": self.rule.description() } },
                { "type": "context", "elements": [
                    { "type": "mrkdwn", "text": format!("since {}", super::format_time(if self.firing() { self.starts_at } else { self.at })) }
                ] }
            ]
        })
    }

    /// The Alertmanager body: a list of one alert; `endsAt` in the future while firing, the
    /// resolution time once resolved.
    pub fn alertmanager_body(&self) -> Value {
        let ends_at = if self.firing() { self.at + self.valid_for } else { self.at };
        json!([{
            "labels": {
                "alertname": self.rule.id.alert_name(),
                "severity": self.rule.severity,
                "service": "switchboard",
                "rule": self.rule.id.key(),
            },
            "annotations": {
                "summary": self.summary(),
                "description": self.rule.description(),
                "value": self.value_text(),
                "threshold": self.threshold_text(),
            },
            "startsAt": super::format_time(self.starts_at),
            "endsAt": super::format_time(ends_at),
        }])
    }
}

#[derive(Debug)]
struct Queued {
    id: u64,
    event: Arc<AlertEvent>,
}

/// One channel: its target, its queue and what it dropped.
#[derive(Debug)]
struct Channel {
    index: usize,
    settings: ChannelSettings,
    secret: Mutex<Option<Secret>>,
    queue: Mutex<VecDeque<Queued>>,
    wake: Notify,
    capacity: usize,
    dropped: AtomicU64,
    next_id: AtomicU64,
}

impl Channel {
    /// How the channel is named in logs: kind, index and the redacted target.
    fn label(&self) -> String {
        let target = match (&self.settings.url, &self.settings.secret) {
            (Some(url), _) => url.redacted(),
            (None, Some(reference)) => format!("URL from {reference}"),
            (None, None) => "no URL".into(),
        };
        format!("{} channel {} ({target})", self.settings.kind.as_str(), self.index)
    }

    fn push(&self, event: Arc<AlertEvent>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let dropped = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let dropped = if queue.len() >= self.capacity { queue.pop_front() } else { None };
            queue.push_back(Queued { id, event });
            dropped
        };
        if let Some(old) = dropped {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                channel = %self.label(),
                alert = old.event.rule.id.alert_name(),
                capacity = self.capacity,
                "alert notification queue full (the channel keeps failing); dropped the oldest notification"
            );
        }
        self.wake.notify_one();
    }

    fn front(&self) -> Option<(u64, Arc<AlertEvent>)> {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.front().map(|q| (q.id, q.event.clone()))
    }

    fn remove(&self, id: u64) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        // The item may have been dropped for space while it was being sent.
        if queue.front().is_some_and(|q| q.id == id) {
            queue.pop_front();
        }
    }
}

/// Every channel of one engine.
#[derive(Debug)]
pub(crate) struct Notifier {
    channels: Vec<Arc<Channel>>,
    client: reqwest::Client,
    /// The wall clock that stamps signatures (`webhook-timestamp`).
    clock: SharedClock,
}

/// Why one send failed.
enum SendError {
    /// Worth retrying (network, timeout, 5xx, 408, 429).
    Retry(String),
    /// Retrying the same request cannot succeed.
    Permanent(String),
}

/// The running workers; dropping or shutting it down stops them.
#[derive(Debug)]
pub(crate) struct Workers(JoinSet<()>);

impl Workers {
    /// Stops every worker (queued notifications are abandoned: the process is stopping).
    pub async fn shutdown(mut self) {
        self.0.shutdown().await;
    }
}

impl Notifier {
    pub fn new(settings: &AlertSettings, clock: SharedClock) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.notify.timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let channels = settings
            .channels
            .iter()
            .enumerate()
            .map(|(index, c)| {
                Arc::new(Channel {
                    index,
                    settings: c.clone(),
                    secret: Mutex::new(None),
                    queue: Mutex::new(VecDeque::new()),
                    wake: Notify::new(),
                    capacity: settings.notify.queue_capacity.max(1),
                    dropped: AtomicU64::new(0),
                    next_id: AtomicU64::new(0),
                })
            })
            .collect();
        Ok(Notifier { channels, client, clock })
    }

    pub fn set_secrets(&self, secrets: &[Secret]) {
        for channel in &self.channels {
            let key = SecretSlot::AlertChannelSecret(channel.index).to_string();
            if let Some(secret) = secrets.iter().find(|s| s.key() == key) {
                *channel.secret.lock().unwrap_or_else(PoisonError::into_inner) = Some(secret.clone());
            }
        }
    }

    /// Queues `event` on every channel that wants it. Never blocks.
    pub fn enqueue(&self, event: AlertEvent) {
        let event = Arc::new(event);
        for channel in &self.channels {
            if event.kind == EventKind::Repeat && channel.settings.kind != ChannelKind::Alertmanager {
                continue;
            }
            channel.push(event.clone());
        }
    }

    pub fn dropped(&self) -> Vec<u64> {
        self.channels.iter().map(|c| c.dropped.load(Ordering::Relaxed)).collect()
    }

    pub fn queued(&self) -> Vec<usize> {
        self.channels.iter().map(|c| c.queue.lock().unwrap_or_else(PoisonError::into_inner).len()).collect()
    }

    /// Starts one worker per channel.
    pub fn spawn_workers(&self, settings: AlertSettings) -> Workers {
        let mut set = JoinSet::new();
        for channel in &self.channels {
            set.spawn(work(
                channel.clone(),
                self.client.clone(),
                self.clock.clone(),
                settings.notify.clone(),
            ));
        }
        Workers(set)
    }
}

async fn work(channel: Arc<Channel>, client: reqwest::Client, clock: SharedClock, settings: NotifySettings) {
    let mut backoff = settings.backoff;
    loop {
        let Some((id, event)) = channel.front() else {
            // `notify_one` stores a permit when nobody waits, so a push between the check and
            // this await is not lost.
            channel.wake.notified().await;
            continue;
        };
        match send(&channel, &client, clock.as_ref(), &event).await {
            Ok(()) => {
                channel.remove(id);
                backoff = settings.backoff;
                tracing::debug!(channel = %channel.label(), alert = event.rule.id.alert_name(), "alert notification sent");
            }
            Err(SendError::Permanent(error)) => {
                channel.remove(id);
                tracing::error!(
                    channel = %channel.label(),
                    alert = event.rule.id.alert_name(),
                    "alert notification refused, not retrying: {error}"
                );
            }
            Err(SendError::Retry(error)) => {
                tracing::warn!(
                    channel = %channel.label(),
                    alert = event.rule.id.alert_name(),
                    retry_in = %humantime::format_duration(backoff),
                    "alert notification failed: {error}"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(settings.max_backoff);
            }
        }
    }
}

async fn send(
    channel: &Channel,
    client: &reqwest::Client,
    clock: &dyn Clock,
    event: &AlertEvent,
) -> Result<(), SendError> {
    let secret = channel.secret.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let kind = channel.settings.kind;
    let needs_secret = channel.settings.secret.is_some();
    if needs_secret && secret.is_none() {
        return Err(SendError::Permanent(format!(
            "{} was not loaded; pass the loaded secrets to AlertEngine::with_channel_secrets",
            SecretSlot::AlertChannelSecret(channel.index)
        )));
    }
    let url = match (&channel.settings.url, kind, &secret) {
        (None, ChannelKind::Slack, Some(secret)) => secret.with_value(|v| v.trim().to_owned()),
        (Some(url), _, _) => url.expose().to_owned(),
        _ => return Err(SendError::Permanent("the channel has no URL".into())),
    };
    if let Err(message) = super::settings::check_url(&url) {
        return Err(SendError::Permanent(format!("the URL {message}")));
    }
    let (url, body) = match kind {
        ChannelKind::Webhook => (url, event.webhook_body()),
        ChannelKind::Slack => (url, event.slack_body()),
        ChannelKind::Alertmanager => (alertmanager_url(&url), event.alertmanager_body()),
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| SendError::Permanent(e.to_string()))?;
    let mut request = client.post(&url).header("content-type", "application/json");
    match (kind, &secret) {
        (ChannelKind::Webhook, Some(secret)) => {
            let id = format!("alert_{}_{}", event.rule.id.key(), super::unix_millis(event.at));
            let timestamp = i64::try_from(clock.now_secs()).unwrap_or(i64::MAX);
            // Loaded and rotated secrets are checked; an unchecked bad one cannot sign anything.
            let key = secret
                .with_value(signing::signing_key)
                .map_err(|e| SendError::Permanent(format!("{}: {e}", secret.key())))?;
            request = request
                .header("webhook-id", id.clone())
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signing::sign(&key, &id, timestamp, &bytes));
        }
        (ChannelKind::Alertmanager, Some(secret)) => {
            request = request.header("authorization", secret.with_value(|v| format!("Bearer {}", v.trim())));
        }
        _ => {}
    }
    let response = request.body(bytes).send().await.map_err(|e| {
        // reqwest puts the URL in its messages; a Slack URL is a credential.
        SendError::Retry(e.without_url().to_string())
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
        Err(SendError::Retry(format!("the receiver answered {status}")))
    } else {
        Err(SendError::Permanent(format!("the receiver answered {status}")))
    }
}

/// Alertmanager's alerts endpoint under the configured base URL.
fn alertmanager_url(base: &str) -> String {
    let trimmed = base.trim_end_matches('/');
    if trimmed.ends_with("/api/v2/alerts") { trimmed.to_owned() } else { format!("{trimmed}/api/v2/alerts") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanager_path_is_appended_once() {
        assert_eq!(alertmanager_url("http://am:9093"), "http://am:9093/api/v2/alerts");
        assert_eq!(alertmanager_url("http://am:9093/"), "http://am:9093/api/v2/alerts");
        assert_eq!(alertmanager_url("http://am:9093/api/v2/alerts"), "http://am:9093/api/v2/alerts");
    }
}
