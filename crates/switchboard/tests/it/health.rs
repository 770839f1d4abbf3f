//! `/health` against the simulator: each state and its status code, the probe cache, a token of
//! another workspace, the kill switch, the status page, and `switchboard health` exit codes; and
//! `/readyz`'s 503 in the error envelope.

use std::sync::Arc;
use std::time::Duration;

use intercom_sim::{Indicator, SimConfig, SimHandle, Simulator};
use switchboard::clock::ManualClock;

use crate::harness::{AppDir, TestApp, cli, error_envelope, eventually, free_port, spawn_app};

async fn app_for(sim: &SimHandle, token: &str, expected_app_id: &str, extra: &str) -> TestApp {
    app_dir_for(sim, token, expected_app_id, extra).spawn().await
}

fn app_dir_for(sim: &SimHandle, token: &str, expected_app_id: &str, extra: &str) -> AppDir {
    let base = sim.base_url();
    let dir = AppDir::new(&format!(
        "[intercom]\nbase_url = \"{base}\"\ntoken = \"file:{{dir}}/intercom_token\"\nexpected_app_id = \"{expected_app_id}\"\n\
         [status_page]\nurl = \"{base}/_sim/statuspage/api/v2/status.json\"\ninterval = \"1s\"\n{extra}"
    ));
    dir.write("intercom_token", token);
    dir
}

async fn health(app: &TestApp) -> (u16, serde_json::Value) {
    let response = reqwest::get(app.url("/health")).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn me_calls(sim: &SimHandle) -> u64 {
    sim.stats().requests.get("GET /me").map(|by_status| by_status.values().sum()).unwrap_or(0)
}

async fn switchboard_health(url: &str) -> (Option<i32>, String) {
    // The service runs on this test's runtime: wait for the child without blocking it.
    let output = cli(&["health", "--url", url]).run_async().await;
    (output.code, output.stdout)
}

#[tokio::test]
async fn healthy_with_a_cached_probe_and_an_informational_status_page() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let creds = sim.default_app().clone();
    let app = app_for(&sim, &creds.token, &creds.app_id, "[health]\nprobe_interval = \"1h\"\n").await;

    let (status, report) = health(&app).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "healthy");
    let intercom = &report["services"]["intercom"];
    assert_eq!(intercom["status"], "healthy");
    assert_eq!(intercom["authenticated"], true);
    assert_eq!(intercom["appId"], creds.app_id.as_str());
    assert!(
        intercom["rateLimitRemaining"].as_u64().is_some() && intercom["rateLimitLimit"].as_u64().unwrap() > 0
    );
    assert!(intercom["latencyMs"].is_u64());
    assert_eq!(report["services"]["store"]["status"], "healthy");
    assert_eq!(report["services"]["webhooks"]["queueDepth"], 0);
    assert_eq!(report["services"]["webhooks"]["deadLetters"], 0);
    assert!(report["timestamp"].as_str().unwrap().ends_with('Z'));

    // Many checks, concurrent and sequential, cost one /me.
    let checks: Vec<_> = (0..20).map(|_| tokio::spawn(reqwest::get(app.url("/health")))).collect();
    for check in checks {
        assert_eq!(check.await.unwrap().unwrap().status(), 200);
    }
    for _ in 0..10 {
        health(&app).await;
    }
    assert_eq!(me_calls(&sim), 1, "31 health checks within health.probe_interval cost one GET /me");

    // A major incident on the status page is reported but does not make the service unhealthy.
    sim.set_status_indicator(Indicator::Major);
    let report = eventually("the status page monitor picks up the indicator", || async {
        let (status, report) = health(&app).await;
        (report["services"]["statusPage"]["indicator"] == "major").then_some((status, report))
    })
    .await;
    assert_eq!(report.0, 200, "{}", report.1);

    let (code, printed) = switchboard_health(&app.url("/health")).await;
    assert_eq!(code, Some(0), "{printed}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&printed).unwrap()["status"], "healthy");
    // A bare base URL, as operators type it, probes its /health.
    for base in [app.url(""), app.url("/")] {
        let (code, printed) = switchboard_health(&base).await;
        assert_eq!(code, Some(0), "{base}: {printed}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&printed).unwrap()["status"], "healthy");
    }
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_probe_is_reused_for_probe_interval_on_the_services_clock() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let creds = sim.default_app().clone();
    let clock = ManualClock::at_secs(1_800_000_000);
    let app = app_dir_for(&sim, &creds.token, &creds.app_id, "[health]\nprobe_interval = \"15s\"\n")
        .spawn_on(Arc::new(clock.clone()))
        .await;
    let age = |report: &serde_json::Value| report["services"]["intercom"]["ageSeconds"].as_u64();

    let (_, report) = health(&app).await;
    assert_eq!((me_calls(&sim), age(&report)), (1, Some(0)));
    clock.advance(Duration::from_secs(14));
    let (_, report) = health(&app).await;
    assert_eq!((me_calls(&sim), age(&report)), (1, Some(14)), "still fresh after 14 s of 15");
    clock.advance(Duration::from_secs(1));
    let (_, report) = health(&app).await;
    assert_eq!((me_calls(&sim), age(&report)), (2, Some(0)), "probed again once probe_interval passed");
    // A clock stepped backwards makes the cached probe stale rather than fresh for longer.
    clock.set_millis(1_700_000_000_000);
    health(&app).await;
    assert_eq!(me_calls(&sim), 3);
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_rejected_token_is_unhealthy_and_not_authenticated() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let app_id = sim.default_app().app_id.clone();
    let app = app_for(&sim, "dG9rOm5vdF9hX3JlYWxfdG9rZW46MTow", &app_id, "").await;
    let (status, report) = health(&app).await;
    assert_eq!(status, 503);
    assert_eq!(report["status"], "unhealthy");
    assert_eq!(report["services"]["intercom"]["authenticated"], false);
    assert!(report["services"]["intercom"]["rateLimitRemaining"].is_null(), "no rate-limit headers on 401");
    assert!(!report.to_string().contains("dG9rOm5vdF9hX3JlYWxfdG9rZW46MTow"), "the token is never shown");
    let (code, printed) = switchboard_health(&app.url("/health")).await;
    assert_eq!(code, Some(1));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&printed).unwrap()["status"], "unhealthy");
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_token_of_another_workspace_is_unhealthy_and_says_which_answered() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let creds = sim.default_app().clone();
    let app = app_for(&sim, &creds.token, "prodapp1", "").await;
    let (status, report) = health(&app).await;
    assert_eq!(status, 503);
    let intercom = &report["services"]["intercom"];
    assert_eq!(intercom["status"], "unhealthy");
    assert_eq!(intercom["authenticated"], true);
    let error = intercom["error"].as_str().unwrap();
    assert!(error.contains(&format!("belongs to workspace {}", creds.app_id)), "{error}");
    assert!(error.contains("intercom.expected_app_id = prodapp1"), "{error}");
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limited_is_degraded() {
    // 6 per minute is 1 per 10-second window: the first probe spends it, the next gets 429.
    let sim = Simulator::start(SimConfig::default().rate_limit_per_minute(6)).await.unwrap();
    let creds = sim.default_app().clone();
    let app = app_for(&sim, &creds.token, &creds.app_id, "[health]\nprobe_interval = \"1ms\"\n").await;
    let (first, _) = health(&app).await;
    assert_eq!(first, 200);
    let (status, report) = health(&app).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["services"]["intercom"]["authenticated"], true);
    assert_eq!(report["services"]["intercom"]["rateLimitRemaining"], 0);
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_kill_switch_reports_disabled_and_sends_nothing() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let creds = sim.default_app().clone();
    let dir = AppDir::new(&format!(
        "[intercom]\nenabled = false\nbase_url = \"{}\"\ntoken = \"file:{{dir}}/intercom_token\"\n",
        sim.base_url()
    ));
    dir.write("intercom_token", &creds.token);
    let app = dir.spawn().await;
    let (status, report) = health(&app).await;
    assert_eq!(status, 503);
    assert_eq!(report["status"], "disabled");
    assert_eq!(report["services"]["intercom"]["status"], "disabled");
    assert_eq!(me_calls(&sim), 0, "with the kill switch off no request reaches Intercom");
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn switchboard_health_fails_when_nothing_answers() {
    let port = free_port();
    let (code, _) = switchboard_health(&format!("http://127.0.0.1:{port}/health")).await;
    assert_eq!(code, Some(1));
}

#[tokio::test]
async fn readyz_answers_the_envelope_when_the_store_is_not_usable() {
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    let ready = http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(!ready.headers()["x-request-id"].is_empty());

    // A schema the service does not know (as after a rollback past a migration): not ready.
    let db = rusqlite::Connection::open(app.dir.path().join("data/switchboard.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    db.execute_batch("PRAGMA user_version = 999").unwrap();
    let response = http.get(app.url("/readyz")).header("x-request-id", "lb-probe-7").send().await.unwrap();
    let (status, code, id) = error_envelope(response).await;
    assert_eq!((status, code.as_str(), id.as_str()), (503, "store_unavailable", "lb-probe-7"));
    // /health keeps its report shape, not the envelope.
    let report: serde_json::Value = http.get(app.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["services"]["store"]["status"], "unhealthy", "{report}");
    app.stop().await;
}
