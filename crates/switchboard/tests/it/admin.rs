//! The admin API's authentication: the bearer scheme, the key's strength in production, and the
//! throttling of repeated failures.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard::clock::ManualClock;

use crate::harness::{ADMIN_KEY, AppDir, PATIENCE, Ran, cli, error_envelope, spawn_app, spawn_app_on};

#[tokio::test]
async fn the_bearer_scheme_is_matched_in_any_case() {
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    let url = app.url("/admin/dlq");
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response =
            http.get(&url).header("authorization", format!("{scheme} {ADMIN_KEY}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
    for header in [format!("Basic {ADMIN_KEY}"), format!("Bearer{ADMIN_KEY}"), ADMIN_KEY.to_owned()] {
        let response = http.get(&url).header("authorization", &header).send().await.unwrap();
        let (status, code, _) = error_envelope(response).await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{header}");
    }
    app.stop().await;
}

/// A client whose connections come from `ip` (any address of the loopback range).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from(ip)).build().unwrap()
}

#[tokio::test]
async fn repeated_failed_authentications_are_throttled_per_client_address() {
    let clock = ManualClock::at_secs(2_000_000_000);
    let app = spawn_app_on("", Arc::new(clock.clone())).await;
    let url = app.url("/admin/dlq");
    let (guesser, admin) = (client_from([127, 0, 0, 2]), client_from([127, 0, 0, 1]));
    let wrong = |client: &reqwest::Client| client.get(&url).bearer_auth("guess").send();
    let right = |client: &reqwest::Client| client.get(&url).bearer_auth(ADMIN_KEY).send();

    // The documented limits: 10 failures within 5 minutes.
    for n in 1..=10 {
        let (status, code, _) = error_envelope(wrong(&guesser).await.unwrap()).await;
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "failure {n}");
    }
    // From now on that address is refused without its key being looked at, even the right one.
    for response in [wrong(&guesser).await.unwrap(), right(&guesser).await.unwrap()] {
        let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&retry_after), "Retry-After {retry_after}");
        let (status, code, _) = error_envelope(response).await;
        assert_eq!((status, code.as_str()), (429, "admin_throttled"));
    }
    // Another address is not affected: the right key works, a wrong one is merely 401.
    assert_eq!(right(&admin).await.unwrap().status(), 200);
    assert_eq!(wrong(&admin).await.unwrap().status(), 401);

    // The throttling ends with the window (on the service's clock: moved, not waited for).
    clock.advance(Duration::from_secs(300));
    assert_eq!(right(&guesser).await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn short_admin_keys_are_refused_in_production() {
    let dir = AppDir::new("");
    dir.write("intercom_token", "tok_test_0123456789\n");
    let token = format!("file:{}/intercom_token", dir.path().display());
    let production =
        [("SWITCHBOARD_ENVIRONMENT", "production"), ("SWITCHBOARD_INTERCOM__TOKEN", token.as_str())];
    let run = async |command: &[&str], vars: &[(&str, &str)]| {
        let mut command = tokio::process::Command::from(cli(command).arg(dir.config()).envs(vars).command());
        // A service that starts (as it would with the key accepted) must not outlive the test.
        command.kill_on_drop(true);
        let output = tokio::time::timeout(PATIENCE, command.output())
            .await
            .expect("the command ends by itself instead of serving")
            .unwrap();
        Ran::from(output)
    };

    // 15 bytes: 120 bits at most. Refused by `serve` before it starts, and by `config check`.
    let short = "0123456789abcde";
    dir.write("admin_key", format!("{short}\n"));
    for command in [&["serve", "--config"][..], &["config", "check", "--config"]] {
        let ran = run(command, &production).await;
        let command = command.join(" ");
        assert_eq!(ran.code, Some(2), "{command}: {}", ran.stderr);
        assert!(ran.stderr.contains("admin.key"), "{command} names the key: {}", ran.stderr);
        assert!(ran.stderr.contains("128 bits"), "{command} says what is needed: {}", ran.stderr);
        assert!(ran.stderr.contains("openssl rand -hex 32"), "{command} says how to fix it: {}", ran.stderr);
        assert!(!ran.stderr.contains(short), "{command} never prints the key");
    }
    // Outside production a short key is the operator's business; in production 16 bytes pass.
    let ran = run(&["config", "check", "--config"], &[]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    dir.write("admin_key", "0123456789abcdef\n");
    let ran = run(&["config", "check", "--config"], &production).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}
