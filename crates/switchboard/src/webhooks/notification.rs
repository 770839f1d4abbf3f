//! The Intercom notification envelope as Intercom POSTs it, built in one place for everything in
//! Switchboard that sends one: the sandbox's test command, preflight's ping, the webhook benchmark
//! and the tests. The simulator builds its own on purpose: it is the independent reference these
//! are checked against.

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use switchboard_clock::Clock;

use super::signature;

/// An Intercom `notification_event`, built field by field; [`Notification::to_json`] renders it.
#[derive(Debug, Clone)]
pub struct Notification {
    app_id: String,
    id: String,
    topic: String,
    item: Item,
    created_at: u64,
}

/// `data.item`: a JSON value, or JSON text already checked (cheaper when sending thousands a second).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum Item {
    Value(Value),
    Raw(Box<RawValue>),
}

/// A rendered notification and its `X-Hub-Signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNotification {
    /// The JSON body, byte for byte what was signed.
    pub body: String,
    /// `sha1=<hex HMAC-SHA1(body, client secret)>`.
    pub signature: String,
}

/// The envelope in Intercom's field order.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    app_id: &'a str,
    id: &'a str,
    topic: &'a str,
    data: Data<'a>,
    links: Links,
    #[serde(rename = "self")]
    self_link: Option<()>,
    delivery_status: &'static str,
    delivery_attempts: u32,
    delivered_at: u64,
    first_sent_at: u64,
    created_at: u64,
}

#[derive(Serialize)]
struct Data<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    item: &'a Item,
}

/// `"links": {}` (a braced struct without fields serializes as an empty object).
#[derive(Serialize)]
struct Links {}

impl Notification {
    /// A notification of `topic` from app `app_id`, created now on `clock`, with a fresh
    /// `notif_<uuid>` id and an empty item.
    pub fn new(app_id: impl Into<String>, topic: impl Into<String>, clock: &dyn Clock) -> Self {
        Notification::created(app_id, topic, clock.now_secs())
    }

    /// The same, created at `created_at` (Unix seconds): a load run stamps all its notifications
    /// with one time so a repeat is byte-identical, as Intercom's retries are.
    pub fn created(app_id: impl Into<String>, topic: impl Into<String>, created_at: u64) -> Self {
        Notification {
            app_id: app_id.into(),
            id: format!("notif_{}", uuid::Uuid::new_v4()),
            topic: topic.into(),
            item: Item::Value(Value::Object(serde_json::Map::new())),
            created_at,
        }
    }

    /// Uses `id` instead of a fresh one (a redelivery carries the same id).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The object the notification is about (`data.item`).
    pub fn item(mut self, item: Value) -> Self {
        self.item = Item::Value(item);
        self
    }

    /// `data.item` as JSON text that is already checked, sent verbatim.
    pub fn raw_item(mut self, item: Box<RawValue>) -> Self {
        self.item = Item::Raw(item);
        self
    }

    /// The JSON body, compact, in Intercom's field order; a first delivery attempt.
    pub fn to_json(&self) -> String {
        let envelope = Envelope {
            kind: "notification_event",
            app_id: &self.app_id,
            id: &self.id,
            topic: &self.topic,
            data: Data { kind: "notification_event_data", item: &self.item },
            links: Links {},
            self_link: None,
            delivery_status: "pending",
            delivery_attempts: 1,
            delivered_at: 0,
            first_sent_at: self.created_at,
            created_at: self.created_at,
        };
        #[expect(
            clippy::expect_used,
            reason = "strings, integers and JSON values always serialize: nothing here can fail"
        )]
        serde_json::to_string(&envelope).expect("a notification envelope always serializes")
    }

    /// The body and its `X-Hub-Signature` under the app's `client_secret`, as Intercom sends them.
    pub fn signed(&self, client_secret: &[u8]) -> SignedNotification {
        let body = self.to_json();
        let signature = signature::sign(client_secret, body.as_bytes());
        SignedNotification { body, signature }
    }
}

#[cfg(test)]
mod tests {
    use switchboard_clock::ManualClock;

    use super::*;
    use crate::secrets::Secret;

    #[test]
    fn renders_intercoms_envelope_in_intercoms_field_order() {
        let clock = ManualClock::at_secs(1_392_731_331);
        let body = Notification::new("a86dr8yl", "company.created", &clock)
            .id("notif_ccd8a4d0")
            .item(serde_json::json!({ "type": "company", "id": "531ee472" }))
            .to_json();
        assert_eq!(
            body,
            r#"{"type":"notification_event","app_id":"a86dr8yl","id":"notif_ccd8a4d0","topic":"company.created","data":{"type":"notification_event_data","item":{"id":"531ee472","type":"company"}},"links":{},"self":null,"delivery_status":"pending","delivery_attempts":1,"delivered_at":0,"first_sent_at":1392731331,"created_at":1392731331}"#
        );
    }

    #[test]
    fn defaults_to_a_fresh_id_an_empty_item_and_the_clocks_time() {
        let clock = ManualClock::at_secs(1_800_000_000);
        let first: Value = serde_json::from_str(&Notification::new("app", "ping", &clock).to_json()).unwrap();
        let second: Value =
            serde_json::from_str(&Notification::new("app", "ping", &clock).to_json()).unwrap();
        assert!(first["id"].as_str().unwrap().starts_with("notif_"), "{first}");
        assert_ne!(first["id"], second["id"], "each notification gets its own id");
        assert_eq!(first["data"]["item"], serde_json::json!({}));
        assert_eq!(first["created_at"], 1_800_000_000);
        let older = Notification::created("app", "ping", 1_700_000_000).to_json();
        let older: Value = serde_json::from_str(&older).unwrap();
        assert_eq!(
            (older["created_at"].as_u64(), older["first_sent_at"].as_u64()),
            (Some(1_700_000_000), Some(1_700_000_000))
        );
    }

    #[test]
    fn a_raw_item_is_sent_verbatim() {
        let clock = ManualClock::at_secs(1);
        let item =
            RawValue::from_string(r#"{"type":"contact","id":"c1","name":"Load Test 1"}"#.into()).unwrap();
        let body = Notification::new("app", "contact.user.created", &clock).raw_item(item).to_json();
        assert!(body.contains(r#""item":{"type":"contact","id":"c1","name":"Load Test 1"}"#), "{body}");
    }

    #[test]
    fn the_signature_is_what_the_ingress_verifies() {
        let clock = ManualClock::at_secs(1_800_000_000);
        let signed = Notification::new("app", "ping", &clock).signed(b"client-secret");
        let secret = Secret::generated("webhooks.client_secrets[0]", "client-secret");
        assert!(signature::verify(Some(&signed.signature), signed.body.as_bytes(), &[secret]).is_ok());
    }
}
