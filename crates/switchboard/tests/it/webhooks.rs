//! Webhook ingress: signatures, limits, parsing, replay protection, deduplication and durability.

use std::sync::Arc;
use std::time::Duration;

use switchboard::clock::{Clock, ManualClock, SystemClock};
use switchboard::delivery::Routing;
use switchboard::store::{
    AttemptResult, ClaimExclusions, ClaimId, ClaimedDelivery, DeadLetter, DeadLetterFilter,
    DisabledDestination, ErasureRequest, InsertOutcome, Millis, NewEvent, QueueStats, Store, StoreError,
    StoredEvent,
};
use switchboard::webhooks::ingress::{self, Ingress, IngressApp, IngressLimits};

use crate::harness::{
    AppDir, CLIENT_SECRET, ROTATED_SECRET, Receiver, ServeProcess, error_envelope, notification,
    notification_on, post_signed, post_with_signature, serve, spawn_app, spawn_app_on, wait_until,
};

/// The status and code of an error answer, after checking its envelope and request id.
async fn error_code(response: reqwest::Response) -> (u16, String) {
    let (status, code, _) = error_envelope(response).await;
    (status, code)
}

#[tokio::test]
async fn signatures_are_checked_on_the_raw_body_before_anything_is_stored() {
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    let url = app.url("/webhooks/intercom");
    let body = notification("notif_sig", "contact.user.created");
    let good = switchboard::webhooks::sign(CLIENT_SECRET.as_bytes(), body.as_bytes());
    let send = |signature: Option<String>, body: String| {
        let mut request = http.post(&url).header("content-type", "application/json").body(body);
        if let Some(signature) = signature {
            request = request.header("x-hub-signature", signature);
        }
        request.send()
    };

    let cases = [
        (
            "wrong secret",
            Some(switchboard::webhooks::sign(b"another-secret", body.as_bytes())),
            "signature_mismatch",
        ),
        ("missing header", None, "signature_missing"),
        ("no sha1= prefix", Some(good.trim_start_matches("sha1=").to_owned()), "signature_malformed"),
        ("truncated hex", Some(good[..good.len() - 2].to_owned()), "signature_malformed"),
        ("sha256 prefix", Some(good.replace("sha1=", "sha256=")), "signature_malformed"),
        ("not hex", Some(format!("sha1={}", "z".repeat(40))), "signature_malformed"),
    ];
    for (case, signature, code) in cases {
        let (status, got) = error_code(send(signature, body.clone()).await.unwrap()).await;
        assert_eq!((status, got.as_str()), (401, code), "{case}");
    }
    // Empty body with the signature of the real body: refused, not parsed.
    let (status, code) = error_code(send(Some(good.clone()), String::new()).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (401, "signature_mismatch"));
    assert!(app.store.event("default", "notif_sig").await.unwrap().is_none(), "nothing refused is stored");
    assert_eq!(app.store.stats().await.unwrap(), QueueStats::default());

    // Uppercase hex is the same MAC: accepted.
    let upper = format!("sha1={}", good.trim_start_matches("sha1=").to_uppercase());
    let response = send(Some(upper), body.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "stored");
    assert!(app.store.event("default", "notif_sig").await.unwrap().is_some());
    app.stop().await;
}

#[tokio::test]
async fn notifications_are_aged_and_stamped_on_the_services_clock() {
    // Years away from the machine's own time: only the injected clock can make these ages come out
    // right, and moving it replaces waiting a day.
    const T0: u64 = 2_000_000_000;
    let clock = ManualClock::at_secs(T0);
    let app = spawn_app_on("", Arc::new(clock.clone())).await;
    let max_age = app.config.webhooks.max_event_age;
    let created_now = |id: &str| notification_on(id, "contact.user.created", &clock);
    let (first, at_the_limit, too_late) =
        (created_now("notif_first"), created_now("notif_at_limit"), created_now("notif_too_late"));

    let response = app.notify(&first).await;
    assert_eq!(response.status(), 200);
    let db = app.dir.path().join("data/switchboard.db");
    let received_at: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT received_at FROM events WHERE notification_id = 'notif_first'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(received_at, (T0 * 1000) as i64, "received_at is stamped from the service's clock");

    clock.advance(max_age);
    let response = app.notify(&at_the_limit).await;
    assert_eq!(response.status(), 200, "exactly webhooks.max_event_age old is still accepted");

    clock.advance(Duration::from_secs(1));
    let (status, code) = error_code(app.notify(&too_late).await).await;
    assert_eq!((status, code.as_str()), (400, "too_old"), "one second past webhooks.max_event_age");
    assert!(
        app.store.event("default", "notif_too_late").await.unwrap().is_none(),
        "a refused one is not stored"
    );

    let fresh = created_now("notif_fresh");
    assert_eq!(app.notify(&fresh).await.status(), 200, "created now again: accepted");
    app.stop().await;
}

#[tokio::test]
async fn both_secrets_are_accepted_during_a_rotation() {
    let dir = AppDir::new("");
    let d = dir.path().display().to_string();
    dir.edit(
        &format!("client_secrets = [\"file:{d}/client_secret\"]"),
        &format!("client_secrets = [\"file:{d}/client_secret\", \"file:{d}/rotated_secret\"]"),
    );
    let app = dir.spawn().await;
    let http = reqwest::Client::new();
    let url = app.url("/webhooks/intercom");
    for (id, secret) in [("notif_old", CLIENT_SECRET), ("notif_new", ROTATED_SECRET)] {
        let response = post_signed(&http, &url, secret, &notification(id, "ping")).await;
        assert_eq!(response.status(), 200, "{id}");
    }
    let response = post_signed(&http, &url, "neither", &notification("notif_x", "ping")).await;
    assert_eq!(response.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn bodies_are_limited_parsed_and_checked_for_age_after_verification() {
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    let url = app.url("/webhooks/intercom");

    let huge = format!(r#"{{"id":"notif_big","topic":"ping","pad":"{}"}}"#, "x".repeat(1024 * 1024));
    let (status, code) = error_code(app.notify(&huge).await).await;
    assert_eq!((status, code.as_str()), (413, "body_too_large"));

    let cases = [
        ("not json", "this is not json".to_owned(), "invalid_json"),
        ("no id", r#"{"topic":"ping"}"#.to_owned(), "missing_fields"),
        ("no topic", r#"{"id":"notif_1"}"#.to_owned(), "missing_fields"),
        ("empty id", r#"{"id":"","topic":"ping"}"#.to_owned(), "missing_fields"),
        ("id not a string", r#"{"id":5,"topic":"ping"}"#.to_owned(), "invalid_json"),
        (
            "two days old",
            r#"{"id":"notif_old","topic":"ping","created_at":1700000000}"#.to_owned(),
            "too_old",
        ),
    ];
    for (case, body, expected) in cases {
        let (status, code) = error_code(app.notify(&body).await).await;
        assert_eq!((status, code.as_str()), (400, expected), "{case}");
    }
    assert_eq!(app.store.stats().await.unwrap(), QueueStats::default(), "nothing refused is stored");

    // Unknown topics are accepted and stored; HEAD validates the URL.
    let response = app.notify(&notification("notif_new_topic", "brand.new.topic")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(http.head(&url).send().await.unwrap().status(), 200);
    let (status, code) = error_code(
        post_signed(&http, &app.url("/webhooks/intercom/nope"), CLIENT_SECRET, &notification("n", "ping"))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "unknown_app"));
    // A segment that does not decode as UTF-8 is refused with 400, as ever, but in the envelope.
    let (status, code) = error_code(
        post_signed(&http, &app.url("/webhooks/intercom/%FF"), CLIENT_SECRET, &notification("n", "ping"))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "bad_request"));
    app.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_copies_store_once_and_deliver_once() {
    let (receiver, hook) = Receiver::start().await;
    let app = spawn_app(&format!("[[destinations]]\nname = \"app\"\nurl = \"{hook}\"\n")).await;
    let http = reqwest::Client::new();
    let url = app.url("/webhooks/intercom");
    let body = notification("notif_dup", "contact.user.created");
    let copies: Vec<_> = (0..50)
        .map(|_| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let response = post_signed(&http, &url, CLIENT_SECRET, &body).await;
                assert_eq!(response.status(), 200);
                response.json::<serde_json::Value>().await.unwrap()["status"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for copy in copies {
        statuses.push(copy.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| *s == "stored").count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "duplicate").count(), 49);
    receiver.wait_for(1).await;
    // Wait until the event is fully handled (delivered to the destination and the built-in handler).
    wait_until("the event is delivered everywhere", || async {
        let event = app.store.event("default", "notif_dup").await.unwrap().unwrap();
        event.deliveries.iter().all(|(_, state)| state == "delivered")
    })
    .await;
    assert_eq!(receiver.received().len(), 1, "delivered exactly once");
    app.stop().await;
}

/// A store that fails or stalls on demand, to see the ingress refuse to acknowledge.
#[derive(Debug)]
struct BrokenStore {
    stall: bool,
}

#[async_trait::async_trait]
impl Store for BrokenStore {
    async fn insert_event(&self, _: NewEvent) -> Result<InsertOutcome, StoreError> {
        if self.stall {
            std::future::pending::<()>().await;
        }
        Err(StoreError::Database("disk I/O error (database or disk is full)".into()))
    }
    async fn claim_except(
        &self,
        _: &str,
        _: Millis,
        _: Duration,
        _: usize,
        _: &ClaimExclusions,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        Ok(Vec::new())
    }
    async fn complete(
        &self,
        _: &str,
        _: Millis,
        _: Vec<(ClaimId, AttemptResult)>,
    ) -> Result<usize, StoreError> {
        Ok(0)
    }
    async fn renew(&self, _: &str, _: Millis, _: Duration, _: Vec<ClaimId>) -> Result<usize, StoreError> {
        Ok(0)
    }
    async fn dead_letters(&self, _: DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(Vec::new())
    }
    async fn replay(&self, _: Millis, _: DeadLetterFilter) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn purge_delivered(&self, _: Millis) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn stats(&self) -> Result<QueueStats, StoreError> {
        Ok(QueueStats::default())
    }
    async fn event(&self, _: &str, _: &str) -> Result<Option<StoredEvent>, StoreError> {
        Ok(None)
    }
    async fn set_destination_disabled(&self, _: &str, _: Option<(Millis, String)>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn disabled_destinations(&self) -> Result<Vec<DisabledDestination>, StoreError> {
        Ok(Vec::new())
    }
    async fn record_erasure(&self, _: ErasureRequest) -> Result<(), StoreError> {
        Ok(())
    }
    async fn erasures(&self) -> Result<Vec<ErasureRequest>, StoreError> {
        Ok(Vec::new())
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Closed)
    }
    async fn close(&self) {}
}

async fn ingress_over(store: BrokenStore) -> String {
    let secret = switchboard::secrets::Secret::generated("webhooks.client_secrets[0]", CLIENT_SECRET);
    let ingress = Ingress::new(
        vec![IngressApp { name: "default".into(), client_secrets: vec![secret] }],
        Routing::default(),
        Arc::new(store),
        IngressLimits {
            max_body: 1 << 20,
            max_event_age: Duration::from_secs(86_400),
            max_clock_skew: Duration::from_secs(300),
            ack_deadline: Duration::from_millis(200),
        },
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(SystemClock),
    );
    let router = switchboard::http_error::with_request_ids(ingress::routes("/webhooks/intercom", ingress));
    format!("http://{}/webhooks/intercom", serve(router).await)
}

#[tokio::test]
async fn a_failing_or_slow_store_gets_503_never_2xx() {
    let http = reqwest::Client::new();
    for (stall, case) in [(false, "store error"), (true, "missed ack deadline")] {
        let url = ingress_over(BrokenStore { stall }).await;
        let response = post_signed(&http, &url, CLIENT_SECRET, &notification("notif_503", "ping")).await;
        assert_eq!(response.status(), 503, "{case}");
        assert_eq!(response.headers()["retry-after"], "60", "{case}");
        let (_, code) = error_code(response).await;
        assert_eq!(code, "unavailable", "{case}");
    }
}

#[tokio::test]
async fn serve_terminates_https_itself_when_given_a_certificate() {
    let dir = AppDir::new("");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    dir.write("cert.pem", cert.cert.pem());
    dir.write("key.pem", cert.signing_key.serialize_pem());
    let d = dir.path().display().to_string();
    dir.edit(
        "shutdown_timeout = \"5s\"",
        &format!("shutdown_timeout = \"5s\"\ntls_cert = \"{d}/cert.pem\"\ntls_key = \"{d}/key.pem\""),
    );
    let app = dir.spawn().await;
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/webhooks/intercom", app.addr.port());
    let response = post_signed(&https, &url, CLIENT_SECRET, &notification("notif_tls", "ping")).await;
    assert_eq!(response.status(), 200);
    let plain = reqwest::Client::new().get(app.url("/livez")).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != 200, "plain HTTP is not served on the TLS port");
    app.stop().await;
}

#[tokio::test]
async fn each_configured_app_has_its_own_path_and_secrets() {
    let dir = AppDir::new("[[webhooks.apps]]\nname = \"eu\"\nclient_secrets = [\"file:{dir}/eu_secret\"]\n");
    dir.write("eu_secret", "eu-client-secret\n");
    let app = dir.spawn().await;
    let http = reqwest::Client::new();
    let eu = app.url("/webhooks/intercom/eu");
    let body = notification("notif_same_id", "ping");
    assert_eq!(post_signed(&http, &eu, "eu-client-secret", &body).await.status(), 200);
    assert_eq!(post_signed(&http, &eu, CLIENT_SECRET, &body).await.status(), 401, "another app's secret");
    // The same notification id on the default app is a different event: keys are per app.
    let default = app.notify(&body).await;
    assert_eq!(default.json::<serde_json::Value>().await.unwrap()["status"], "stored");
    assert!(app.store.event("eu", "notif_same_id").await.unwrap().is_some());
    assert!(app.store.event("default", "notif_same_id").await.unwrap().is_some());
    assert_eq!(http.head(&eu).send().await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn shutdown_reports_not_ready_and_keeps_serving_for_the_drain_delay() {
    let dir = AppDir::new("");
    dir.edit("shutdown_timeout = \"5s\"", "shutdown_timeout = \"5s\"\nshutdown_delay = \"3s\"");
    let app = dir.spawn().await;
    let http = reqwest::Client::new();
    let (readyz, url) = (app.url("/readyz"), app.url("/webhooks/intercom"));
    assert_eq!(http.get(&readyz).send().await.unwrap().status(), 200);
    let stopping = tokio::spawn(app.stop());
    wait_until("/readyz turns 503 at once", || async {
        http.get(&readyz).send().await.is_ok_and(|r| r.status() == 503)
    })
    .await;
    let (status, code, _) = error_envelope(http.get(&readyz).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (503, "shutting_down"));
    // Still serving during the delay: a webhook is stored and acknowledged.
    let response = post_signed(&http, &url, CLIENT_SECRET, &notification("notif_draining", "ping")).await;
    assert_eq!(response.status(), 200);
    stopping.await.unwrap();
}

#[tokio::test]
async fn a_sane_caller_request_id_is_echoed_and_any_other_is_replaced() {
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    let url = app.url("/webhooks/intercom");
    let unsigned = |id: Option<&[u8]>| {
        let mut request = http.post(&url).header("content-type", "application/json").body("{}");
        if let Some(id) = id {
            request = request.header("x-request-id", reqwest::header::HeaderValue::from_bytes(id).unwrap());
        }
        request.send()
    };

    let sent = "f93ecfa8-d08a-4325-8694-89aeb89c8f85";
    let (status, code, id) = error_envelope(unsigned(Some(sent.as_bytes())).await.unwrap()).await;
    assert_eq!((status, code.as_str(), id.as_str()), (401, "signature_missing", sent));

    let too_long = "r".repeat(129);
    let cases: [(&str, &[u8]); 4] = [
        ("too long", too_long.as_bytes()),
        ("a tab", b"req\t42"),
        ("a space", b"req 42"),
        ("not ASCII", "caf\u{e9}".as_bytes()),
    ];
    let mut generated = std::collections::HashSet::new();
    for (case, bad) in cases {
        let (status, _, id) = error_envelope(unsigned(Some(bad)).await.unwrap()).await;
        assert_eq!(status, 401, "{case}");
        assert_ne!(id.as_bytes(), bad, "{case}");
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{case}: a fresh UUID, got {id}");
        generated.insert(id);
    }
    let (_, _, id) = error_envelope(unsigned(None).await.unwrap()).await;
    generated.insert(id);
    assert_eq!(generated.len(), 5, "each request gets its own id");

    // Successful answers carry it too.
    let stored = app.notify(&notification("notif_rid", "ping")).await;
    assert_eq!(stored.status(), 200);
    assert!(!stored.headers()["x-request-id"].is_empty());
    let live = http.get(app.url("/livez")).header("x-request-id", "probe-1").send().await.unwrap();
    assert_eq!(live.headers()["x-request-id"], "probe-1");
    app.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_get_the_envelope() {
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    for path in ["/nope", "/admin/nope", "/webhooks/intercom/eu/extra"] {
        let (status, code, _) = error_envelope(http.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (404, "not_found"), "{path}");
    }
    let wrong = http.get(app.url("/webhooks/intercom")).send().await.unwrap();
    let allow = wrong.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("POST") && allow.contains("HEAD"), "{allow}");
    let (status, code, _) = error_envelope(wrong).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
    let (status, code, _) = error_envelope(http.delete(app.url("/admin/dlq")).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
    app.stop().await;
}

#[tokio::test]
async fn a_created_at_far_ahead_or_missing_is_refused() {
    // The age check is the only replay guard once retention has dropped the dedupe key: a
    // notification dated far ahead, or not dated at all, would slip past it forever.
    const T0: u64 = 2_000_000_000;
    let clock = ManualClock::at_secs(T0);
    let app = spawn_app_on("", Arc::new(clock.clone())).await;
    // The documented default of webhooks.max_clock_skew.
    let skew = Duration::from_secs(300);
    let dated = |id: &str, at: u64| {
        switchboard::webhooks::Notification::created("a86dr8yl", "ping", at).id(id).to_json()
    };

    let response = app.notify(&dated("notif_at_skew", T0 + skew.as_secs())).await;
    assert_eq!(response.status(), 200, "exactly webhooks.max_clock_skew ahead is still accepted");
    let (status, code) = error_code(app.notify(&dated("notif_ahead", T0 + skew.as_secs() + 1)).await).await;
    assert_eq!((status, code.as_str()), (400, "too_new"), "one second past webhooks.max_clock_skew");
    let (status, code) = error_code(app.notify(&dated("notif_far", T0 + 365 * 86_400)).await).await;
    assert_eq!((status, code.as_str()), (400, "too_new"), "a year ahead");
    let undated = r#"{"type":"notification_event","id":"notif_undated","topic":"ping","data":{}}"#;
    let (status, code) = error_code(app.notify(undated).await).await;
    assert_eq!((status, code.as_str()), (400, "missing_fields"), "no created_at");
    for id in ["notif_ahead", "notif_far", "notif_undated"] {
        assert!(app.store.event("default", id).await.unwrap().is_none(), "{id} was refused but stored");
    }

    // Once the service's clock catches up, the same notification is simply young.
    clock.advance(Duration::from_secs(2));
    assert_eq!(app.notify(&dated("notif_ahead", T0 + skew.as_secs() + 1)).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn head_answers_as_post_would_for_configured_and_unknown_apps() {
    let dir = AppDir::new("[[webhooks.apps]]\nname = \"eu\"\nclient_secrets = [\"file:{dir}/eu_secret\"]\n");
    dir.write("eu_secret", "eu-client-secret\n");
    let app = dir.spawn().await;
    let http = reqwest::Client::new();
    assert_eq!(http.head(app.url("/webhooks/intercom")).send().await.unwrap().status(), 200);
    assert_eq!(http.head(app.url("/webhooks/intercom/eu")).send().await.unwrap().status(), 200);
    let unknown = app.url("/webhooks/intercom/nope");
    let head = http.head(&unknown).send().await.unwrap();
    assert_eq!(head.status(), 404, "HEAD on a path no app is configured at");
    assert!(!head.headers()["x-request-id"].is_empty());
    let post = post_signed(&http, &unknown, CLIENT_SECRET, &notification("n", "ping")).await;
    assert_eq!(post.status(), 404, "as POST answers");
    assert_eq!(http.head(app.url("/webhooks/intercom/%FF")).send().await.unwrap().status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn several_signature_headers_are_refused_whichever_comes_first() {
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    let body = notification("notif_two_sigs", "ping");
    let good = switchboard::webhooks::sign(CLIENT_SECRET.as_bytes(), body.as_bytes());
    let bad = switchboard::webhooks::sign(b"another-secret", body.as_bytes());
    for (case, first, second) in
        [("good first", &good, &bad), ("bad first", &bad, &good), ("twice", &good, &good)]
    {
        let response = http
            .post(app.url("/webhooks/intercom"))
            .header("content-type", "application/json")
            .header("x-hub-signature", first.as_str())
            .header("x-hub-signature", second.as_str())
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let (status, code) = error_code(response).await;
        assert_eq!((status, code.as_str()), (400, "signature_repeated"), "{case}");
    }
    // A proxy that folds two headers into one joins them with a comma: as repeated as two headers.
    for folded in [format!("{good}, {bad}"), format!("{bad},{good}"), format!("{good}, {good}")] {
        let response = post_with_signature(&http, &app.url("/webhooks/intercom"), &folded, &body).await;
        let (status, code) = error_code(response).await;
        assert_eq!((status, code.as_str()), (400, "signature_repeated"), "{folded}");
    }
    assert!(
        app.store.event("default", "notif_two_sigs").await.unwrap().is_none(),
        "nothing refused is stored"
    );
    assert_eq!(app.notify(&body).await.status(), 200, "one good header is accepted");
    app.stop().await;
}

#[tokio::test]
async fn bad_signatures_are_counted_exactly_but_logged_sparingly() {
    // A child process, so that its log (stderr, into a file) and /metrics hold only its own lines
    // and counts.
    const BAD: usize = 60;
    // No status page polling: its lines are not what this test counts, and it would reach outside.
    let dir = AppDir::new("[status_page]\nenabled = false\n");
    let serving = ServeProcess::start(&dir).await;
    let http = reqwest::Client::new();
    let url = format!("{}/webhooks/intercom", serving.base);
    for n in 0..BAD {
        let body = notification(&format!("notif_forged_{n}"), "ping");
        let response = post_signed(&http, &url, "not-the-client-secret", &body).await;
        assert_eq!(response.status(), 401);
    }
    // A flood of one reason does not hide another: `missing` has its own allowance.
    let unsigned = http
        .post(&url)
        .header("content-type", "application/json")
        .body(notification("notif_unsigned", "ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    let metrics = serving.metrics().await;
    let log = serving.stop();

    let expected = format!(r#"switchboard_webhook_verification_failures_total{{reason="mismatch"}} {BAD}"#);
    assert!(metrics.lines().any(|l| l == expected), "the counter keeps the exact count:\n{metrics}");
    let text = format!("{log:#?}");
    let warnings: Vec<&serde_json::Value> = log
        .iter()
        .filter(|l| {
            l["level"] == "WARN" && l["message"].as_str().unwrap_or_default().contains("webhook refused")
        })
        .collect();
    assert!(!warnings.is_empty(), "the first refusal is logged:\n{text}");
    // One line per app every 10 s: a burst of 60 takes far less than that on any machine, but a
    // stalled CI runner may cross one boundary, so allow a second line, never one per request.
    let mismatches = warnings.iter().filter(|w| w["reason"] == "mismatch").count();
    assert!(mismatches <= 2, "{mismatches} WARN lines for {BAD} refusals:\n{text}");
    assert_eq!(warnings[0]["app"], "default", "{}", warnings[0]);
    assert_eq!(warnings[0]["reason"], "mismatch", "{}", warnings[0]);
    assert!(
        warnings.iter().any(|w| w["reason"] == "missing"),
        "a refusal for another reason gets its own line:\n{text}"
    );
}

#[tokio::test]
async fn notifications_refused_for_their_date_are_logged_sparingly_with_the_skew() {
    // A server clock running behind refuses every webhook as too_new; a counter alone would let
    // that go unnoticed until Intercom gives up. A child process, so that its log is its own.
    let dir = AppDir::new("[status_page]\nenabled = false\n");
    let serving = ServeProcess::start(&dir).await;
    let http = reqwest::Client::new();
    let url = format!("{}/webhooks/intercom", serving.base);
    let now = SystemClock.now_millis() / 1000;
    // An hour ahead (beyond the 5 min webhooks.max_clock_skew), and two days old (beyond the 24 h
    // webhooks.max_event_age), five of each.
    for (reason, created_at) in [("too_new", now + 3600), ("too_old", now - 2 * 86_400)] {
        for n in 0..5 {
            let body = switchboard::webhooks::Notification::created("a86dr8yl", "ping", created_at)
                .id(format!("notif_{reason}_{n}"))
                .to_json();
            let (status, code) = error_code(post_signed(&http, &url, CLIENT_SECRET, &body).await).await;
            assert_eq!((status, code.as_str()), (400, reason));
        }
    }
    let log = serving.stop();
    let text = format!("{log:#?}");
    let lines: Vec<&serde_json::Value> = log
        .iter()
        .filter(|l| l["level"] == "WARN" && l["message"].as_str().unwrap_or_default().contains("its date"))
        .collect();
    assert_eq!(lines.len(), 2, "one line per reason, not one per refusal:\n{text}");
    for (line, reason) in lines.iter().zip(["too_new", "too_old"]) {
        assert_eq!(line["app"], "default", "{line}");
        assert_eq!(line["reason"], reason, "{line}");
        let skew = line["skew_secs"].as_i64().unwrap_or_else(|| panic!("no skew_secs in {line}"));
        let expected = if reason == "too_new" { 3600 } else { -2 * 86_400 };
        assert!((skew - expected).abs() <= 60, "skew {skew} s for {reason}");
        assert!(!line.to_string().contains("a86dr8yl"), "no body content in the line: {line}");
    }
}

// Found by the fuzz target `envelope`: bytes that are not UTF-8 inside a field the ingress does not
// read were skipped by the JSON parser unchecked, so a body that is not JSON (RFC 8259 requires
// UTF-8) was stored and would have been delivered as application/json.
#[tokio::test]
async fn a_body_that_is_not_utf8_is_refused_as_invalid_json() {
    let app = spawn_app("").await;
    let mut body =
        br#"{"type":"notification_event","id":"notif_bytes","topic":"ping","created_at":"#.to_vec();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    body.extend_from_slice(now.to_string().as_bytes());
    body.extend_from_slice(b",\"data\":{\"item\":{\"name\":\"Ad\xe9\x90\"}}}");
    let signature = switchboard::webhooks::sign(CLIENT_SECRET.as_bytes(), &body);
    let response = reqwest::Client::new()
        .post(app.url("/webhooks/intercom"))
        .header("content-type", "application/json")
        .header("x-hub-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, code) = error_code(response).await;
    assert_eq!((status, code.as_str()), (400, "invalid_json"));
    assert_eq!(app.store.event("default", "notif_bytes").await.unwrap().map(|e| e.id), None, "not stored");
    app.stop().await;
}
