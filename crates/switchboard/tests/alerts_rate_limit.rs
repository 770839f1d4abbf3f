//! The rate-limit alerts end to end, in their own process (metrics are process-wide): a simulator
//! allowing 10 requests per 10-second window, health probes that exhaust it, RateLimitBudgetHigh
//! and IntercomRateLimited firing, then resolving once the next window has room again.
#![allow(clippy::unwrap_used)] // tests fail loudly on unexpected errors

mod common;

use std::time::Duration;

use intercom_sim::{SimConfig, Simulator};

async fn state(http: &reqwest::Client, base: &str, name: &str) -> String {
    let view: serde_json::Value =
        http.get(format!("{base}/alerts")).send().await.unwrap().json().await.unwrap();
    view["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .map(|a| a["state"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn wait(http: &reqwest::Client, base: &str, name: &str, wanted: &str, probe: bool) {
    tokio::time::timeout(Duration::from_secs(40), async {
        loop {
            if probe {
                let _ = http.get(format!("{base}/health")).send().await;
            }
            if state(http, base, name).await == wanted {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{name} did not become {wanted}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_alerts_fire_and_resolve() {
    let sim = Simulator::start(SimConfig::default().rate_limit_per_minute(60)).await.unwrap();
    let creds = sim.default_app().clone();
    let (receiver, hook) = common::Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("intercom_token"), &creds.token).unwrap();
    let d = dir.path().display();
    let fast = "for = \"0s\"\nkeep_firing_for = \"500ms\"";
    let config = format!(
        "[intercom]\nbase_url = \"{}\"\ntoken = \"file:{d}/intercom_token\"\n\
         [health]\nprobe_interval = \"1ms\"\n[status_page]\nenabled = false\n\
         [alerts]\nevaluation_interval = \"100ms\"\n[[alerts.channels]]\nkind = \"webhook\"\nurl = \"{hook}\"\n\
         [alerts.intercom_rate_limited]\nthreshold = 2\nwindow = \"3s\"\n{fast}\n\
         [alerts.rate_limit_budget_high]\n{fast}\n",
        sim.base_url()
    );
    let path = common::write_config(dir.path(), &config);
    let app = common::spawn_in(dir, path).await;
    let base = format!("http://{}", app.addr);
    let http = reqwest::Client::new();

    // Probing as fast as /health is called spends the window's 10 requests, then meets 429s.
    wait(&http, &base, "RateLimitBudgetHigh", "firing", true).await;
    wait(&http, &base, "IntercomRateLimited", "firing", true).await;
    assert!(sim.stats().rate_limited > 2);

    // Stop probing: no more 429s, so IntercomRateLimited resolves once its window has passed; the
    // next window's first probe sees 9 of 10 left, and the budget alert resolves too.
    wait(&http, &base, "IntercomRateLimited", "resolved", false).await;
    let next_window = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let report: serde_json::Value =
                http.get(format!("{base}/health")).send().await.unwrap().json().await.unwrap();
            if report["status"] == "healthy" {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
    .await
    .expect("a new rate-limit window opens");
    assert_eq!(next_window["services"]["intercom"]["rateLimitLimit"], 10);
    wait(&http, &base, "RateLimitBudgetHigh", "resolved", false).await;

    let sent: Vec<String> =
        receiver.received().iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect();
    for alert in ["RateLimitBudgetHigh", "IntercomRateLimited"] {
        assert!(
            sent.iter().any(|b| b.contains(alert) && b.contains("\"firing\"")),
            "{alert} firing not sent"
        );
        assert!(
            sent.iter().any(|b| b.contains(alert) && b.contains("\"resolved\"")),
            "{alert} resolution not sent"
        );
    }
    app.stop().await;
    sim.shutdown().await;
}
