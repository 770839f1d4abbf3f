//! The `Store` contract: every backend must pass these. Today: SQLite (a real file per test).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchboard::clock::ManualClock;
use switchboard::store::{
    AttemptResult, ClaimExclusions, ClaimId, DeadLetterFilter, InsertOutcome, NewEvent, SqliteStore, Store,
    StoreError, now_millis,
};

const LEASE: Duration = Duration::from_secs(30);

fn event(id: &str, destinations: &[&str], received_at: i64) -> NewEvent {
    NewEvent {
        app: "default".into(),
        notification_id: id.into(),
        topic: "contact.user.created".into(),
        body: Bytes::from(format!(r#"{{"id":"{id}","topic":"contact.user.created"}}"#)),
        created_at: Some(received_at / 1000),
        received_at,
        destinations: destinations.iter().map(|d| (*d).to_owned()).collect(),
    }
}

struct Backend {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/switchboard.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    Backend { store, _dir: dir, path }
}

async fn duplicates_are_detected_and_change_nothing(b: Backend) {
    let s = &b.store;
    let first = s.insert_event(event("notif_1", &["app", "crm"], 1_000)).await.unwrap();
    assert!(matches!(first, InsertOutcome::Stored(_)));
    let mut again = event("notif_1", &["other"], 2_000);
    again.body = Bytes::from_static(b"{}");
    assert_eq!(s.insert_event(again).await.unwrap(), InsertOutcome::Duplicate);
    let stored = s.event("default", "notif_1").await.unwrap().unwrap();
    assert_eq!(stored.deliveries, [("app".into(), "pending".into()), ("crm".into(), "pending".into())]);
    assert!(stored.body.starts_with(b"{\"id\":\"notif_1\""), "the first body is kept");
    // The key is per app: the same id on another app is another event.
    let mut other_app = event("notif_1", &["app"], 1_000);
    other_app.app = "eu".into();
    assert!(matches!(s.insert_event(other_app).await.unwrap(), InsertOutcome::Stored(_)));
}

async fn concurrent_copies_store_exactly_once(b: Backend) {
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = b.store.clone();
            tokio::spawn(async move { store.insert_event(event("notif_same", &["app"], 5)).await.unwrap() })
        })
        .collect();
    let mut stored = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), InsertOutcome::Stored(_)) {
            stored += 1;
        }
    }
    assert_eq!(stored, 1);
    let claimed = b.store.claim("w", 10, LEASE, 100).await.unwrap();
    assert_eq!(claimed.len(), 1, "one delivery queued, not fifty");
}

async fn leases_hide_claims_until_they_expire(b: Backend) {
    let s = &b.store;
    for i in 0..5 {
        s.insert_event(event(&format!("n{i}"), &["app"], 100 + i)).await.unwrap();
    }
    let first = s.claim("worker-a", 1_000, LEASE, 3).await.unwrap();
    assert_eq!(first.iter().map(|d| d.notification_id.as_str()).collect::<Vec<_>>(), ["n0", "n1", "n2"]);
    assert_eq!(first[0].body, Bytes::from(r#"{"id":"n0","topic":"contact.user.created"}"#));
    assert_eq!(first[0].attempts, 0);
    let second = s.claim("worker-b", 1_000, LEASE, 10).await.unwrap();
    assert_eq!(second.iter().map(|d| d.notification_id.as_str()).collect::<Vec<_>>(), ["n3", "n4"]);
    assert!(s.claim("worker-b", 30_999, LEASE, 10).await.unwrap().is_empty(), "leases still held");
    // worker-a crashed: its lease expires and worker-b takes the deliveries over.
    let taken_over = s.claim("worker-b", 31_000, LEASE, 10).await.unwrap();
    assert_eq!(taken_over.len(), 5);
}

async fn results_move_deliveries_between_states(b: Backend) {
    let s = &b.store;
    for i in 0..3 {
        s.insert_event(event(&format!("n{i}"), &["app"], 0)).await.unwrap();
    }
    let claimed = s.claim("w", 0, LEASE, 10).await.unwrap();
    let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
    s.complete(
        "w",
        100,
        vec![
            (claimed[0].claim(), AttemptResult::Delivered { status: Some(200) }),
            (
                claimed[1].claim(),
                AttemptResult::Retry { at: 5_000, status: Some(503), error: "HTTP 503".into() },
            ),
            (claimed[2].claim(), AttemptResult::Dead { status: Some(400), error: "HTTP 400".into() }),
        ],
    )
    .await
    .unwrap();
    let stats = s.stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead), (1, 1));
    assert_eq!(stats.oldest_pending_received_at, Some(0));
    assert!(s.claim("w", 4_999, LEASE, 10).await.unwrap().is_empty(), "the retry is not due yet");
    let retry = s.claim("w", 5_000, LEASE, 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].id, ids[1]);
    assert_eq!(retry[0].attempts, 1);

    let dead = s.dead_letters(DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id, dead[0].attempts, dead[0].last_status), (ids[2], 1, Some(400)));
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 400"));
    assert_eq!(dead[0].dead_at, 100);
    let none = DeadLetterFilter { destination: Some("crm".into()), ..Default::default() };
    assert!(s.dead_letters(none.clone()).await.unwrap().is_empty());
    assert_eq!(s.replay(200, none).await.unwrap(), 0);
    let later = DeadLetterFilter { since: Some(101), ..Default::default() };
    assert!(s.dead_letters(later).await.unwrap().is_empty());

    assert_eq!(s.replay(200, DeadLetterFilter { id: Some(ids[2]), ..Default::default() }).await.unwrap(), 1);
    assert!(s.dead_letters(DeadLetterFilter::default()).await.unwrap().is_empty());
    let replayed = s.claim("w", 200, LEASE, 10).await.unwrap();
    assert_eq!(replayed.iter().map(|d| d.id).collect::<Vec<_>>(), [ids[2]]);
    assert_eq!(replayed[0].attempts, 0, "a replay starts a fresh retry schedule");
}

async fn purge_removes_only_old_fully_delivered_events(b: Backend) {
    let s = &b.store;
    s.insert_event(event("old-delivered", &["app"], 0)).await.unwrap();
    s.insert_event(event("old-dead", &["app"], 0)).await.unwrap();
    s.insert_event(event("old-no-destinations", &[], 0)).await.unwrap();
    s.insert_event(event("new-delivered", &["app"], 10_000)).await.unwrap();
    let claimed = s.claim("w", 10_000, LEASE, 10).await.unwrap();
    let results = claimed
        .iter()
        .map(|d| {
            let result = if d.notification_id == "old-dead" {
                AttemptResult::Dead { status: None, error: "refused".into() }
            } else {
                AttemptResult::Delivered { status: Some(200) }
            };
            (d.claim(), result)
        })
        .collect();
    s.complete("w", 10_000, results).await.unwrap();
    assert_eq!(s.purge_delivered(5_000).await.unwrap(), 2);
    assert!(s.event("default", "old-delivered").await.unwrap().is_none());
    assert!(s.event("default", "old-no-destinations").await.unwrap().is_none());
    assert!(s.event("default", "old-dead").await.unwrap().is_some(), "dead letters are kept");
    assert!(s.event("default", "new-delivered").await.unwrap().is_some(), "recent events are kept");
    assert_eq!(s.dead_letters(DeadLetterFilter::default()).await.unwrap().len(), 1);
}

async fn close_keeps_everything_and_later_calls_fail(b: Backend) {
    for i in 0..100 {
        b.store.insert_event(event(&format!("n{i}"), &["app"], i)).await.unwrap();
    }
    b.store.ping().await.unwrap();
    b.store.close().await;
    assert!(matches!(b.store.stats().await, Err(StoreError::Closed)));
    let reopened = SqliteStore::open(&b.path).unwrap();
    assert_eq!(reopened.stats().await.unwrap().pending, 100);
    assert_eq!(reopened.insert_event(event("n7", &["app"], 7)).await.unwrap(), InsertOutcome::Duplicate);
    reopened.close().await;
}

async fn a_stale_worker_cannot_overwrite_a_newer_claim(b: Backend) {
    let s = &b.store;
    s.insert_event(event("n", &["app"], 0)).await.unwrap();
    let first = s.claim("worker-a", 0, LEASE, 1).await.unwrap();
    // worker-a stalls past its lease; worker-b takes the delivery over.
    let second = s.claim("worker-b", 30_000, LEASE, 1).await.unwrap();
    assert_eq!(first[0].id, second[0].id);
    let late = AttemptResult::Dead { status: Some(500), error: "late".into() };
    s.complete("worker-a", 30_001, vec![(first[0].claim(), late)]).await.unwrap();
    assert_eq!(s.stats().await.unwrap().dead, 0, "the stale result is ignored");
    assert!(
        s.claim("worker-c", 30_002, LEASE, 1).await.unwrap().is_empty(),
        "worker-b still holds the lease"
    );
    s.complete("worker-b", 30_003, vec![(second[0].claim(), AttemptResult::Delivered { status: Some(200) })])
        .await
        .unwrap();
    let stored = s.event("default", "n").await.unwrap().unwrap();
    assert_eq!(stored.deliveries, [("app".into(), "delivered".into())]);
}

async fn a_stale_claim_of_the_same_worker_cannot_record_over_its_newer_claim(b: Backend) {
    // A wall-clock jump past the lease: the same worker claims the delivery again while its first
    // attempt still runs. The owner cannot tell the two attempts apart; the fencing token does.
    let clock = ManualClock::new(1_000_000);
    let now = || now_millis(&clock);
    let s = &b.store;
    s.insert_event(event("n", &["app"], now())).await.unwrap();
    let first = s.claim("worker", now(), LEASE, 1).await.unwrap().remove(0);
    clock.advance(LEASE * 10);
    let second = s.claim("worker", now(), LEASE, 1).await.unwrap().remove(0);
    assert_eq!(first.id, second.id);
    assert!(
        second.token > first.token,
        "each claim gets a newer token: {} then {}",
        first.token,
        second.token
    );

    let stale = AttemptResult::Retry { at: now() + 60_000, status: None, error: "late".into() };
    assert_eq!(s.complete("worker", now(), vec![(first.claim(), stale)]).await.unwrap(), 0, "refused");
    assert_eq!(s.renew("worker", now(), LEASE, vec![first.claim()]).await.unwrap(), 0, "no renewal either");
    assert!(s.claim("other", now(), LEASE, 1).await.unwrap().is_empty(), "the newer claim still holds it");
    let done = AttemptResult::Delivered { status: Some(200) };
    assert_eq!(s.complete("worker", now(), vec![(second.claim(), done)]).await.unwrap(), 1);
    let stored = s.event("default", "n").await.unwrap().unwrap();
    assert_eq!(stored.deliveries, [("app".into(), "delivered".into())]);
    // A result presented twice counts once.
    let again = AttemptResult::Dead { status: None, error: "again".into() };
    assert_eq!(s.complete("worker", now(), vec![(second.claim(), again)]).await.unwrap(), 0);
    assert_eq!(s.stats().await.unwrap().dead, 0);
}

async fn renewal_extends_only_the_latest_claim(b: Backend) {
    let s = &b.store;
    s.insert_event(event("n", &["app"], 0)).await.unwrap();
    let claimed = s.claim("worker-a", 0, LEASE, 1).await.unwrap().remove(0);
    // Renewed at 20 s, the lease runs to 50 s instead of 30 s.
    assert_eq!(s.renew("worker-a", 20_000, LEASE, vec![claimed.claim()]).await.unwrap(), 1);
    assert!(s.claim("worker-b", 49_999, LEASE, 1).await.unwrap().is_empty(), "renewed lease still held");
    assert_eq!(s.renew("worker-b", 49_999, LEASE, vec![claimed.claim()]).await.unwrap(), 0, "not b's claim");
    let taken = s.claim("worker-b", 50_000, LEASE, 1).await.unwrap().remove(0);
    assert_eq!(s.renew("worker-a", 50_001, LEASE, vec![claimed.claim()]).await.unwrap(), 0, "a lost it");
    assert_eq!(s.renew("worker-b", 50_001, LEASE, vec![taken.claim()]).await.unwrap(), 1);
    let wrong_token = ClaimId { delivery: taken.id, token: taken.token + 1 };
    assert_eq!(s.renew("worker-b", 50_001, LEASE, vec![wrong_token]).await.unwrap(), 0, "a token not given");
}

async fn claims_pass_over_excluded_deliveries_and_destinations(b: Backend) {
    let s = &b.store;
    s.insert_event(event("n1", &["app", "crm"], 0)).await.unwrap();
    s.insert_event(event("n2", &["app", "crm"], 1)).await.unwrap();
    let all = s.claim("w", 1, LEASE, 10).await.unwrap();
    assert_eq!(all.len(), 4);
    let (held, rest): (Vec<_>, Vec<_>) = all.iter().partition(|d| d.notification_id == "n1");
    // Far past the lease (a wall-clock jump): the worker still attempts n1's deliveries.
    let except = ClaimExclusions { deliveries: held.iter().map(|d| d.id).collect(), destinations: vec![] };
    let again = s.claim_except("w", 1_000_000, LEASE, 10, &except).await.unwrap();
    let mut got: Vec<i64> = again.iter().map(|d| d.id).collect();
    got.sort();
    let mut want: Vec<i64> = rest.iter().map(|d| d.id).collect();
    want.sort();
    assert_eq!(got, want, "n1's deliveries are passed over");
    let except = ClaimExclusions { deliveries: vec![], destinations: vec!["crm".into()] };
    let app_only = s.claim_except("w", 2_000_000, LEASE, 10, &except).await.unwrap();
    assert_eq!(app_only.iter().map(|d| d.destination.as_str()).collect::<Vec<_>>(), ["app", "app"]);
}

async fn a_disabled_destination_pauses_its_deliveries(b: Backend) {
    let s = &b.store;
    s.insert_event(event("before", &["app", "crm"], 0)).await.unwrap();
    s.set_destination_disabled("app", Some((1, "answered 410 Gone".into()))).await.unwrap();
    s.insert_event(event("during", &["app"], 2)).await.unwrap();
    let claimed = s.claim("w", 10, LEASE, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|d| d.destination.as_str()).collect::<Vec<_>>(), ["crm"]);
    assert_eq!(s.stats().await.unwrap().pending, 3, "paused deliveries stay queued");
    assert_eq!(s.disabled_destinations().await.unwrap()[0].reason, "answered 410 Gone");
    s.set_destination_disabled("app", None).await.unwrap();
    let resumed = s.claim("w", 20, LEASE, 10).await.unwrap();
    let mut ids: Vec<&str> = resumed.iter().map(|d| d.notification_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["before", "during"]);
}

async fn replays_of_many_dead_letters_are_complete(b: Backend) {
    let s = &b.store;
    for i in 0..1_234 {
        s.insert_event(event(&format!("n{i}"), &["app"], i)).await.unwrap();
    }
    let claimed = s.claim("w", 2_000, LEASE, 2_000).await.unwrap();
    let results = claimed
        .iter()
        .map(|d| (d.claim(), AttemptResult::Dead { status: Some(500), error: "x".into() }))
        .collect();
    s.complete("w", 2_000, results).await.unwrap();
    assert_eq!(s.stats().await.unwrap().dead, 1_234);
    assert_eq!(s.replay(3_000, DeadLetterFilter::default()).await.unwrap(), 1_234);
    assert_eq!(s.stats().await.unwrap().dead, 0);
    assert_eq!(s.claim("w", 3_000, LEASE, 2_000).await.unwrap().len(), 1_234);
}

macro_rules! contract {
    ($backend:ident: $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::$backend()).await;
                }
            )*
        }
    };
}

contract!(sqlite:
    duplicates_are_detected_and_change_nothing,
    concurrent_copies_store_exactly_once,
    leases_hide_claims_until_they_expire,
    results_move_deliveries_between_states,
    purge_removes_only_old_fully_delivered_events,
    close_keeps_everything_and_later_calls_fail,
    a_stale_worker_cannot_overwrite_a_newer_claim,
    a_disabled_destination_pauses_its_deliveries,
    replays_of_many_dead_letters_are_complete,
    a_stale_claim_of_the_same_worker_cannot_record_over_its_newer_claim,
    renewal_extends_only_the_latest_claim,
    claims_pass_over_excluded_deliveries_and_destinations,
);

#[tokio::test]
async fn sqlite_refuses_a_database_from_a_newer_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let error = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(error.contains("schema version 99 is newer") && error.contains("newer switchboard"), "{error}");
}

#[tokio::test]
async fn sqlite_reports_an_unusable_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let error = SqliteStore::open(&blocker.join("db")).unwrap_err().to_string();
    assert!(error.contains("cannot create"), "{error}");
}
