//! The notification envelope, through the real ingress (crates/switchboard/src/webhooks/ingress.rs):
//! the body is signed with the app's secret and POSTed to the axum routes backed by a real SQLite
//! store, so the envelope parsing, the field and age checks and the durable insert all run.
//!
//! Checks: the answer is 200 or a 4xx, never a 5xx or a panic; a 200 means the event is in the store
//! with exactly the bytes received, and its id and topic are non-empty strings of the JSON body; a
//! body whose signature does not match gets 401 and stores nothing.
#![no_main]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use switchboard::clock::ManualClock;
use switchboard::delivery::Routing;
use switchboard::secrets::Secret;
use switchboard::store::{SqliteStore, Store};
use switchboard::webhooks::ingress::{self, Ingress, IngressApp, IngressLimits};
use switchboard::webhooks::sign;
use tower::ServiceExt;

const SECRET: &str = "client-secret-42";
const PATH: &str = "/webhooks/intercom";
/// The ingress's clock: seeds carry `created_at` values around it.
const NOW_MILLIS: u64 = 1_700_000_000_000;
/// A fresh store after this many inputs keeps the database (and the disk it uses) small.
const STORE_RUNS: u32 = 20_000;

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    store: Arc<dyn Store>,
    runs: u32,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        // tmpfs when there is one: the store fsyncs every commit.
        let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
        let dir = tempfile::Builder::new().prefix("switchboard-fuzz-").tempdir_in(base).expect("tempdir");
        let store: Arc<dyn Store> = {
            let _guard = runtime.enter();
            Arc::new(SqliteStore::open(&dir.path().join("store.db")).expect("store opens"))
        };
        let ingress = Ingress::new(
            vec![IngressApp {
                name: ingress::DEFAULT_APP.to_owned(),
                client_secrets: vec![Secret::generated("webhooks.client_secrets[0]", SECRET)],
            }],
            Routing::default(),
            store.clone(),
            IngressLimits {
                max_body: 1 << 20,
                max_event_age: Duration::from_secs(3600),
                max_clock_skew: Duration::from_secs(300),
                // Generous: a busy machine must not turn a slow fsync into a 503 "finding".
                ack_deadline: Duration::from_secs(60),
            },
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(ManualClock::new(NOW_MILLIS)),
        );
        let router = ingress::routes(PATH, ingress);
        Harness { runtime, router, store, runs: 0, _dir: dir }
    }

    fn post(&self, body: &[u8], signature: &str) -> (StatusCode, Vec<u8>) {
        let request = Request::post(PATH)
            .header("content-type", "application/json")
            .header("x-hub-signature", signature)
            .body(Body::from(body.to_vec()))
            .expect("request");
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            (status, bytes.to_vec())
        })
    }
}

// A static, not a thread-local: statics are never dropped, so nothing runs on the runtime while the
// process exits (a thread-local's destructor would, after Tokio's own thread-locals are gone).
static HARNESS: Mutex<Option<Harness>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let mut slot = HARNESS.lock().unwrap_or_else(|e| e.into_inner());
    if slot.as_ref().is_none_or(|h| h.runs >= STORE_RUNS) {
        if let Some(old) = slot.take() {
            old.runtime.block_on(old.store.close());
        }
        *slot = Some(Harness::new());
    }
    let harness = slot.as_mut().expect("just set");
    harness.runs += 1;
    check(harness, data);
});

/// The two fields every stored notification must have, read independently of the ingress.
#[derive(serde::Deserialize)]
struct Fields {
    id: String,
    topic: String,
}

fn check(harness: &Harness, body: &[u8]) {
    // Well-formed JSON text: UTF-8 (RFC 8259) and the grammar. Numbers beyond f64 are grammatical
    // (serde_json's Value cannot hold them, other parsers read them as infinity), so no Value here.
    let is_json =
        std::str::from_utf8(body).is_ok() && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok();
    let fields: Option<Fields> = serde_json::from_slice(body).ok();
    let id = fields.as_ref().map(|f| f.id.clone());
    let before = id.as_deref().map(|id| stored(harness, id));

    // A wrong signature: refused before anything is parsed or stored.
    let mut wrong = sign(SECRET.as_bytes(), body);
    wrong.replace_range(5..6, if wrong.as_bytes()[5] == b'0' { "1" } else { "0" });
    let (status, _) = harness.post(body, &wrong);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    if let (Some(id), Some(before)) = (&id, &before) {
        assert_eq!(&stored(harness, id), before, "a refused body changed the store");
    }

    let (status, answer) = harness.post(body, &sign(SECRET.as_bytes(), body));
    assert!(
        status == StatusCode::OK || status.is_client_error(),
        "status {status} for {:?}: {}",
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(&answer)
    );
    if status == StatusCode::OK {
        assert!(is_json, "a stored body is JSON text");
        let fields = fields.expect("a stored body has a string id and topic");
        let (id, topic) = (fields.id, fields.topic.as_str());
        assert!(!id.is_empty() && !topic.is_empty());
        let event = stored(harness, &id).expect("a 200 means the event is stored");
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("JSON answer");
        match answer["status"].as_str() {
            // A first delivery is stored byte for byte.
            Some("stored") => {
                assert_eq!(event.1, body, "stored body differs from the received one");
                assert_eq!(event.0, topic);
            }
            // A repeat keeps the first copy.
            Some("duplicate") => assert!(before.flatten().is_some(), "duplicate of nothing"),
            other => panic!("unexpected answer {other:?}"),
        }
    }
}

fn stored(harness: &Harness, id: &str) -> Option<(String, Vec<u8>)> {
    harness
        .runtime
        .block_on(harness.store.event(ingress::DEFAULT_APP, id))
        .expect("store read")
        .map(|e| (e.topic, e.body.to_vec()))
}
