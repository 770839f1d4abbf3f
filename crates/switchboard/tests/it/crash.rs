//! Durability under SIGKILL: a child `switchboard serve` is killed repeatedly while notifications
//! are sent. Every notification that got a 200 must be in the store and reach the destination;
//! repeats at the destination are counted (they can only come from deliveries in flight at a kill).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard::store::{SqliteStore, Store};

use crate::harness::{
    AppDir, CLIENT_SECRET, Receiver, eventually, free_port, notification, start_serve as start, wait_until,
};

const KILLS: usize = 4;
const SENDERS: usize = 8;

async fn wait_ready(http: &reqwest::Client, url: &str) {
    wait_until("the service is ready", || async {
        http.get(url).send().await.is_ok_and(|response| response.status() == 200)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_notification_survives_sigkill_and_is_delivered() {
    let (receiver, hook) = Receiver::start().await;
    let port = free_port();
    let dir =
        AppDir::new(&format!("[[destinations]]\nname = \"app\"\nurl = \"{hook}\"\ntimeout = \"500ms\"\n"));
    dir.edit("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""));
    dir.edit("lease = \"30s\"", "lease = \"2s\"");
    let config = dir.config();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();

    let mut child = start(config);
    wait_ready(&http, &format!("{base}/readyz")).await;

    let acked = Arc::new(Mutex::new(HashSet::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let (http, url, acked, stop) =
            (http.clone(), format!("{base}/webhooks/intercom"), acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = format!("notif_crash_{sender}_{n}");
                n += 1;
                let body = notification(&id, "contact.user.created");
                let signature = switchboard::webhooks::sign(CLIENT_SECRET.as_bytes(), body.as_bytes());
                let sent = http.post(&url).header("x-hub-signature", signature).body(body).send().await;
                match sent {
                    Ok(response) if response.status() == 200 => {
                        acked.lock().unwrap().insert(id);
                    }
                    // Refused connections and resets while the service is down: not acknowledged, so
                    // Intercom would retry; nothing is promised for these.
                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }

    for _ in 0..KILLS {
        // Let some notifications through, then kill without warning.
        let before = acked.lock().unwrap().len();
        wait_until("notifications are acknowledged between kills", || async {
            acked.lock().unwrap().len() >= before + 200
        })
        .await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        child = start(config);
        wait_ready(&http, &format!("{base}/readyz")).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    let acked: HashSet<String> = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILLS * 200, "acked {}", acked.len());

    // Every acknowledged notification reaches the destination (leases of killed workers expire).
    let deliveries = eventually("every acknowledged notification is delivered", || async {
        let received = receiver.received();
        let ids: HashSet<String> =
            received.iter().map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned()).collect();
        acked.is_subset(&ids).then_some(received)
    })
    .await;

    // Stop gracefully, then check the store itself.
    let pid = child.id().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(child.wait().unwrap().success());
    let store = SqliteStore::open(&dir.path().join("data/switchboard.db")).unwrap();
    for id in &acked {
        assert!(
            store.event("default", id).await.unwrap().is_some(),
            "{id} was acknowledged but is not stored"
        );
    }
    store.close().await;

    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &deliveries {
        *counts.entry(r.headers["webhook-id"].to_str().unwrap().to_owned()).or_default() += 1;
    }
    let repeated = counts.values().filter(|c| **c > 1).count();
    println!(
        "acknowledged={} delivered_unique={} delivered_total={} repeated={} kills={KILLS}",
        acked.len(),
        counts.len(),
        deliveries.len(),
        repeated
    );
    // A repeat needs a delivery in flight at a kill; at most `delivery.concurrency` are in flight.
    assert!(repeated <= KILLS * 32, "{repeated} repeats cannot all come from in-flight deliveries");
}
