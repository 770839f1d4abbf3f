//! The admin API's authentication: the bearer scheme, the key's strength in production, and the
//! throttling of repeated failures.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard::clock::ManualClock;

use crate::harness::{
    ADMIN_KEY, AppDir, PATIENCE, Ran, ServeProcess, cli, error_envelope, spawn_app, spawn_app_on,
};

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

#[cfg(target_os = "linux")]
/// A client whose connections come from `ip` (any address of the loopback range). Binding
/// 127.0.0.2 and up needs Linux, where all of 127.0.0.0/8 is loopback; CI runs on Linux.
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from(ip)).build().unwrap()
}

#[cfg(target_os = "linux")]
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
async fn a_right_key_does_not_clear_the_failures_of_others_on_the_same_address() {
    // Behind a proxy or NAT the admin and a guesser share one address: the admin's success must not
    // give the guesser a fresh allowance.
    let clock = ManualClock::at_secs(2_000_000_000);
    let app = spawn_app_on("", Arc::new(clock.clone())).await;
    let http = reqwest::Client::new();
    let url = app.url("/admin/dlq");
    let wrong = || http.get(&url).bearer_auth("guess").send();
    let right = || http.get(&url).bearer_auth(ADMIN_KEY).send();
    for n in 1..=9 {
        assert_eq!(wrong().await.unwrap().status(), 401, "failure {n}");
    }
    assert_eq!(right().await.unwrap().status(), 200, "the admin is let in");
    assert_eq!(wrong().await.unwrap().status(), 401, "the tenth failure of the window");
    for response in [wrong().await.unwrap(), right().await.unwrap()] {
        let (status, code, _) = error_envelope(response).await;
        assert_eq!((status, code.as_str()), (429, "admin_throttled"), "everyone there waits for the window");
    }
    clock.advance(Duration::from_secs(300));
    assert_eq!(right().await.unwrap().status(), 200, "until it ends");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_keys_reach_the_key_check_at_most_the_limit() {
    // Each attempt is counted before its key is compared, so a burst of concurrent guesses gets the
    // same 10 as a sequence would, not one per request in flight.
    const GUESSES: usize = 200;
    let app = spawn_app("").await;
    let http = reqwest::Client::new();
    let url = app.url("/admin/dlq");
    let start = Arc::new(tokio::sync::Barrier::new(GUESSES));
    let guesses: Vec<_> = (0..GUESSES)
        .map(|n| {
            let (http, url, start) = (http.clone(), url.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                http.get(&url).bearer_auth(format!("guess-{n}")).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, throttled), (10, GUESSES - 10), "{statuses:?}");
    app.stop().await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn throttled_addresses_are_counted_exactly_and_logged_sparingly() {
    // A child process, so that its log and /metrics hold only its own lines and counts.
    const ADDRESSES: u8 = 20;
    let dir = AppDir::new("[status_page]\nenabled = false\n");
    let serving = ServeProcess::start(&dir).await;
    let url = format!("{}/admin/dlq", serving.base);
    for last in 2..2 + ADDRESSES {
        let client = client_from([127, 0, 1, last]);
        for _ in 0..11 {
            client.get(&url).bearer_auth("guess").send().await.unwrap();
        }
    }
    let metrics = serving.metrics().await;
    let log = serving.stop();

    let failures = u32::from(ADDRESSES) * 10;
    for expected in [
        format!(r#"switchboard_admin_auth_failures_total{{result="unauthorized"}} {failures}"#),
        format!(r#"switchboard_admin_auth_failures_total{{result="throttled"}} {ADDRESSES}"#),
    ] {
        assert!(metrics.lines().any(|l| l == expected), "{expected} in:\n{metrics}");
    }
    let text = format!("{log:#?}");
    let warnings = log
        .iter()
        .filter(|l| l["level"] == "WARN" && l["message"].as_str().unwrap_or_default().contains("admin"))
        .count();
    // One line a minute across all addresses: the burst takes far less on any machine.
    assert_eq!(warnings, 1, "{ADDRESSES} addresses throttled:\n{text}");
    assert!(!text.contains("127.0.1."), "no client address in the log");
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

    // 16 hex characters: 64 bits. Refused by `serve` before it starts, and by `config check`.
    let short = "0123456789abcdef";
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
    // Outside production a short key is the operator's business; in production 32 characters pass.
    let ran = run(&["config", "check", "--config"], &[]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    dir.write("admin_key", "0123456789abcdef0123456789abcdef\n");
    let ran = run(&["config", "check", "--config"], &production).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}
