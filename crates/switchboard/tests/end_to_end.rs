//! End to end: the simulator changes state and sends signed webhooks (including its retry, shortened)
//! to `serve`, which delivers them to a destination that fails for a while and then recovers.
//! Everything arrives; what was dead-lettered on the way comes back with `switchboard dlq replay`.
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{CLIENT_SECRET, Receiver};
use intercom_sim::{DeliveryOutcome, SimConfig, Simulator};
use switchboard::store::DeadLetterFilter;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_webhooks_flow_through_serve_to_a_recovering_destination() {
    // "app" receives everything and is down for its first deliveries, then recovers; "audit" only
    // wants contact.deleted and stays down until its delivery is dead-lettered.
    let (receiver, hook) = Receiver::start().await;
    receiver.script(&[(503, None), (503, None), (502, None), (500, None), (503, None)]);
    let (audit, audit_hook) = Receiver::start().await;
    audit.always(500);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let destinations = format!(
        "[[destinations]]\nname = \"app\"\nurl = \"{hook}\"\n\
         [[destinations]]\nname = \"audit\"\nurl = \"{audit_hook}\"\ntopics = [\"contact.deleted\"]\n"
    );
    let config_path = common::write_config(dir.path(), &destinations);
    let text = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""));
    std::fs::write(&config_path, text).unwrap();
    let app = common::spawn_in(dir, config_path.clone()).await;
    let webhook_url = app.url("/webhooks/intercom");

    let sim = Simulator::start(
        SimConfig::default().client_secret(CLIENT_SECRET).webhook_retry_delay(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let mut deliveries = sim.webhook_events();
    sim.add_webhook_subscription(None, &webhook_url, &[]).await.unwrap();

    // State changes in the simulator, each emitting its topic.
    let http = reqwest::Client::new();
    let token = sim.default_app().token.clone();
    let api = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", sim.base_url()))
            .bearer_auth(&token)
            .header("Intercom-Version", "2.14")
    };
    let mut contact_ids = Vec::new();
    for n in 0..3 {
        let created: serde_json::Value = api(reqwest::Method::POST, "/contacts")
            .json(&serde_json::json!({ "role": "user", "external_id": format!("e2e-{n}"), "email": format!("e2e{n}@example.com") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        contact_ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let updated = api(reqwest::Method::PUT, &format!("/contacts/{}", contact_ids[0]))
        .json(&serde_json::json!({ "name": "Renamed Contact" }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let deleted =
        api(reqwest::Method::DELETE, &format!("/contacts/{}", contact_ids[2])).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    let expected_topics = ["contact.user.created", "contact.user.updated", "contact.deleted"];

    // Every one of them is acknowledged by serve on Intercom's first attempt.
    let mut acknowledged = HashSet::new();
    while acknowledged.len() < 5 {
        let event = tokio::time::timeout(Duration::from_secs(20), deliveries.recv()).await.unwrap().unwrap();
        assert!(
            matches!(event.outcome, DeliveryOutcome::Delivered { status: 200 }),
            "serve refused {}: {:?}",
            event.topic,
            event.outcome
        );
        assert!(expected_topics.contains(&event.topic.as_str()), "{}", event.topic);
        acknowledged.insert(event.notification_id);
    }

    // serve goes down; Intercom's attempt fails, and its retry (shortened to 300 ms) finds it back up.
    let dir = app.stop().await;
    sim.emit_webhook("ping", None).unwrap();
    let failed = tokio::time::timeout(Duration::from_secs(20), deliveries.recv()).await.unwrap().unwrap();
    assert!(matches!(failed.outcome, DeliveryOutcome::RetryScheduled { .. }), "{:?}", failed.outcome);
    // Same configuration, same store, same port: only the service restarts.
    let app = common::spawn_in(dir, config_path.clone()).await;
    let retried = tokio::time::timeout(Duration::from_secs(20), deliveries.recv()).await.unwrap().unwrap();
    assert_eq!(retried.notification_id, failed.notification_id);
    assert_eq!(retried.attempts, 2);
    assert!(matches!(retried.outcome, DeliveryOutcome::Delivered { status: 200 }), "{:?}", retried.outcome);
    acknowledged.insert(retried.notification_id.clone());

    // "audit" exhausts its attempts: one dead letter, replayed from the CLI once it recovers.
    let dead = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let dead = app.store.dead_letters(DeadLetterFilter::default()).await.unwrap();
            if !dead.is_empty() {
                return dead;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].destination.as_str(), dead[0].topic.as_str()), ("audit", "contact.deleted"));
    audit.always(200);

    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["dlq", "replay", "--all", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&replay.stdout).trim(), "1 dead letter(s) queued for delivery again");

    let arrived = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let arrived: HashSet<String> = receiver
                .received()
                .iter()
                .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
                .collect();
            if acknowledged.is_subset(&arrived) && app.store.stats().await.unwrap().pending == 0 {
                return arrived;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every acknowledged notification reaches the destination");
    assert!(acknowledged.is_subset(&arrived));
    let audited: Vec<_> = audit.received().iter().map(|r| r.headers["x-intercom-topic"].clone()).collect();
    assert_eq!(audited.len(), 5, "4 failed attempts, then the replay");
    assert!(audited.iter().all(|t| t == "contact.deleted"));
    assert!(app.store.dead_letters(DeadLetterFilter::default()).await.unwrap().is_empty());
    // The deleted contact was recorded for the GDPR purge.
    let erasures = app.store.erasures().await.unwrap();
    assert_eq!(erasures.iter().map(|e| e.contact_id.as_str()).collect::<Vec<_>>(), [contact_ids[2].as_str()]);
    app.stop().await;
    sim.shutdown().await;
}
