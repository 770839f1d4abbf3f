//! `switchboard serve --sandbox` as a newcomer runs it: a real child process, its printed URLs,
//! its signed test command, and a graceful Ctrl-C.

use std::process::Stdio;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::harness::{PATIENCE, cli, post_with_signature};

fn field<'a>(banner: &'a str, label: &str) -> &'a str {
    banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .map(|rest| rest.split_whitespace().next().unwrap_or(""))
        .unwrap_or_else(|| panic!("banner has no {label:?} line:\n{banner}"))
}

#[tokio::test]
async fn sandbox_serves_livez_verifies_its_printed_webhook_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child =
        Command::from(cli(&["serve", "--sandbox", "--listen", "127.0.0.1:0"]).dir(dir.path()).command())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("Press Ctrl-C to stop") {
                return;
            }
        }
        panic!("the sandbox exited before printing its banner:\n{banner}");
    })
    .await
    .expect("banner printed");

    let health = field(&banner, "Health");
    let gateway = field(&banner, "Gateway");
    let http = reqwest::Client::new();
    let livez = http.get(format!("{gateway}/livez")).send().await.unwrap();
    let ready_after = started.elapsed();
    assert_eq!(livez.status(), 200);
    println!("/livez answered 200 {ready_after:?} after the process started");
    assert_eq!(http.get(format!("{gateway}/readyz")).send().await.unwrap().status(), 200);
    // /health probes the simulator with the generated token: healthy, in the simulator's workspace.
    let report = http.get(health).send().await.unwrap();
    assert_eq!(report.status(), 200);
    let report: serde_json::Value = report.json().await.unwrap();
    assert_eq!(report["status"], "healthy", "{report}");
    assert_eq!(report["services"]["intercom"]["authenticated"], true);

    // The simulator it prints is live and accepts the printed token.
    let sim = field(&banner, "Simulator");
    let token = field(&banner, "Sim token");
    let me = http.get(format!("{sim}/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(me.status(), 200);

    // The printed curl command carries a valid signature; a tampered copy does not.
    let curl = banner.lines().find(|l| l.trim_start().starts_with("curl ")).expect("a curl command").trim();
    let webhook_url = field(&banner, "Webhooks");
    let body = curl.rsplit_once("--data '").unwrap().1.trim_end_matches('\'');
    let signature = curl.split("X-Hub-Signature: ").nth(1).unwrap().split('\'').next().unwrap();
    let signed = post_with_signature(&http, webhook_url, signature, body).await;
    let status = signed.status();
    let answer: serde_json::Value = signed.json().await.unwrap();
    assert_ne!(status, 401, "the printed signature must verify: {answer}");
    let tampered = http
        .post(webhook_url)
        .header("x-hub-signature", signature)
        .body(body.replace("ping", "pong"))
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);

    assert!(dir.path().join("switchboard-data").is_dir(), "data goes to ./switchboard-data/");

    // Ctrl-C: a graceful stop with exit code 0.
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(PATIENCE, child.wait()).await.expect("stops").unwrap();
    assert!(status.success(), "exit status {status}");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).await.unwrap();
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(!stderr.contains(token), "the token never reaches the logs:\n{stderr}");
}
