//! Rate limits on the manual clock: exact 10-second windows, per app and per workspace, headers.

use std::time::Duration;

use axum::http::Method;
use intercom_sim::{AppConfig, ManualClock, SimConfig, WorkspaceConfig};

use crate::support::{Resp, T0, TestSim};

fn headers(r: &Resp) -> (u64, u64, u64) {
    let h = |n: &str| r.header(n).expect(n).parse::<u64>().expect("numeric header");
    (h("x-ratelimit-limit"), h("x-ratelimit-remaining"), h("x-ratelimit-reset"))
}

#[tokio::test]
async fn per_app_window_boundaries_and_headers() {
    let clock = ManualClock::at_secs(T0);
    // 12 per minute is 2 per 10-second window.
    let t = TestSim::manual(&clock, SimConfig::default().rate_limit_per_minute(12)).await;
    assert_eq!(headers(&t.get("/me").await), (2, 1, T0 + 10));
    clock.advance(Duration::from_millis(9_999));
    assert_eq!(headers(&t.get("/me").await), (2, 0, T0 + 10));
    let limited = t.get("/me").await;
    limited.assert_error(429, "rate_limit_exceeded");
    assert_eq!(limited.message(), "Exceeded rate limit of 2 in 10_seconds");
    assert_eq!(headers(&limited), (2, 0, T0 + 10));

    clock.advance(Duration::from_millis(1));
    let next_window = t.get("/me").await;
    assert_eq!(next_window.status, 200);
    assert_eq!(headers(&next_window), (2, 1, T0 + 20));
    assert_eq!(t.sim.stats().rate_limited, 1);
}

#[tokio::test]
async fn default_limits_round_like_intercom() {
    let clock = ManualClock::at_secs(T0);
    let t = TestSim::manual(&clock, SimConfig::default()).await;
    assert_eq!(headers(&t.get("/me").await).0, 1_667, "10,000/min is 1,667 per window");
    let t = TestSim::manual(&clock, SimConfig::default().rate_limit_per_minute(1_000)).await;
    assert_eq!(headers(&t.get("/me").await), (167, 166, T0 + 10));
}

#[tokio::test]
async fn unauthenticated_requests_neither_count_nor_get_headers() {
    let clock = ManualClock::at_secs(T0);
    let t = TestSim::manual(&clock, SimConfig::default().rate_limit_per_minute(6)).await;
    for _ in 0..3 {
        let r = t.send_as(Some("wrong"), Method::GET, "/me", None).await;
        assert_eq!(r.status, 401);
        assert!(r.header("x-ratelimit-remaining").is_none());
    }
    assert_eq!(t.get("/me").await.status, 200, "401s do not use the app's quota");
    assert_eq!(t.get("/me").await.status, 429);
}

#[tokio::test]
async fn workspace_limit_is_shared_by_its_apps() {
    let clock = ManualClock::at_secs(T0);
    let app = |id: &str, token: &str| AppConfig {
        id_code: Some(id.into()),
        token: Some(token.into()),
        rate_limit_per_minute: 6_000,
        ..AppConfig::default()
    };
    let config = SimConfig {
        workspaces: vec![WorkspaceConfig {
            id: Some("shared01".into()),
            rate_limit_per_minute: 18, // 3 per window for both apps together
            apps: vec![app("appaaaa1", "tok-a"), app("appbbbb2", "tok-b")],
            ..WorkspaceConfig::default()
        }],
        ..SimConfig::default()
    };
    let t = TestSim::manual(&clock, config).await;
    assert_eq!(t.send_as(Some("tok-a"), Method::GET, "/me", None).await.status, 200);
    assert_eq!(t.send_as(Some("tok-a"), Method::GET, "/me", None).await.status, 200);
    let third = t.send_as(Some("tok-b"), Method::GET, "/me", None).await;
    assert_eq!(third.status, 200);
    assert_eq!(headers(&third), (3, 0, T0 + 10), "the tighter workspace bucket is reported");
    let limited = t.send_as(Some("tok-b"), Method::GET, "/me", None).await;
    limited.assert_error(429, "rate_limit_exceeded");
    assert_eq!(limited.message(), "Exceeded rate limit of 3 in 10_seconds");
    clock.advance(Duration::from_secs(10));
    assert_eq!(t.send_as(Some("tok-b"), Method::GET, "/me", None).await.status, 200);
}

#[tokio::test]
async fn one_app_exhausted_leaves_the_other_app_free() {
    let clock = ManualClock::at_secs(T0);
    let config = SimConfig {
        workspaces: vec![WorkspaceConfig {
            apps: vec![
                AppConfig {
                    token: Some("tok-slow".into()),
                    rate_limit_per_minute: 6,
                    ..AppConfig::default()
                },
                AppConfig { token: Some("tok-fast".into()), ..AppConfig::default() },
            ],
            ..WorkspaceConfig::default()
        }],
        ..SimConfig::default()
    };
    let t = TestSim::manual(&clock, config).await;
    assert_eq!(t.send_as(Some("tok-slow"), Method::GET, "/me", None).await.status, 200);
    assert_eq!(t.send_as(Some("tok-slow"), Method::GET, "/me", None).await.status, 429);
    assert_eq!(t.send_as(Some("tok-fast"), Method::GET, "/me", None).await.status, 200);
}
