//! `serve`'s built-in alerts end to end: simulator faults and webhook failures make the alerts fire,
//! reach a receiver in each channel format (JSON webhook, Slack, Alertmanager), and resolve; and the
//! rate-limit alerts, driven by health probes that spend a simulator's budget.
//!
//! Each test runs in its own process ([`in_own_process`]): the service's alerts read the process-wide
//! metrics recorder, into which every other in-process service and test records too. There, another
//! service's dead letters would keep DeadLettersPresent firing, another test's 401s would fire
//! IntercomAuthFailure before this test rotates its token (so the test would pass without having
//! caused what it checks), another simulator's 429s would fire IntercomRateLimited. Within a test, the
//! scenarios run in sequence on one service for the same reason.

use intercom_sim::{Indicator, SimConfig, Simulator};

use crate::harness::{AppDir, CLIENT_SECRET, Receiver, block_on, eventually, in_own_process, notification};

/// The state of the alert `name` on `/alerts` (its paging rule, not a warning of the same name).
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

/// Polls `/alerts` until `name` is in `state`; with `probe`, each look first calls `/health`, which
/// makes the service probe Intercom.
async fn wait_state(http: &reqwest::Client, base: &str, name: &str, state: &str, probe: bool) {
    eventually(&format!("{name} is {state}"), || async {
        if probe {
            let _ = http.get(format!("{base}/health")).send().await;
        }
        (alert_state(http, base, name).await == state).then_some(())
    })
    .await;
}

#[test]
fn alerts_fire_notify_every_channel_and_resolve() {
    // Alone: it reads every rule's state off the process-wide recorder (see the module's doc).
    in_own_process(|| block_on(every_channel()));
}

/// Each rule the service can drive end to end fires, notifies every channel format and resolves.
async fn every_channel() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let creds = sim.default_app().clone();
    let (webhook, webhook_url) = Receiver::start().await;
    let (slack, slack_url) = Receiver::start().await;
    let (alertmanager, am_url) = Receiver::start().await;
    let (destination, destination_url) = Receiver::start().await;
    destination.always(500);

    let base_url = sim.base_url();
    let fast = "window = \"3s\"\nfor = \"0s\"\nkeep_firing_for = \"500ms\"";
    let config = format!(
        r#"
        [intercom]
        base_url = "{base_url}"
        token = "file:{{dir}}/intercom_token"
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
    let dir = AppDir::new(&config);
    dir.write("intercom_token", &creds.token);
    let app = dir.spawn().await;
    let base = format!("http://{}", app.addr);
    let http = reqwest::Client::new();

    // IntercomUnreachable: the simulator answers 503 to every request for a while.
    // IntercomErrorRate rises with it: every request fails.
    sim.set_faults("503").unwrap();
    wait_state(&http, &base, "IntercomUnreachable", "firing", true).await;
    wait_state(&http, &base, "IntercomErrorRate", "firing", true).await;
    sim.clear_faults();
    wait_state(&http, &base, "IntercomUnreachable", "resolved", true).await;
    wait_state(&http, &base, "IntercomErrorRate", "resolved", true).await;

    // IntercomHighLatency: every answer is delayed by 400 ms (threshold lowered to P95 > 0.2 s).
    sim.set_faults("latency=400ms").unwrap();
    wait_state(&http, &base, "IntercomHighLatency", "firing", true).await;
    sim.clear_faults();
    wait_state(&http, &base, "IntercomHighLatency", "resolved", true).await;

    // IntercomAuthFailure: the token file is rewritten with a token Intercom rejects; the service
    // picks the rotation up on its next secret refresh (1 s here), gets 401s, then the good token
    // comes back the same way.
    app.dir.write("intercom_token", "dG9rOnJldm9rZWRfdG9rZW46MTow");
    wait_state(&http, &base, "IntercomAuthFailure", "firing", true).await;
    app.dir.write("intercom_token", &creds.token);
    wait_state(&http, &base, "IntercomAuthFailure", "resolved", true).await;

    // WebhookSignatureFailures: unsigned requests.
    for _ in 0..5 {
        let _ = http.post(format!("{base}/webhooks/intercom")).body(notification("n", "ping")).send().await;
    }
    wait_state(&http, &base, "WebhookSignatureFailures", "firing", true).await;
    wait_state(&http, &base, "WebhookSignatureFailures", "resolved", true).await;

    // WebhookDeliveryFailures and DeadLettersPresent: a destination that keeps failing.
    app.notify(&notification("notif_dlq", "ping")).await;
    wait_state(&http, &base, "WebhookDeliveryFailures", "firing", true).await;
    wait_state(&http, &base, "DeadLettersPresent", "firing", true).await;
    destination.always(200);
    let dead = app.store.dead_letters(Default::default()).await.unwrap();
    app.store
        .replay(0, switchboard::store::DeadLetterFilter { id: Some(dead[0].id), ..Default::default() })
        .await
        .unwrap();
    wait_state(&http, &base, "DeadLettersPresent", "resolved", true).await;

    // IntercomStatusDegraded: a major incident on the status page.
    sim.set_status_indicator(Indicator::Major);
    wait_state(&http, &base, "IntercomStatusDegraded", "firing", true).await;
    sim.set_status_indicator(Indicator::None);
    wait_state(&http, &base, "IntercomStatusDegraded", "resolved", true).await;

    // Every channel received firing and resolved notifications, each in its own format.
    eventually("ten notifications reach every channel", || async {
        [&webhook, &slack, &alertmanager].iter().all(|r| r.json_bodies().len() >= 10).then_some(())
    })
    .await;
    let json = webhook.json_bodies();
    assert!(
        json.iter()
            .any(|b| b.to_string().contains("IntercomUnreachable") && b.to_string().contains("firing"))
    );
    assert!(
        json.iter()
            .any(|b| b.to_string().contains("IntercomUnreachable") && b.to_string().contains("resolved"))
    );
    let slack_texts: Vec<String> =
        slack.json_bodies().iter().map(|b| b["text"].as_str().unwrap_or("").to_owned()).collect();
    assert!(slack_texts.iter().any(|t| t.contains("IntercomAuthFailure")), "{slack_texts:?}");
    let am: Vec<serde_json::Value> = alertmanager
        .json_bodies()
        .into_iter()
        .flat_map(|b| b.as_array().cloned().unwrap_or_default())
        .collect();
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

#[test]
fn rate_limit_alerts_fire_and_resolve() {
    // Alone: the rate-limit gauges and the 429 counter are process-wide, and the health tests'
    // simulators drive them too (see the module's doc).
    in_own_process(|| block_on(rate_limits()));
}

/// A simulator allowing 10 requests per 10-second window, health probes that exhaust it,
/// RateLimitBudgetHigh and IntercomRateLimited firing, then resolving once the next window has room.
async fn rate_limits() {
    let sim = Simulator::start(SimConfig::default().rate_limit_per_minute(60)).await.unwrap();
    let creds = sim.default_app().clone();
    let (receiver, hook) = Receiver::start().await;
    let fast = "for = \"0s\"\nkeep_firing_for = \"500ms\"";
    let config = format!(
        "[intercom]\nbase_url = \"{}\"\ntoken = \"file:{{dir}}/intercom_token\"\n\
         [health]\nprobe_interval = \"1ms\"\n[status_page]\nenabled = false\n\
         [alerts]\nevaluation_interval = \"100ms\"\n[[alerts.channels]]\nkind = \"webhook\"\nurl = \"{hook}\"\n\
         [alerts.intercom_rate_limited]\nthreshold = 2\nwindow = \"3s\"\n{fast}\n\
         [alerts.rate_limit_budget_high]\n{fast}\n",
        sim.base_url()
    );
    let dir = AppDir::new(&config);
    dir.write("intercom_token", &creds.token);
    let app = dir.spawn().await;
    let base = format!("http://{}", app.addr);
    let http = reqwest::Client::new();

    // Probing as fast as /health is called spends the window's 10 requests, then meets 429s.
    wait_state(&http, &base, "RateLimitBudgetHigh", "firing", true).await;
    wait_state(&http, &base, "IntercomRateLimited", "firing", true).await;
    assert!(sim.stats().rate_limited > 2);

    // Stop probing: no more 429s, so IntercomRateLimited resolves once its window has passed; the
    // next window's first probe sees 9 of 10 left, and the budget alert resolves too.
    wait_state(&http, &base, "IntercomRateLimited", "resolved", false).await;
    let next_window = eventually("a new rate-limit window opens", || async {
        let report: serde_json::Value =
            http.get(format!("{base}/health")).send().await.unwrap().json().await.unwrap();
        (report["status"] == "healthy").then_some(report)
    })
    .await;
    assert_eq!(next_window["services"]["intercom"]["rateLimitLimit"], 10);
    wait_state(&http, &base, "RateLimitBudgetHigh", "resolved", false).await;

    let sent: Vec<String> =
        receiver.received().iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
    for alert in ["RateLimitBudgetHigh", "IntercomRateLimited"] {
        assert!(
            sent.iter().any(|b| b.contains(alert) && b.contains("\"firing\"")),
            "{alert} firing not sent"
        );
        assert!(
            sent.iter().any(|b| b.contains(alert) && b.contains("\"resolved\"")),
            "{alert} resolution not sent"
        );
    }
    app.stop().await;
    sim.shutdown().await;
}
