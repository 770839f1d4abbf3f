//! End to end: the simulator changes state and sends signed webhooks (including its retry, shortened)
//! to `serve`, which delivers them to a destination that fails for a while and then recovers.
//! Everything arrives; what was dead-lettered on the way comes back with `switchboard dlq replay`.

use std::collections::HashSet;
use std::time::Duration;

use intercom_sim::{DeliveryOutcome, SimConfig, Simulator};
use switchboard::store::DeadLetterFilter;

use crate::harness::{AppDir, CLIENT_SECRET, PATIENCE, Receiver, cli, eventually, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_webhooks_flow_through_serve_to_a_recovering_destination() {
    // "app" receives everything and is down for its first deliveries, then recovers; "audit" only
    // wants contact.deleted and stays down until its delivery is dead-lettered.
    let (receiver, hook) = Receiver::start().await;
    receiver.script(&[(503, None), (503, None), (502, None), (500, None), (503, None)]);
    let (audit, audit_hook) = Receiver::start().await;
    audit.always(500);
    let destinations = format!(
        "[[destinations]]\nname = \"app\"\nurl = \"{hook}\"\n\
         [[destinations]]\nname = \"audit\"\nurl = \"{audit_hook}\"\ntopics = [\"contact.deleted\"]\n"
    );
    let dir = AppDir::new(&destinations);
    // A fixed port: the simulator's retry must find the restarted service where the first attempt went.
    dir.edit("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{}\"", free_port()));
    let app = dir.spawn().await;
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
        let event = tokio::time::timeout(PATIENCE, deliveries.recv()).await.unwrap().unwrap();
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
    let failed = tokio::time::timeout(PATIENCE, deliveries.recv()).await.unwrap().unwrap();
    assert!(matches!(failed.outcome, DeliveryOutcome::RetryScheduled { .. }), "{:?}", failed.outcome);
    // Same configuration, same store, same port: only the service restarts.
    let app = dir.spawn().await;
    let retried = tokio::time::timeout(PATIENCE, deliveries.recv()).await.unwrap().unwrap();
    assert_eq!(retried.notification_id, failed.notification_id);
    assert_eq!(retried.attempts, 2);
    assert!(matches!(retried.outcome, DeliveryOutcome::Delivered { status: 200 }), "{:?}", retried.outcome);
    acknowledged.insert(retried.notification_id.clone());

    // "audit" exhausts its attempts: one dead letter, replayed from the CLI once it recovers.
    let dead = eventually("the audit delivery is dead-lettered", || async {
        let dead = app.store.dead_letters(DeadLetterFilter::default()).await.unwrap();
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].destination.as_str(), dead[0].topic.as_str()), ("audit", "contact.deleted"));
    audit.always(200);

    let replay = cli(&["dlq", "replay", "--all", "--config"]).arg(app.dir.config()).run_async().await;
    assert_eq!(replay.stdout.trim(), "1 dead letter(s) queued for delivery again");

    let arrived = eventually("every acknowledged notification reaches the destination", || async {
        let arrived: HashSet<String> = receiver
            .received()
            .iter()
            .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
            .collect();
        (acknowledged.is_subset(&arrived) && app.store.stats().await.unwrap().pending == 0).then_some(arrived)
    })
    .await;
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
