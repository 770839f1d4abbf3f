//! Retries against the simulator on a virtual clock: 429 storms, 503 bursts, what is never
//! resent, and token rotation mid-run.

use std::sync::Arc;

use futures::TryStreamExt;
use futures::stream::{self, StreamExt};
use intercom_api::{Clock, ErrorKind, NewContact, TokenSource};
use intercom_sim::{AppConfig, SimConfig};
use parking_lot::RwLock;
use secrecy::SecretString;

use crate::support::{T0, TestSim, tiny_retry};

#[tokio::test]
async fn unpaced_429s_wait_for_the_reset_and_succeed_within_the_budget() {
    // 2 requests per 10-second window; an unpaced client hits the limit every third request.
    let t = TestSim::manual(SimConfig::default().rate_limit_per_minute(12)).await;
    let client = t.client().unpaced().build().expect("client");
    for n in 0..10 {
        client.me().await.unwrap_or_else(|e| panic!("request {n} failed: {e}"));
    }
    let stats = client.stats();
    assert!(stats.rate_limited >= 4, "the storm must really hit the limit: {stats:?}");
    assert_eq!(stats.retries, stats.rate_limited, "every 429 was retried once, after the reset");
    assert_eq!(t.count("GET /me", 200), 10);
    // Each wait ended at a reset: the virtual clock moved whole windows, not a backoff ladder.
    let elapsed_secs = t.clock.as_ref().expect("manual").now_secs() - T0;
    assert!(
        (40..=60).contains(&elapsed_secs),
        "10 requests at 2 per window take 4-5 windows: {elapsed_secs}s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pacer_absorbs_a_concurrent_storm_without_a_single_429() {
    // Real time (a virtual clock cannot order concurrent sleepers): 2,000 per window, 400
    // requests fired at once by 64 concurrent callers sharing one client, so its pacer spreads
    // them (about two seconds) instead of letting them burst into 429s.
    let t =
        TestSim::start(SimConfig::default().rate_limit_per_minute(12_000).workspace_limit_per_minute(60_000))
            .await;
    let client = t.client().retry(tiny_retry()).build().expect("client");
    let results: Vec<_> = stream::iter(0..400).map(|_| client.me()).buffer_unordered(64).collect().await;
    assert!(results.iter().all(Result::is_ok), "{:?}", results.iter().find(|r| r.is_err()));
    assert_eq!(t.sim.stats().rate_limited, 0, "a paced client never sees a 429");
    assert_eq!(client.stats().retries, 0);
    assert_eq!(t.count("GET /me", 200), 400);
}

#[tokio::test]
async fn a_503_burst_shorter_than_the_budget_is_ridden_out() {
    let t = TestSim::manual(SimConfig::default()).await;
    let client = t.client().build().expect("client");
    // 503 for 2.5 s; backoff waits 1 s, so attempts 1-3 fail and attempt 4 succeeds.
    t.sim.set_faults("503:2500ms").expect("valid spec");
    client.me().await.expect("succeeds on the fourth attempt");
    assert_eq!(t.count("GET /me", 503), 3);
    assert_eq!(t.count("GET /me", 200), 1);

    // A create is resent after 503 too: Intercom did not process it.
    t.sim.set_faults("503:1500ms").expect("valid spec");
    let created =
        client.contacts().create(&NewContact::user("burst-1")).await.expect("created after the burst");
    assert_eq!(t.count("POST /contacts", 503), 2);
    assert_eq!(t.count("POST /contacts", 200), 1, "exactly one contact was created");
    let found = client.contacts().find_by_external_id("burst-1").await.expect("exists once");
    assert_eq!(found.id, created.id);
}

#[tokio::test]
async fn a_503_burst_longer_than_the_budget_fails_after_exactly_four_attempts() {
    let t = TestSim::manual(SimConfig::default()).await;
    let client = t.client().build().expect("client");
    t.sim.set_faults("503:1m").expect("valid spec");
    let e = client.me().await.expect_err("the burst outlasts the retries");
    assert_eq!(e.kind(), ErrorKind::Server);
    assert_eq!(e.attempts(), 4);
    assert_eq!(t.count("GET /me", 503), 4);
}

#[tokio::test]
async fn a_create_is_never_resent_after_a_500_but_a_read_is() {
    let t = TestSim::manual(SimConfig::default()).await;
    let client = t.client().build().expect("client");
    t.sim.set_faults("500:1m").expect("valid spec");
    let e = client.contacts().create(&NewContact::user("maybe-1")).await.expect_err("500");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(e.cause_kind(), Some(ErrorKind::Server));
    assert_eq!(e.status(), Some(500));
    assert_eq!(t.count_all("POST /contacts"), 1, "one attempt only");
    let e = client
        .events()
        .create(&intercom_api::NewEvent {
            event_name: "x".into(),
            created_at: 1,
            user_id: Some("u".into()),
            ..Default::default()
        })
        .await
        .expect_err("500");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(t.count_all("POST /events"), 1);
    let e = client.me().await.expect_err("500 on every attempt");
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Server, 4));
}

#[tokio::test]
async fn upsert_reconciles_an_unknown_outcome_by_external_id() {
    let t = TestSim::manual(SimConfig::default()).await;
    let client = t.client().build().expect("client");
    let existing =
        client.contacts().create(&NewContact::user("rec-1").name("Before")).await.expect("created");
    // The create conflicts: upsert updates the existing contact instead.
    let updated = client.contacts().upsert(&NewContact::user("rec-1").name("After")).await.expect("upserted");
    assert_eq!(updated.id, existing.id);
    assert_eq!(updated.name.as_deref(), Some("After"));
    assert_eq!(t.count("POST /contacts", 409), 1);
    assert_eq!(t.count("PUT /contacts/{id}", 200), 1);
}

/// A token source the test rotates from outside, like the gateway's live secret.
#[derive(Debug, Clone)]
struct Rotating(Arc<RwLock<String>>);

impl TokenSource for Rotating {
    fn token(&self) -> SecretString {
        SecretString::from(self.0.read().clone())
    }
}

#[tokio::test]
async fn token_swap_mid_run_takes_effect_on_the_next_request() {
    let second = AppConfig { token: Some("tok-second-app".into()), ..AppConfig::default() };
    let mut config = SimConfig::default().seed_contacts(300);
    config.workspaces[0].apps.push(second);
    let t = TestSim::manual(config).await;
    let live = Rotating(Arc::new(RwLock::new(t.token())));
    let client = t.client().token_source(live.clone()).build().expect("client");
    let clone = client.clone();

    // Rotate to the second app's token in the middle of a paginated read: nothing breaks.
    let mut contacts = client.contacts().list_with(50);
    let mut seen = 0;
    while let Some(_c) = contacts.try_next().await.expect("every page succeeds") {
        seen += 1;
        if seen == 120 {
            *live.0.write() = "tok-second-app".into();
        }
    }
    assert_eq!(seen, 300);

    // A revoked token is used at once by every clone; setting a good one recovers.
    clone.set_token("revoked-token");
    assert_eq!(client.me().await.expect_err("revoked").kind(), ErrorKind::Unauthorized);
    client.set_token("tok-second-app");
    clone.me().await.expect("the new token works for every clone");
}
