//! Every error kind, produced by a real request: the simulator for most, a canned server for the
//! statuses the simulator does not produce (403, 410 with `Link`).

use std::time::Duration;

use intercom_api::{Client, ErrorKind, NewContact};
use intercom_sim::SimConfig;

use crate::support::{TestSim, canned_server, tiny_retry};

#[tokio::test]
async fn unauthorized_for_a_bad_token() {
    let t = TestSim::start(SimConfig::default()).await;
    let client = t.client().token("not-a-token").retry(tiny_retry()).build().expect("client");
    let e = client.me().await.expect_err("bad token");
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.codes(), vec!["unauthorized"]);
    assert_eq!(e.attempts(), 1, "a 401 is never retried");
    assert!(e.request_id().is_some());
    assert!(!e.to_string().contains("not-a-token"), "{e}");
    assert!(!format!("{e:?}").contains("not-a-token"));
}

#[tokio::test]
async fn not_found_and_conflict_with_the_existing_id() {
    let t = TestSim::start(SimConfig::default()).await;
    let client = t.client().retry(tiny_retry()).build().expect("client");
    let e = client.contacts().get("000000000000000000000000").await.expect_err("unknown id");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.endpoint().as_deref(), Some("GET /contacts/{id}"));

    let first =
        client.contacts().create(&NewContact::user("dup-1").email("dup@example.com")).await.expect("created");
    let e = client.contacts().create(&NewContact::user("dup-1")).await.expect_err("duplicate");
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(e.existing_id(), first.id.as_deref());
    assert_eq!(t.count("POST /contacts", 409), 1, "a conflict is not retried");
}

#[tokio::test]
async fn invalid_names_the_field_and_hides_the_email() {
    let t = TestSim::start(SimConfig::default()).await;
    let client = t.client().retry(tiny_retry()).build().expect("client");
    let e = client
        .contacts()
        .create(&NewContact::lead().email("jane.at.example.com"))
        .await
        .expect_err("bad email");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.field(), Some("email"));
    let bad_version = t.client().version("9.99").build().expect("client");
    let e = bad_version.me().await.expect_err("bad version");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(e.codes(), vec!["intercom_version_invalid"]);
}

#[tokio::test]
async fn rate_limited_when_the_budget_of_retries_is_one() {
    // The manual clock keeps both requests in one window.
    let t = TestSim::manual(SimConfig::default().rate_limit_per_minute(6)).await;
    let client = t.client().unpaced().retry(intercom_api::RetryPolicy::none()).build().expect("client");
    client.me().await.expect("first request of the window");
    let e = client.me().await.expect_err("second request of a 1-per-window limit");
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.codes(), vec!["rate_limit_exceeded"]);
    let rl = e.rate_limit().expect("rate-limit headers on a 429");
    assert_eq!((rl.limit, rl.remaining), (1, 0));
    assert!(e.provably_not_applied());
}

#[tokio::test]
async fn server_errors_after_the_retry_budget() {
    let t = TestSim::start(SimConfig::default()).await;
    let client = t.client().default_header("X-Sim-Fault", "502").retry(tiny_retry()).build().expect("client");
    let e = client.me().await.expect_err("always 502");
    assert_eq!(e.kind(), ErrorKind::Server);
    assert_eq!(e.status(), Some(502));
    assert_eq!(e.attempts(), 4);
    assert_eq!(t.count("GET /me", 502), 4);
    assert_eq!(client.stats().retries, 3);
}

#[tokio::test]
async fn timeouts_retry_reads_and_make_writes_outcome_unknown() {
    let t = TestSim::start(SimConfig::default()).await;
    let client = t
        .client()
        .default_header("X-Sim-Fault", "latency=3s")
        .timeout(Duration::from_millis(150))
        .retry(tiny_retry())
        .build()
        .expect("client");
    let e = client.me().await.expect_err("too slow");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.attempts(), 4);
    let e = client.contacts().create(&NewContact::user("slow-1")).await.expect_err("too slow");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(e.cause_kind(), Some(ErrorKind::Timeout));
    assert_eq!(e.attempts(), 1, "a create that may have been applied is never resent");
}

#[tokio::test]
async fn transport_errors_when_nothing_listens() {
    // A port bound but never listened on refuses connections, and stays reserved for the whole test
    // (a port bound and dropped could be taken meanwhile by a concurrent test of this binary).
    let reserved = tokio::net::TcpSocket::new_v4().expect("socket");
    reserved.bind(([127, 0, 0, 1], 0).into()).expect("bind");
    let port = reserved.local_addr().expect("addr").port();
    let client = Client::builder()
        .token("t")
        .base_url(format!("http://127.0.0.1:{port}"))
        .retry(tiny_retry())
        .build()
        .expect("client");
    let e = client.contacts().create(&NewContact::user("x")).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Transport, "{e}");
    assert!(e.provably_not_applied());
    assert_eq!(e.attempts(), 4, "a refused connection proves the create was not applied, so it is retried");
}

#[tokio::test]
async fn dropped_connection_on_a_create_is_outcome_unknown() {
    let t = TestSim::start(SimConfig::default()).await;
    let client =
        t.client().default_header("X-Sim-Fault", "drop").retry(tiny_retry()).build().expect("client");
    let e = client.contacts().create(&NewContact::user("dropped-1")).await.expect_err("dropped");
    assert_eq!(e.kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(e.cause_kind(), Some(ErrorKind::Transport));
    assert_eq!(e.attempts(), 1);
    assert!(e.to_string().contains("reconcile"), "{e}");
}

#[tokio::test]
async fn forbidden_from_a_canned_403() {
    let body = r#"{"type":"error.list","request_id":"b7d3c0de-0000-4000-8000-000000000001","errors":[{"code":"api_plan_restricted","message":"Active subscription needed."}]}"#;
    let url = canned_server("403 Forbidden", &[], body).await;
    let client = Client::builder().token("t").base_url(url).retry(tiny_retry()).build().expect("client");
    let e = client.me().await.expect_err("403");
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert_eq!(e.codes(), vec!["api_plan_restricted"]);
    assert_eq!(e.request_id(), Some("b7d3c0de-0000-4000-8000-000000000001"));
    assert_eq!(e.attempts(), 1);
}

#[tokio::test]
async fn merged_contact_from_a_canned_410_names_the_canonical_id() {
    let body = r#"{"type":"error.list","request_id":null,"errors":[{"code":"contact_merged","message":"Contact has been merged"}]}"#;
    let url =
        canned_server("410 Gone", &[("link", "</contacts/65f0canonical>; rel=\"canonical\"")], body).await;
    let client = Client::builder()
        .token("t")
        .base_url(url)
        .version("2.16")
        .retry(tiny_retry())
        .build()
        .expect("client");
    let e = client.contacts().get("65f0old").await.expect_err("410");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.status(), Some(410));
    assert_eq!(e.merged_into(), Some("65f0canonical"));
}

#[tokio::test]
async fn decode_errors_for_2xx_that_do_not_match() {
    let url = canned_server("200 OK", &[], "[1, 2, 3]").await;
    let client = Client::builder().token("t").base_url(url).retry(tiny_retry()).build().expect("client");
    let e = client.me().await.expect_err("an array is not /me");
    assert_eq!(e.kind(), ErrorKind::Decode);
}
