//! Built-in alerts end to end: simulator faults and webhook failures make `serve`'s alerts fire,
//! reach a receiver in each channel format (JSON webhook, Slack, Alertmanager), and resolve.
//!
//! One test on purpose: metrics are process-wide, so scenarios run in sequence on one service.
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::time::Duration;

use common::{CLIENT_SECRET, Receiver, notification, post_signed};
use intercom_sim::{Indicator, SimConfig, Simulator};

async fn alert_state(http: &reqwest::Client, base: &str, name: &str) -> String {
    let view: serde_json::Value =
        http.get(format!("{base}/alerts")).send().await.unwrap().json().await.unwrap();
    view["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == name && a["severity"] != "warning")
        .map(|a| a["state"].as_str().unwrap().to_owned())
        .next()
        .unwrap_or_else(|| "missing".to_owned())
}

/// Polls `/alerts` (and pokes `/health` to drive probes) until `name` is in `state`.
async fn wait_state(http: &reqwest::Client, base: &str, name: &str, state: &str) {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let _ = http.get(format!("{base}/health")).send().await;
            if alert_state(http, base, name).await == state {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{name} did not become {state}"));
}

fn bodies(receiver: &Receiver) -> Vec<serde_json::Value> {
    receiver.received().iter().filter_map(|r| serde_json::from_slice(&r.body).ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_notify_every_channel_and_resolve() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let creds = sim.default_app().clone();
    let (webhook, webhook_url) = Receiver::start().await;
    let (slack, slack_url) = Receiver::start().await;
    let (alertmanager, am_url) = Receiver::start().await;
    let (destination, destination_url) = Receiver::start().await;
    destination.always(500);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("intercom_token"), &creds.token).unwrap();
    let d = dir.path().display();
    let base_url = sim.base_url();
    let fast = "window = \"3s\"\nfor = \"0s\"\nkeep_firing_for = \"500ms\"";
    let config = format!(
        r#"
        [intercom]
        base_url = "{base_url}"
        token = "file:{d}/intercom_token"
        expected_app_id = "{app}"
        [secrets]
        refresh_interval = "1s"
        [health]
        probe_interval = "1ms"
        [status_page]
        url = "{base_url}/_sim/statuspage/api/v2/status.json"
        interval = "1s"
        [[destinations]]
        name = "app"
        url = "{destination_url}"
        [alerts]
        evaluation_interval = "100ms"
        [alerts.notify]
        backoff = "50ms"
        [[alerts.channels]]
        kind = "webhook"
        url = "{webhook_url}"
        [[alerts.channels]]
        kind = "slack"
        url = "{slack_url}"
        [[alerts.channels]]
        kind = "alertmanager"
        url = "{am_url}/api/v2/alerts"
        [alerts.intercom_unreachable]
        threshold = 2
        {fast}
        [alerts.intercom_auth_failure]
        {fast}
        [alerts.intercom_error_rate]
        min_requests = 3
        {fast}
        [alerts.intercom_high_latency]
        threshold = 0.2
        {fast}
        [alerts.intercom_high_latency_warning]
        threshold = 0.1
        {fast}
        [alerts.webhook_signature_failures]
        threshold = 3
        {fast}
        [alerts.webhook_delivery_failures]
        {fast}
        [alerts.dead_letters_present]
        for = "0s"
        keep_firing_for = "500ms"
        [alerts.intercom_status_degraded]
        for = "0s"
        keep_firing_for = "500ms"
        "#,
        app = creds.app_id,
    );
    let path = common::write_config(dir.path(), &config);
    let app = common::spawn_in(dir, path).await;
    let base = format!("http://{}", app.addr);
    let http = reqwest::Client::new();

    // IntercomUnreachable: the simulator answers 503 to every request for a while.
    // IntercomErrorRate rises with it: every request fails.
    sim.set_faults("503").unwrap();
    wait_state(&http, &base, "IntercomUnreachable", "firing").await;
    wait_state(&http, &base, "IntercomErrorRate", "firing").await;
    sim.clear_faults();
    wait_state(&http, &base, "IntercomUnreachable", "resolved").await;
    wait_state(&http, &base, "IntercomErrorRate", "resolved").await;

    // IntercomHighLatency: every answer is delayed by 400 ms (threshold lowered to P95 > 0.2 s).
    sim.set_faults("latency=400ms").unwrap();
    wait_state(&http, &base, "IntercomHighLatency", "firing").await;
    sim.clear_faults();
    wait_state(&http, &base, "IntercomHighLatency", "resolved").await;

    // IntercomAuthFailure: the token file is rewritten with a token Intercom rejects; the service
    // picks the rotation up on its next secret refresh (1 s here), gets 401s, then the good token
    // comes back the same way.
    std::fs::write(app.dir.path().join("intercom_token"), "dG9rOnJldm9rZWRfdG9rZW46MTow").unwrap();
    wait_state(&http, &base, "IntercomAuthFailure", "firing").await;
    std::fs::write(app.dir.path().join("intercom_token"), &creds.token).unwrap();
    wait_state(&http, &base, "IntercomAuthFailure", "resolved").await;

    // WebhookSignatureFailures: unsigned requests.
    for _ in 0..5 {
        let _ = http.post(format!("{base}/webhooks/intercom")).body(notification("n", "ping")).send().await;
    }
    wait_state(&http, &base, "WebhookSignatureFailures", "firing").await;
    wait_state(&http, &base, "WebhookSignatureFailures", "resolved").await;

    // WebhookDeliveryFailures and DeadLettersPresent: a destination that keeps failing.
    post_signed(
        &http,
        &format!("{base}/webhooks/intercom"),
        CLIENT_SECRET,
        &notification("notif_dlq", "ping"),
    )
    .await;
    wait_state(&http, &base, "WebhookDeliveryFailures", "firing").await;
    wait_state(&http, &base, "DeadLettersPresent", "firing").await;
    destination.always(200);
    let dead = app.store.dead_letters(Default::default()).await.unwrap();
    app.store
        .replay(0, switchboard::store::DeadLetterFilter { id: Some(dead[0].id), ..Default::default() })
        .await
        .unwrap();
    wait_state(&http, &base, "DeadLettersPresent", "resolved").await;

    // IntercomStatusDegraded: a major incident on the status page.
    sim.set_status_indicator(Indicator::Major);
    wait_state(&http, &base, "IntercomStatusDegraded", "firing").await;
    sim.set_status_indicator(Indicator::None);
    wait_state(&http, &base, "IntercomStatusDegraded", "resolved").await;

    // Every channel received firing and resolved notifications, each in its own format.
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let sent = |r: &Receiver| bodies(r).len();
            if sent(&webhook) >= 10 && sent(&slack) >= 10 && sent(&alertmanager) >= 10 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "notifications reach every channel: webhook {:?}, slack {}, alertmanager {}",
            bodies(&webhook).iter().map(|b| format!("{} {}", b["alert"], b["status"])).collect::<Vec<_>>(),
            bodies(&slack).len(),
            bodies(&alertmanager).len()
        )
    });
    let json = bodies(&webhook);
    assert!(
        json.iter()
            .any(|b| b.to_string().contains("IntercomUnreachable") && b.to_string().contains("firing"))
    );
    assert!(
        json.iter()
            .any(|b| b.to_string().contains("IntercomUnreachable") && b.to_string().contains("resolved"))
    );
    let slack_texts: Vec<String> =
        bodies(&slack).iter().map(|b| b["text"].as_str().unwrap_or("").to_owned()).collect();
    assert!(slack_texts.iter().any(|t| t.contains("IntercomAuthFailure")), "{slack_texts:?}");
    let am: Vec<serde_json::Value> =
        bodies(&alertmanager).into_iter().flat_map(|b| b.as_array().cloned().unwrap_or_default()).collect();
    let unreachable: Vec<&serde_json::Value> =
        am.iter().filter(|a| a["labels"]["alertname"] == "IntercomUnreachable").collect();
    assert!(unreachable.iter().any(|a| a["labels"]["severity"] == "P1"), "{am:?}");
    assert!(
        unreachable.iter().any(|a| a.get("endsAt").is_some_and(|e| e.is_string())),
        "resolution has endsAt"
    );
    assert!(alertmanager.received().iter().all(|r| r.headers.get("content-type").is_some()));
    // Nothing secret in any notification.
    for r in webhook.received().iter().chain(slack.received().iter()).chain(alertmanager.received().iter()) {
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains(&creds.token) && !text.contains(CLIENT_SECRET), "{text}");
    }
    app.stop().await;
    sim.shutdown().await;
}
