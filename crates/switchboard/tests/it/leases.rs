//! Leases and fencing in the running service: a wall-clock jump never sends a delivery still in
//! flight again, and a long attempt keeps its lease (renewed) against another replica on the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use switchboard::clock::{Clock, ManualClock, SystemClock};
use switchboard::store::{
    AttemptResult, ClaimExclusions, ClaimId, ClaimedDelivery, DeadLetter, DeadLetterFilter,
    DisabledDestination, ErasureRequest, InsertOutcome, Millis, NewEvent, QueueStats, SqliteStore, Store,
    StoreError, StoredEvent,
};
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

/// A real store whose renewals are counted and, when `hang` is set, never answer (a writer stuck
/// behind a checkpoint or a dead disk).
#[derive(Debug)]
struct RenewSpy {
    inner: Arc<dyn Store>,
    hang: bool,
    /// Another worker claims the delivery just before a dead-letter result is recorded, as after
    /// a lost lease.
    steal_dead: bool,
    renewals: AtomicUsize,
    renewed: Notify,
}

impl RenewSpy {
    fn over(app: &AppDir, hang: bool, steal_dead: bool) -> Arc<Self> {
        let inner = Arc::new(SqliteStore::open(&app.path().join("data/switchboard.db")).unwrap());
        Arc::new(Self { inner, hang, steal_dead, renewals: AtomicUsize::new(0), renewed: Notify::new() })
    }

    /// Waits until at least one renewal was asked for.
    async fn renewal_asked(&self) {
        loop {
            let notified = self.renewed.notified();
            if self.renewals.load(Ordering::SeqCst) > 0 {
                return;
            }
            notified.await;
        }
    }
}

#[async_trait::async_trait]
impl Store for RenewSpy {
    async fn insert_event(&self, event: NewEvent) -> Result<InsertOutcome, StoreError> {
        self.inner.insert_event(event).await
    }
    async fn claim_except(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: usize,
        except: &ClaimExclusions,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.inner.claim_except(owner, now, lease, limit, except).await
    }
    async fn complete(
        &self,
        owner: &str,
        now: Millis,
        results: Vec<(ClaimId, AttemptResult)>,
    ) -> Result<usize, StoreError> {
        if self.steal_dead && results.iter().any(|(_, r)| matches!(r, AttemptResult::Dead { .. })) {
            // A day on, every lease has expired.
            let later = now + 86_400_000;
            let stolen = self.inner.claim("intruder", later, Duration::from_secs(30), 10).await?;
            assert!(!stolen.is_empty(), "the intruder claims the delivery");
        }
        self.inner.complete(owner, now, results).await
    }
    async fn renew(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        claims: Vec<ClaimId>,
    ) -> Result<usize, StoreError> {
        self.renewals.fetch_add(1, Ordering::SeqCst);
        self.renewed.notify_waiters();
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.inner.renew(owner, now, lease, claims).await
    }
    async fn dead_letters(&self, filter: DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.dead_letters(filter).await
    }
    async fn replay(&self, now: Millis, filter: DeadLetterFilter) -> Result<u64, StoreError> {
        self.inner.replay(now, filter).await
    }
    async fn purge_delivered(&self, before: Millis) -> Result<u64, StoreError> {
        self.inner.purge_delivered(before).await
    }
    async fn stats(&self) -> Result<QueueStats, StoreError> {
        self.inner.stats().await
    }
    async fn event(&self, app: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        self.inner.event(app, id).await
    }
    async fn set_destination_disabled(
        &self,
        name: &str,
        disabled: Option<(Millis, String)>,
    ) -> Result<(), StoreError> {
        self.inner.set_destination_disabled(name, disabled).await
    }
    async fn disabled_destinations(&self) -> Result<Vec<DisabledDestination>, StoreError> {
        self.inner.disabled_destinations().await
    }
    async fn record_erasure(&self, request: ErasureRequest) -> Result<(), StoreError> {
        self.inner.record_erasure(request).await
    }
    async fn erasures(&self) -> Result<Vec<ErasureRequest>, StoreError> {
        self.inner.erasures().await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

#[tokio::test]
async fn a_renewal_stuck_in_the_store_never_holds_up_the_attempt_it_renews() {
    let (receiver, url) = Receiver::start().await;
    let release = Arc::new(Notify::new());
    receiver.hold_first(release.clone());
    let dir = AppDir::new(&destination(&url, ""));
    // A short lease, so that a renewal falls due while the destination is still answering.
    dir.edit("lease = \"30s\"", "lease = \"300ms\"");
    let store = RenewSpy::over(&dir, true, false);
    let app = dir.spawn_on_store(store.clone()).await;
    assert_eq!(app.notify(&notification("notif_stuck", "ping")).await.status(), 200);
    receiver.wait_for(1).await;
    // The renewal is now stuck in the store for good; the destination answers all the same.
    store.renewal_asked().await;
    release.notify_one();
    delivered(&app, "notif_stuck").await;
    app.stop().await;
}

#[tokio::test]
async fn a_refused_dead_letter_is_not_counted_as_one() {
    // A destination name of this test's own: the metrics recorder is shared by the whole process.
    let (receiver, url) = Receiver::start().await;
    receiver.always(500);
    let dir = AppDir::new(&destination(&url, "").replace("name = \"app\"", "name = \"refused_dead\""));
    dir.edit("retry_schedule = [\"50ms\", \"100ms\", \"150ms\"]", "retry_schedule = [\"50ms\"]");
    let store = RenewSpy::over(&dir, false, true);
    let app = dir.spawn_on_store(store.clone()).await;
    assert_eq!(app.notify(&notification("notif_refused", "ping")).await.status(), 200);
    let metrics = switchboard::startup::install_metrics().unwrap();
    wait_until("the refused result is counted", || async {
        metrics
            .handle()
            .render()
            .contains(r#"switchboard_results_refused_total{destination="refused_dead"} 1"#)
    })
    .await;
    let text = metrics.handle().render();
    assert!(
        !text.contains(r#"switchboard_dead_letters_total{destination="refused_dead"}"#),
        "a result the store refused was counted as a dead letter:\n{text}"
    );
    app.stop().await;
}
