//! 10,000 items through every pagination style without a duplicate or a gap.

use std::collections::HashSet;
use std::time::Duration;

use futures::TryStreamExt;
use futures::stream::{self, StreamExt};
use intercom_api::NewCompany;
use intercom_api::search::{Filter, Search};
use intercom_sim::SimConfig;

use crate::support::TestSim;

const N: usize = 10_000;

fn assert_exactly(ids: Vec<String>, expected: &HashSet<String>) {
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "duplicates: {} items, {} unique", ids.len(), unique.len());
    let missing = expected.difference(&unique).count();
    assert_eq!(missing, 0, "gaps: {missing} expected items never arrived");
    assert_eq!(unique.len(), expected.len());
}

async fn seeded() -> (TestSim, HashSet<String>) {
    let t = TestSim::start(SimConfig::default().seed_contacts(N)).await;
    let expected: HashSet<String> = t.sim.contact_ids(N + 1).into_iter().collect();
    assert_eq!(expected.len(), N);
    (t, expected)
}

#[tokio::test]
async fn list_streams_ten_thousand_contacts() {
    let (t, expected) = seeded().await;
    let client = t.client().build().expect("client");
    let listed: Vec<String> =
        client.contacts().list().map_ok(|c| c.id.unwrap_or_default()).try_collect().await.expect("list");
    assert_exactly(listed, &expected);
    assert_eq!(t.count("GET /contacts", 200), N.div_ceil(150) as u64);
}

#[tokio::test]
async fn search_streams_ten_thousand_contacts() {
    let (t, expected) = seeded().await;
    let client = t.client().build().expect("client");
    let everyone = Search::new(Filter::is_in("role", ["user", "lead"])).per_page(150);
    let searched: Vec<String> = client
        .contacts()
        .search(everyone)
        .map_ok(|c| c.id.unwrap_or_default())
        .try_collect()
        .await
        .expect("search");
    assert_exactly(searched, &expected);
    assert_eq!(t.sim.stats().rate_limited, 0);
}

#[tokio::test]
async fn scroll_streams_ten_thousand_companies_and_survives_expiry() {
    // Limits raised out of the way: this test is about pagination, not pacing.
    let t = TestSim::manual(
        SimConfig::default().rate_limit_per_minute(10_000_000).workspace_limit_per_minute(10_000_000),
    )
    .await;
    let client = t.client().build().expect("client");
    let created: Vec<String> = stream::iter(0..N)
        .map(|n| {
            let client = client.clone();
            async move { client.companies().upsert(&NewCompany::new(format!("co-{n:05}"))).await }
        })
        .buffer_unordered(32)
        .map_ok(|c| c.id.unwrap_or_default())
        .try_collect()
        .await
        .expect("companies created");
    let expected: HashSet<String> = created.into_iter().collect();

    let mut scroll = client.companies().scroll();
    let mut ids = Vec::new();
    while let Some(company) = scroll.try_next().await.expect("scroll page") {
        ids.push(company.id.unwrap_or_default());
        if ids.len() == 3_210 {
            // The scroll parameter expires after a minute unused: the stream restarts the scroll
            // and skips what it already yielded.
            t.sim.advance_clock(Duration::from_secs(61)).expect("manual clock");
        }
    }
    assert_exactly(ids, &expected);
    assert_eq!(t.count("GET /companies/scroll", 404), 1, "one expiry, one restart");
}
