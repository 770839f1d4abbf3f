//! Leases and fencing in the running service: a wall-clock jump never sends a delivery still in
//! flight again, and a long attempt keeps its lease (renewed) against another replica on the store.

use std::sync::Arc;
use std::time::Duration;

use switchboard::clock::{Clock, ManualClock, SystemClock};
use tokio::sync::Notify;

use crate::harness::{AppDir, Receiver, TestApp, notification, notification_on, spawn_app_on, wait_until};

fn destination(url: &str, extra: &str) -> String {
    format!("[[destinations]]\nname = \"app\"\nurl = \"{url}\"\ntopics = [\"*\"]\n{extra}\n")
}

/// How many requests `receiver` got for the notification `id`.
fn requests_for(receiver: &Receiver, id: &str) -> usize {
    receiver.received().iter().filter(|r| r.headers["webhook-id"] == id).count()
}

async fn delivered(app: &TestApp, id: &str) {
    wait_until(&format!("{id} is recorded as delivered"), || async {
        app.store.event("default", id).await.unwrap().is_some_and(|e| e.deliveries[0].1 == "delivered")
    })
    .await;
}

#[tokio::test]
async fn a_wall_clock_jump_never_sends_a_delivery_still_in_flight_again() {
    let clock = ManualClock::new(SystemClock.now_millis());
    let (receiver, url) = Receiver::start().await;
    let release = Arc::new(Notify::new());
    receiver.hold_first(release.clone());
    let app = spawn_app_on(&destination(&url, ""), Arc::new(clock.clone())).await;
    assert_eq!(app.notify(&notification_on("notif_held", "ping", &clock)).await.status(), 200);
    receiver.wait_for(1).await;

    // NTP steps the clock ten leases forward while the attempt is still running: by the clock, its
    // lease has long expired.
    clock.advance(app.config.delivery.lease * 10);
    // A later event is claimed after the jump; a claim that took it would have taken the older,
    // "expired" delivery first (oldest first), so once it arrives the question is settled.
    assert_eq!(app.notify(&notification_on("notif_after", "ping", &clock)).await.status(), 200);
    receiver.next("the delivery after the jump", |r| r.headers["webhook-id"] == "notif_after").await;
    release.notify_one();
    delivered(&app, "notif_held").await;
    assert_eq!(requests_for(&receiver, "notif_held"), 1, "sent once, though its lease looked expired");
    app.stop().await;
}

#[tokio::test]
async fn a_long_attempt_keeps_its_lease_against_another_replica() {
    // Real time on purpose: the attempt must outlast the lease several times over while the
    // renewals (on tokio's clock) keep it. About 3 s.
    let lease = Duration::from_secs(1);
    let (receiver, url) = Receiver::start().await;
    let release = Arc::new(Notify::new());
    receiver.hold_first(release.clone());
    let config = format!("{}\n", destination(&url, "timeout = \"30s\""));
    let first = AppDir::new(&config);
    first.edit("lease = \"30s\"", "lease = \"1s\"");
    let first = first.spawn().await;
    // A second replica on the same store: it polls every 20 ms and would take over any lease that
    // lapsed.
    let second = AppDir::new(&config);
    second.edit("lease = \"30s\"", "lease = \"1s\"");
    second.edit(
        &format!("sqlite://{}/data/switchboard.db", second.path().display()),
        &format!("sqlite://{}/data/switchboard.db", first.dir.path().display()),
    );
    let second = second.spawn().await;

    assert_eq!(first.notify(&notification("notif_slow", "ping")).await.status(), 200);
    receiver.wait_for(1).await;
    // The destination takes 2.5 leases to answer; nothing can be awaited instead, since what is
    // tested is that nothing happens meanwhile.
    tokio::time::sleep(lease * 5 / 2).await;
    assert_eq!(requests_for(&receiver, "notif_slow"), 1, "no replica took the delivery over");
    release.notify_one();
    delivered(&first, "notif_slow").await;
    assert_eq!(requests_for(&receiver, "notif_slow"), 1);
    second.stop().await;
    first.stop().await;
}
