//! Metrics go through the `metrics` facade with endpoint templates, never ids, as labels.
//!
//! The recorder is this test's own, set for its thread only: a global one would also collect what
//! every other test of this binary records concurrently and disturb the counts.

use intercom_api::telemetry;
use intercom_sim::SimConfig;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

use crate::support::TestSim;

// A current-thread runtime (what `#[tokio::test]` builds): the client, its pacer and the
// connection tasks all run on the thread whose local recorder is set, so nothing it records is lost
// and nothing another test records arrives.
#[tokio::test(flavor = "current_thread")]
async fn requests_retries_and_remaining_are_recorded_without_ids() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = ::metrics::set_default_local_recorder(&recorder);

    let t = TestSim::manual(SimConfig::default().seed_contacts(3)).await;
    let client = t.client().build().expect("client");
    let id = t.sim.contact_ids(1).remove(0);
    client.contacts().get(&id).await.expect("contact");
    t.sim.set_faults("503:1500ms").expect("valid spec");
    client.me().await.expect("after two retries");

    let snapshot = snapshotter.snapshot().into_vec();
    let mut requests = Vec::new();
    let mut retries = 0;
    let mut remaining_seen = false;
    for (key, _, _, value) in &snapshot {
        let labels: Vec<(String, String)> =
            key.key().labels().map(|l| (l.key().to_string(), l.value().to_string())).collect();
        for (_, v) in &labels {
            assert!(!v.contains(&id), "an id leaked into a metric label: {labels:?}");
        }
        match (key.key().name(), value) {
            (telemetry::REQUESTS, DebugValue::Counter(n)) => requests.push((labels, *n)),
            (telemetry::RETRIES, DebugValue::Counter(n)) => retries += n,
            (telemetry::RATE_LIMIT_REMAINING, DebugValue::Gauge(_)) => remaining_seen = true,
            _ => {}
        }
    }
    let label =
        |labels: &[(String, String)], k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert!(requests.iter().any(|(l, n)| label(l, "endpoint").as_deref() == Some("/contacts/{id}")
        && label(l, "method").as_deref() == Some("GET")
        && label(l, "status").as_deref() == Some("200")
        && *n == 1));
    assert!(requests.iter().any(|(l, n)| label(l, "endpoint").as_deref() == Some("/me")
        && label(l, "status").as_deref() == Some("503")
        && *n == 2));
    assert_eq!(retries, 2);
    assert!(remaining_seen, "the rate-limit remaining gauge is set");
}
