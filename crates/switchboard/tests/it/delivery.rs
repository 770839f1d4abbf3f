//! Delivery to destinations: signed requests, topic routing, retries, dead letters, replay, 410.

use std::time::Duration;

use switchboard::delivery::signing;
use switchboard::store::DeadLetterFilter;

use crate::harness::{
    ADMIN_KEY, AppDir, DESTINATION_SECRET, Receiver, TestApp, cli, error_envelope, notification, spawn_app,
    wait_until,
};

fn destination(name: &str, url: &str, topics: &str) -> String {
    format!(
        "[[destinations]]\nname = \"{name}\"\nurl = \"{url}\"\ntopics = {topics}\nsecret = \"file:{{dir}}/dest_secret\"\n"
    )
}

async fn app_with(destinations: &[String]) -> TestApp {
    spawn_app(&destinations.join("\n")).await
}

/// Waits until the store holds a dead letter.
async fn dead_lettered(app: &TestApp) {
    wait_until("the delivery is dead-lettered", || async {
        !app.store.dead_letters(DeadLetterFilter::default()).await.unwrap().is_empty()
    })
    .await;
}

#[tokio::test]
async fn deliveries_carry_the_original_body_and_verifiable_standard_webhooks_headers() {
    let (contacts, contacts_url) = Receiver::start().await;
    let (conversations, conversations_url) = Receiver::start().await;
    let app = app_with(&[
        destination("contacts", &contacts_url, r#"["contact.*"]"#),
        destination("conversations", &conversations_url, r#"["conversation.user.*"]"#),
    ])
    .await;
    let body = notification("notif_hdr", "contact.user.created");
    assert_eq!(app.notify(&body).await.status(), 200);
    let conversation = notification("notif_conv", "conversation.user.replied");
    assert_eq!(app.notify(&conversation).await.status(), 200);
    let admin_reply = notification("notif_admin", "conversation.admin.replied");
    assert_eq!(app.notify(&admin_reply).await.status(), 200);

    let got = contacts.wait_for(1).await;
    let request = &got[0];
    assert_eq!(request.body, body.as_bytes(), "the original bytes, untouched");
    let header = |name: &str| request.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("webhook-id"), "notif_hdr");
    assert_eq!(header("x-intercom-notification-id"), "notif_hdr");
    assert_eq!(header("x-intercom-topic"), "contact.user.created");
    assert_eq!(header("content-type"), "application/json");
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
    let expected = signing::sign(
        &signing::signing_key(DESTINATION_SECRET).unwrap(),
        "notif_hdr",
        timestamp,
        &request.body,
    );
    assert_eq!(header("webhook-signature"), expected);

    let got = conversations.wait_for(1).await;
    assert_eq!(got[0].headers["x-intercom-topic"], "conversation.user.replied");
    // conversation.admin.replied matches neither destination: wait until it is handled, then check.
    wait_until("every delivery is done", || async { app.store.stats().await.unwrap().pending == 0 }).await;
    assert_eq!(conversations.received().len(), 1);
    assert_eq!(contacts.received().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn failures_retry_on_the_schedule_then_dead_letter_and_replay_through_the_admin_api() {
    let (receiver, url) = Receiver::start().await;
    let app = app_with(&[destination("app", &url, r#"["*"]"#)]).await;
    let http = reqwest::Client::new();

    // Two failures, then success: three attempts, delivered.
    receiver.script(&[(503, None), (500, None)]);
    app.notify(&notification("notif_retry", "ping")).await;
    let attempts = receiver.wait_for(3).await;
    assert!(attempts.iter().all(|r| r.headers["webhook-id"] == "notif_retry"));
    let numbers: Vec<_> =
        attempts.iter().map(|r| r.headers["x-switchboard-attempt"].to_str().unwrap().to_owned()).collect();
    assert_eq!(numbers, ["1", "2", "3"]);
    wait_until("the retried delivery is recorded", || async {
        app.store.event("default", "notif_retry").await.unwrap().unwrap().deliveries[0].1 == "delivered"
    })
    .await;

    // Always failing: 1 + 3 retries, then the dead-letter queue.
    receiver.always(500);
    app.notify(&notification("notif_dead", "ping")).await;
    dead_lettered(&app).await;
    let dead = app.store.dead_letters(DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].notification_id.as_str(), dead[0].attempts, dead[0].last_status),
        ("notif_dead", 4, Some(500))
    );
    assert_eq!(receiver.received().len(), 3 + 4);

    // The admin API lists and replays it once the destination recovers.
    let listed = app.admin_get("/admin/dlq").await;
    assert_eq!(listed["dead_letters"][0]["notification_id"], "notif_dead");
    let denied = http.get(app.url("/admin/dlq")).bearer_auth("wrong").send().await.unwrap();
    let (status, code, _) = error_envelope(denied).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
    let no_body = http.post(app.url("/admin/dlq/replay")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    let (status, code, _) = error_envelope(no_body).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));

    receiver.always(200);
    let replayed = app.admin_post("/admin/dlq/replay", Some(serde_json::json!({ "id": dead[0].id }))).await;
    assert_eq!(replayed["replayed"], 1);
    let all = receiver.wait_for(8).await;
    assert_eq!(all[7].headers["webhook-id"], "notif_dead");
    assert_eq!(all[7].headers["x-switchboard-attempt"], "1", "a replay starts a fresh schedule");
    wait_until("the replayed delivery is recorded", || async {
        app.store.dead_letters(DeadLetterFilter::default()).await.unwrap().is_empty()
            && app.store.stats().await.unwrap().pending == 0
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (receiver, url) = Receiver::start().await;
    let app = app_with(&[destination("app", &url, r#"["*"]"#)]).await;
    // Retry-After: 1 (second) asks for longer than the 50 ms step; honoured up to the schedule's
    // ceiling (150 ms), so the retry must not come at the 50 ms step. Only a lower bound is checked.
    receiver.script(&[(429, Some("1"))]);
    app.notify(&notification("notif_ra", "ping")).await;
    let first = receiver.wait_for(1).await;
    let started = std::time::Instant::now();
    receiver.wait_for(2).await;
    let waited = started.elapsed();
    assert_eq!(first[0].headers["webhook-id"], "notif_ra");
    assert!(
        waited >= Duration::from_millis(140),
        "retried after {waited:?}, sooner than Retry-After allowed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_410_disables_the_destination_until_it_is_enabled_again() {
    let (receiver, url) = Receiver::start().await;
    let app = app_with(&[destination("app", &url, r#"["*"]"#)]).await;
    receiver.script(&[(410, None)]);
    app.notify(&notification("notif_gone1", "ping")).await;
    receiver.wait_for(1).await;
    wait_until("the destination is disabled", || async {
        !app.store.disabled_destinations().await.unwrap().is_empty()
    })
    .await;
    app.notify(&notification("notif_gone2", "ping")).await;
    let listed = app.admin_get("/admin/destinations").await;
    assert_eq!(listed["disabled"][0]["name"], "app");
    assert_eq!(app.store.stats().await.unwrap().pending, 2, "both deliveries wait, none is lost");
    assert_eq!(receiver.received().len(), 1, "nothing is sent to a disabled destination");

    let enabled = app.admin_post("/admin/destinations/app/enable", None).await;
    assert_eq!(enabled["enabled"], "app");
    let all = receiver.wait_for(3).await;
    let mut ids: Vec<_> =
        all[1..].iter().map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned()).collect();
    ids.sort();
    assert_eq!(ids, ["notif_gone1", "notif_gone2"]);
    app.stop().await;
}

#[tokio::test]
async fn contact_deleted_is_recorded_for_the_gdpr_purge() {
    let app = spawn_app("").await;
    let body = notification("notif_del", "contact.deleted");
    assert_eq!(app.notify(&body).await.status(), 200);
    wait_until("the erasure is recorded", || async { !app.store.erasures().await.unwrap().is_empty() }).await;
    let erasures = app.store.erasures().await.unwrap();
    assert_eq!(erasures.len(), 1);
    assert_eq!(erasures[0].contact_id, "65f642bf674b9af4e9e46dd1");
    assert_eq!(erasures[0].external_id.as_deref(), Some("ext-42"));
    assert_eq!(erasures[0].notification_id, "notif_del");
    app.stop().await;
}

#[tokio::test]
async fn admin_errors_use_the_envelope() {
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    let (dlq, replay) = (app.url("/admin/dlq"), app.url("/admin/dlq/replay"));

    let unauthorized = [
        ("no key", http.get(&dlq)),
        ("wrong key", http.get(&dlq).bearer_auth("not-the-key")),
        ("not bearer", http.get(&dlq).basic_auth("admin", Some(ADMIN_KEY))),
    ];
    for (case, request) in unauthorized {
        let (status, code, _) = error_envelope(request.send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{case}");
    }

    // Each refusal keeps the status axum gave it before the envelope existed; only the body changed.
    let huge = format!("{{\"id\": 1, \"destination\": \"{}\"}}", "x".repeat(3 << 20));
    let bad = [
        ("a limit that is not a number", http.get(format!("{dlq}?limit=many")), 400, "bad_request"),
        ("no body", http.post(&replay), 400, "bad_request"),
        (
            "not JSON",
            http.post(&replay).header("content-type", "application/json").body("{id: 1"),
            400,
            "bad_request",
        ),
        (
            "an unknown field",
            http.post(&replay).json(&serde_json::json!({ "id": 1, "everything": true })),
            422,
            "unprocessable_entity",
        ),
        (
            "a wrong type",
            http.post(&replay).json(&serde_json::json!({ "id": "forty-two" })),
            422,
            "unprocessable_entity",
        ),
        (
            "both id and all",
            http.post(&replay).json(&serde_json::json!({ "id": 1, "all": true })),
            400,
            "bad_request",
        ),
        (
            "neither id nor all",
            http.post(&replay).json(&serde_json::json!({ "since": 0 })),
            400,
            "bad_request",
        ),
        (
            "not JSON content",
            http.post(&replay).header("content-type", "text/plain").body("id=1"),
            415,
            "unsupported_media_type",
        ),
        (
            "a body over 2 MB",
            http.post(&replay).header("content-type", "application/json").body(huge),
            413,
            "body_too_large",
        ),
    ];
    for (case, request, want_status, want_code) in bad {
        let (status, code, _) = error_envelope(request.bearer_auth(ADMIN_KEY).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (want_status, want_code), "{case}");
    }
    let fine = http.get(format!("{dlq}?limit=5")).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!(fine.status(), 200);
    assert!(!fine.headers()["x-request-id"].is_empty());
    app.stop().await;

    // Without admin.key the admin API is off: 404, whatever the key sent.
    let dir = AppDir::new("");
    dir.edit(&format!("key = \"file:{}/admin_key\"", dir.path().display()), "");
    let app = dir.spawn().await;
    for request in [http.get(app.url("/admin/dlq")), http.get(app.url("/admin/dlq")).bearer_auth(ADMIN_KEY)] {
        let (status, code, _) = error_envelope(request.send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "admin_disabled"));
    }
    app.stop().await;
}

#[tokio::test]
async fn dead_letters_are_listed_and_replayed_from_the_cli_while_the_service_runs() {
    let (receiver, url) = Receiver::start().await;
    let app = app_with(&[destination("app", &url, r#"["*"]"#)]).await;
    // The CLI runs beside the service, on the same config and store.
    let switchboard = |args: &[&str]| cli(args).arg("--config").arg(app.dir.config()).run_async();
    receiver.always(503);
    app.notify(&notification("notif_cli", "ping")).await;
    dead_lettered(&app).await;

    let listed = switchboard(&["dlq", "list"]).await;
    let text = &listed.stdout;
    assert_eq!(listed.code, Some(0), "{text}{}", listed.stderr);
    assert!(
        text.contains("notif_cli") && text.contains("HTTP 503") && text.contains("1 dead letter(s)"),
        "{text}"
    );
    let json =
        switchboard(&["dlq", "list", "--format", "json", "--destination", "app", "--since", "1h"]).await;
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(parsed["dead_letters"][0]["notification_id"], "notif_cli");
    let other = switchboard(&["dlq", "list", "--destination", "crm"]).await;
    assert_eq!(other.stdout.trim(), "no dead letters");

    let usage = switchboard(&["dlq", "replay"]).await;
    assert_eq!(usage.code, Some(2), "--id or --all is required");
    let bad_since = switchboard(&["dlq", "list", "--since", "yesterday-ish"]).await;
    assert_eq!(bad_since.code, Some(2));
    assert!(bad_since.stderr.contains("neither an RFC 3339 time"));

    receiver.always(200);
    let before = receiver.received().len();
    let replayed = switchboard(&["dlq", "replay", "--all", "--since", "1h"]).await;
    assert_eq!(replayed.stdout.trim(), "1 dead letter(s) queued for delivery again");
    let all = receiver.wait_for(before + 1).await;
    assert_eq!(all[before].headers["webhook-id"], "notif_cli");
    let missing = switchboard(&["dlq", "replay", "--id", "999999"]).await;
    assert!(missing.stdout.contains("no dead letter with id 999999"));
    app.stop().await;
}
