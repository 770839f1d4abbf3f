//! Faults on demand: per-request header, control API windows on the manual clock, probabilities,
//! dropped connections and truncated bodies.

use std::time::{Duration, Instant};

use axum::http::Method;
use intercom_sim::{ManualClock, SimConfig};
use serde_json::{Value, json};

use crate::support::{T0, TestSim};

#[tokio::test]
async fn header_faults_hit_one_request() {
    let t = TestSim::default().await;
    let r = t.authed(Method::GET, "/me").header("X-Sim-Fault", "503").send().await.expect("answer");
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["type"], "error.list");
    assert_eq!(body["errors"][0]["code"], "service_unavailable");
    assert_eq!(t.get("/me").await.status, 200, "only that request failed");

    let r = t.authed(Method::GET, "/me").header("X-Sim-Fault", "502").send().await.expect("answer");
    assert_eq!(r.status(), 502);
    assert!(r.text().await.expect("body").contains("Bad Gateway"), "gateway errors have an HTML body");

    let r = t.authed(Method::GET, "/me").header("X-Sim-Fault", "teapot").send().await.expect("answer");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn dropped_connection_and_truncated_body() {
    let t = TestSim::default().await;
    let dropped = t.authed(Method::GET, "/me").header("X-Sim-Fault", "drop").send().await;
    assert!(dropped.is_err(), "the connection closes without an answer");

    let r = t.authed(Method::GET, "/me").header("X-Sim-Fault", "truncate").send().await;
    let body = match r {
        Ok(r) => {
            assert_eq!(r.status(), 200);
            r.bytes().await
        }
        Err(e) => Err(e),
    };
    assert!(body.is_err(), "the body ends early: {body:?}");
    assert_eq!(t.get("/me").await.status, 200, "the simulator keeps serving");
}

#[tokio::test]
async fn header_latency_delays_the_answer() {
    let t = TestSim::default().await;
    let start = Instant::now();
    let r = t.authed(Method::GET, "/me").header("X-Sim-Fault", "latency=150ms").send().await.expect("ok");
    assert_eq!(r.status(), 200);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn control_api_window_ends_on_the_manual_clock() {
    let clock = ManualClock::at_secs(T0);
    let t = TestSim::manual(&clock, SimConfig::default()).await;
    let r = t.control(Method::POST, "/_sim/faults", Some(json!({ "spec": "503:30s" }))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["rules"][0]["action"], "503");
    for _ in 0..3 {
        assert_eq!(t.get("/me").await.status, 503);
    }
    // Control routes are never faulted.
    let stats = t.control(Method::GET, "/_sim/stats", None).await.json;
    assert_eq!(stats["requests"]["GET /me"]["503"], 3);
    clock.advance(Duration::from_secs(29));
    assert_eq!(t.get("/me").await.status, 503);
    clock.advance(Duration::from_secs(1));
    assert_eq!(t.get("/me").await.status, 200);

    let bad = t.control(Method::POST, "/_sim/faults", Some(json!({ "spec": "418" }))).await;
    assert_eq!(bad.status, 400);
    t.sim.set_faults("500").expect("valid spec");
    assert_eq!(t.get("/me").await.status, 500);
    let cleared = t.control(Method::DELETE, "/_sim/faults", None).await;
    assert_eq!(cleared.status, 204);
    assert_eq!(t.get("/me").await.status, 200);
}

#[tokio::test]
async fn scripted_window_opens_later() {
    let clock = ManualClock::at_secs(T0);
    let t = TestSim::manual(&clock, SimConfig::default().faults("504:10s-20s")).await;
    assert_eq!(t.get("/me").await.status, 200);
    clock.advance(Duration::from_secs(10));
    assert_eq!(t.get("/me").await.status, 504);
    clock.advance(Duration::from_secs(10));
    assert_eq!(t.get("/me").await.status, 200);
}

#[tokio::test]
async fn probabilistic_faults_hit_about_that_share() {
    let t = TestSim::start(SimConfig::default().faults("500@0.5")).await;
    let mut failures = 0;
    for _ in 0..200 {
        if t.get("/me").await.status == 500 {
            failures += 1;
        }
    }
    // Binomial(200, 0.5): outside 60..=140 has a probability below 1e-8.
    assert!((60..=140).contains(&failures), "{failures} of 200 failed");
}
