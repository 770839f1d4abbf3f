//! The contact cache: hits, misses, invalidation and single-flight loads, counted at the simulator.

use futures::future::join_all;
use intercom_api::{ContactCacheConfig, ContactUpdate};
use intercom_sim::SimConfig;

use crate::support::TestSim;

#[tokio::test]
async fn hit_miss_and_invalidate() {
    let t = TestSim::start(SimConfig::default().seed_contacts(5)).await;
    let client = t.client().contact_cache(ContactCacheConfig::default()).build().expect("client");
    let id = t.sim.contact_ids(1).remove(0);

    let first = client.contacts().get(&id).await.expect("miss, then loaded");
    let second = client.contacts().get(&id).await.expect("hit");
    assert_eq!(first, second);
    assert_eq!(t.count("GET /contacts/{id}", 200), 1, "the second read came from the cache");
    let stats = client.contacts().cache_stats().expect("cache on");
    assert_eq!((stats.hits, stats.misses, stats.loads), (1, 1, 1));

    // Explicit invalidation (the webhook path) forces a reload.
    client.contacts().invalidate(&id).await;
    client.contacts().get(&id).await.expect("reloaded");
    assert_eq!(t.count("GET /contacts/{id}", 200), 2);

    // Writes through the client invalidate too, so the next read sees the change.
    let update = ContactUpdate { name: Some("Renamed Person".into()), ..ContactUpdate::default() };
    client.contacts().update(&id, &update).await.expect("updated");
    let after = client.contacts().get(&id).await.expect("reloaded after the write");
    assert_eq!(after.name.as_deref(), Some("Renamed Person"));
    assert_eq!(t.count("GET /contacts/{id}", 200), 3);

    // Clones share the cache.
    client.clone().contacts().get(&id).await.expect("hit through a clone");
    assert_eq!(t.count("GET /contacts/{id}", 200), 3);
}

#[tokio::test]
async fn concurrent_misses_share_one_request() {
    let t = TestSim::start(SimConfig::default().seed_contacts(5)).await;
    // Slow answers keep the first load in flight while the others arrive.
    let client = t
        .client()
        .default_header("X-Sim-Fault", "latency=150ms")
        .contact_cache(ContactCacheConfig::default())
        .build()
        .expect("client");
    let id = t.sim.contact_ids(1).remove(0);
    let reads = (0..16).map(|_| {
        let (client, id) = (client.clone(), id.clone());
        tokio::spawn(async move { client.contacts().get(&id).await })
    });
    for result in join_all(reads).await {
        result.expect("task").expect("contact");
    }
    assert_eq!(t.count("GET /contacts/{id}", 200), 1, "16 concurrent misses, one request");
    assert_eq!(client.contacts().cache_stats().expect("cache on").loads, 1);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let t = TestSim::start(SimConfig::default()).await;
    let client = t.client().contact_cache(ContactCacheConfig::default()).build().expect("client");
    let missing = "000000000000000000000000";
    client.contacts().get(missing).await.expect_err("not found");
    client.contacts().get(missing).await.expect_err("still not found");
    assert_eq!(t.count("GET /contacts/{id}", 404), 2, "a failed load is retried on the next read");
}
