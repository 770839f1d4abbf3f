//! Webhooks against a recording receiver: HEAD validation, envelope, signature, retry with
//! `delivery_attempts: 2`, 410 disabling, 429 throttling, emit on demand, never blocking the API.

use std::time::Duration;

use axum::http::Method;
use hmac::{Hmac, Mac};
use intercom_sim::{DeliveryEvent, DeliveryOutcome, ManualClock, SimConfig, SimError};
use serde_json::json;
use sha1::Sha1;
use tokio::sync::broadcast;

use crate::support::{Receiver, T0, TestSim};

async fn next_event(rx: &mut broadcast::Receiver<DeliveryEvent>) -> DeliveryEvent {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a delivery event in time")
        .expect("events open")
}

fn verify(secret: &str, body: &[u8], header: &str) -> bool {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    header == format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn head_validation_gates_subscriptions() {
    let t = TestSim::default().await;
    let mut rx = Receiver::start().await;
    rx.head_status(404);
    let err = t.sim.add_webhook_subscription(None, &rx.url, &[]).await.unwrap_err();
    assert!(matches!(err, SimError::WebhookValidation { .. }), "{err}");
    assert_eq!(rx.next().await.method, Method::HEAD);
    rx.head_status(200);
    let sub = t.sim.add_webhook_subscription(None, &rx.url, &[]).await.expect("valid URL");
    assert!(sub.active);
    assert_eq!(rx.next().await.method, Method::HEAD);
    let closed = json!({ "url": "http://127.0.0.1:1/closed" });
    let r = t.control(Method::POST, "/_sim/webhooks/subscriptions", Some(closed)).await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn contact_creation_is_delivered_signed_in_intercoms_envelope() {
    let t = TestSim::default().await;
    let mut rx = t.receiver(&[]).await;
    let contact = t.contact(json!({ "email": "hook@example.com", "external_id": "h1" })).await;
    let got = rx.next_post().await;
    assert_eq!(got.headers["user-agent"], "intercom-parrot-service-client/1.0");
    assert_eq!(got.headers["content-type"], "application/json");
    let signature = got.headers["x-hub-signature"].to_str().expect("ascii");
    assert!(verify(&t.sim.default_app().client_secret, &got.body, signature), "signature {signature}");
    assert!(!verify("wrong-secret", &got.body, signature));

    let env = got.json();
    assert_eq!(env["type"], "notification_event");
    assert_eq!(env["app_id"], t.sim.default_app().app_id.as_str());
    assert!(env["id"].as_str().expect("id").starts_with("notif_"));
    assert_eq!(env["topic"], "contact.user.created");
    assert_eq!(env["data"]["type"], "notification_event_data");
    assert_eq!(env["data"]["item"]["id"], contact["id"]);
    assert_eq!(env["data"]["item"]["type"], "contact");
    assert_eq!(env["delivery_attempts"], 1);
    assert_eq!(env["delivery_status"], "pending");
    assert_eq!(env["links"], json!({}));
    assert!(env["self"].is_null());
    assert!(env["first_sent_at"].is_u64() && env["created_at"].is_u64());

    let id = contact["id"].as_str().expect("id");
    t.delete(&format!("/contacts/{id}")).await;
    let deleted = rx.next_post().await.json();
    assert_eq!(deleted["topic"], "contact.deleted");
    assert_eq!(deleted["data"]["item"], json!({ "type": "contact", "id": id, "deleted": true }));
}

#[tokio::test]
async fn state_changes_emit_their_topics() {
    let t = TestSim::default().await;
    let mut rx = t.receiver(&[]).await;
    let mut topic = async || rx.next_post().await.json()["topic"].as_str().expect("topic").to_string();

    let lead = t.contact(json!({ "role": "lead", "email": "l@example.com" })).await;
    assert_eq!(topic().await, "contact.lead.created");
    let user = t.contact(json!({ "email": "u@example.com" })).await;
    assert_eq!(topic().await, "contact.user.created");
    let uid = user["id"].as_str().expect("id");
    t.put(&format!("/contacts/{uid}"), json!({ "name": "U" })).await;
    assert_eq!(topic().await, "contact.user.updated");
    t.post(&format!("/contacts/{uid}/archive"), json!({})).await;
    assert_eq!(topic().await, "contact.archived");
    t.post(&format!("/contacts/{uid}/unarchive"), json!({})).await;
    assert_eq!(topic().await, "contact.unarchive");
    t.post("/contacts/merge", json!({ "from": lead["id"], "into": uid })).await;
    assert_eq!(topic().await, "contact.merged");
    t.post("/companies", json!({ "company_id": "w1" })).await;
    assert_eq!(topic().await, "company.created");
    t.post("/companies", json!({ "company_id": "w1", "name": "W" })).await;
    assert_eq!(topic().await, "company.updated");

    let conv = t.sim.create_conversation(uid, "help").expect("conversation");
    assert_eq!(topic().await, "conversation.user.created");
    let cid = conv["id"].as_str().expect("id");
    t.post(
        &format!("/conversations/{cid}/reply"),
        json!({ "type": "user", "message_type": "comment", "intercom_user_id": uid, "body": "hi" }),
    )
    .await;
    assert_eq!(topic().await, "conversation.user.replied");
    let admin = t.get("/admins").await.json["admins"][0]["id"].clone();
    t.post(
        &format!("/conversations/{cid}/reply"),
        json!({ "type": "admin", "message_type": "comment", "admin_id": admin, "body": "ok" }),
    )
    .await;
    assert_eq!(topic().await, "conversation.admin.replied");
    t.post(
        &format!("/conversations/{cid}/parts"),
        json!({ "type": "admin", "message_type": "close", "admin_id": admin }),
    )
    .await;
    assert_eq!(topic().await, "conversation.admin.closed");
}

#[tokio::test]
async fn failed_delivery_is_retried_once_with_attempts_2() {
    let clock = ManualClock::at_secs(T0);
    let t = TestSim::manual(&clock, SimConfig::default()).await;
    let mut rx = t.receiver(&[]).await;
    let mut events = t.sim.webhook_events();
    rx.script(&[500]);
    assert_eq!(t.sim.emit_webhook("ping", None).expect("emitted"), 1);
    let first = rx.next_post().await.json();
    assert_eq!(first["delivery_attempts"], 1);
    let ev = next_event(&mut events).await;
    let DeliveryOutcome::RetryScheduled { retry_at_ms, .. } = ev.outcome else {
        panic!("expected a retry, got {ev:?}")
    };
    assert_eq!(retry_at_ms, T0 * 1000 + 60_000, "one retry after 60 s");
    clock.advance(Duration::from_secs(59));
    tokio::task::yield_now().await;
    assert!(rx.rx.try_recv().is_err(), "not before the minute is up");
    clock.advance(Duration::from_secs(1));
    let second = rx.next_post().await.json();
    assert_eq!(second["delivery_attempts"], 2);
    assert_eq!(second["delivery_status"], "retry");
    assert_eq!(second["id"], first["id"], "the same notification is retried");
    assert_eq!(second["first_sent_at"], first["first_sent_at"]);
    assert_eq!(next_event(&mut events).await.outcome, DeliveryOutcome::Delivered { status: 200 });
    let stats = t.sim.stats();
    assert_eq!((stats.webhooks.attempts, stats.webhooks.retried, stats.webhooks.delivered), (2, 1, 1));
}

#[tokio::test]
async fn second_failure_marks_the_notification_failed() {
    let t = TestSim::start(SimConfig::default().webhook_retry_delay(Duration::from_millis(10))).await;
    let mut rx = t.receiver(&[]).await;
    let mut events = t.sim.webhook_events();
    rx.script(&[500, 503]);
    t.sim.emit_webhook("ping", None).expect("emitted");
    assert!(matches!(next_event(&mut events).await.outcome, DeliveryOutcome::RetryScheduled { .. }));
    let ev = next_event(&mut events).await;
    assert_eq!(ev.attempts, 2);
    assert!(matches!(ev.outcome, DeliveryOutcome::Failed { .. }), "{ev:?}");
    assert_eq!(rx.next_post().await.json()["delivery_attempts"], 1);
    assert_eq!(rx.next_post().await.json()["delivery_attempts"], 2);
    assert_eq!(t.sim.stats().webhooks.failed, 1);
}

#[tokio::test]
async fn gone_disables_the_subscription() {
    let t = TestSim::default().await;
    let mut rx = t.receiver(&[]).await;
    let mut events = t.sim.webhook_events();
    rx.script(&[410]);
    t.sim.emit_webhook("ping", None).expect("emitted");
    assert_eq!(next_event(&mut events).await.outcome, DeliveryOutcome::Disabled);
    rx.next_post().await;
    assert!(!t.sim.webhook_subscriptions()[0].active);
    assert_eq!(t.sim.emit_webhook("ping", None).expect("emitted"), 0, "a disabled subscription gets nothing");
    assert_eq!(t.sim.stats().webhooks.disabled, 1);
}

#[tokio::test]
async fn too_many_requests_throttles_then_redelivers() {
    let clock = ManualClock::at_secs(T0);
    let t = TestSim::manual(&clock, SimConfig::default()).await;
    let mut rx = t.receiver(&[]).await;
    let mut events = t.sim.webhook_events();
    rx.script(&[429]);
    t.sim.emit_webhook("ping", None).expect("emitted");
    rx.next_post().await;
    let ev = next_event(&mut events).await;
    assert_eq!(ev.outcome, DeliveryOutcome::Throttled { until_ms: T0 * 1000 + 60_000 });
    assert_eq!(t.sim.webhook_subscriptions()[0].throttled_until_ms, Some(T0 * 1000 + 60_000));
    clock.advance(Duration::from_secs(60));
    let again = rx.next_post().await.json();
    assert_eq!(again["delivery_attempts"], 2);
    assert_eq!(next_event(&mut events).await.outcome, DeliveryOutcome::Delivered { status: 200 });
    assert_eq!(t.sim.stats().webhooks.throttled, 1);
}

#[tokio::test]
async fn emit_on_demand_and_topic_filter() {
    let t = TestSim::default().await;
    let mut rx = t.receiver(&["company.created"]).await;
    t.contact(json!({ "email": "quiet@example.com" })).await;
    let emit = json!({ "topic": "company.created", "item": { "type": "company", "id": "c1" } });
    let r = t.control(Method::POST, "/_sim/webhooks/emit", Some(emit)).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json["notifications"], 1);
    let got = rx.next_post().await.json();
    assert_eq!(got["topic"], "company.created", "the unsubscribed contact topic was skipped");
    assert_eq!(got["data"]["item"]["id"], "c1");
    t.sim.emit_webhook("ping", None).expect("ping is always subscribed");
    assert_eq!(rx.next_post().await.json()["topic"], "ping");
}

#[tokio::test]
async fn slow_receivers_never_slow_the_api() {
    let t = TestSim::default().await;
    let mut rx = t.receiver(&[]).await;
    let gate = rx.hold();
    let created = tokio::time::timeout(
        Duration::from_secs(2),
        t.post("/contacts", json!({ "email": "fast@example.com" })),
    )
    .await
    .expect("the API answers while the receiver is still holding the webhook");
    assert_eq!(created.status, 200);
    let held = rx.next_post().await;
    assert_eq!(held.json()["topic"], "contact.user.created");
    gate.notify_one();
}
