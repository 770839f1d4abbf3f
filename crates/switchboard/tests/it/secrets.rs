//! Secret references: each kind, each failure, and live refresh.

use std::time::Duration;

use secrecy::ExposeSecret;
use switchboard::secrets::{Fingerprint, Secret, SecretRef};

use crate::harness::{cli, eventually};

const TIMEOUT: Duration = Duration::from_secs(10);
const VALUE: &str = "dG9rOmZha2VfdG9rZW5fZm9yX3Rlc3RzOjE6MA==";

fn reference(text: &str) -> SecretRef {
    SecretRef::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

async fn resolve_err(text: &str, timeout: Duration) -> String {
    match reference(text).resolve(timeout).await {
        Ok(_) => panic!("{text} should fail"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn file_references_trim_the_trailing_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{VALUE}\r\n")).unwrap();
    let value = reference(&format!("file:{}", path.display())).resolve(TIMEOUT).await.unwrap();
    assert_eq!(value.expose_secret(), VALUE);
}

#[tokio::test]
async fn file_failures_say_what_to_do_without_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let message = resolve_err(&format!("file:{}", missing.display()), TIMEOUT).await;
    assert!(message.contains("cannot read") && message.contains("create it or fix the path"), "{message}");

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let message = resolve_err(&format!("file:{}", empty.display()), TIMEOUT).await;
    assert!(message.contains("is empty"), "{message}");
}

#[tokio::test]
async fn exec_references_read_standard_output() {
    let value = reference(&format!("exec:printf '%s\\n' {VALUE}")).resolve(TIMEOUT).await.unwrap();
    assert_eq!(value.expose_secret(), VALUE);
}

#[tokio::test]
async fn exec_failures_never_echo_the_output() {
    // Non-zero exit: the command printed the secret before failing; the error must not contain it.
    let message = resolve_err(&format!("exec:sh -c 'echo {VALUE}; echo {VALUE} >&2; exit 3'"), TIMEOUT).await;
    assert!(message.contains("`sh` failed") && message.contains("exit status: 3"), "{message}");
    assert!(message.contains("output is not shown"), "{message}");
    assert!(!message.contains(VALUE), "{message}");

    let message = resolve_err("exec:true", TIMEOUT).await;
    assert!(message.contains("is empty"), "{message}");

    let message = resolve_err("exec:/nonexistent/vault kv get", TIMEOUT).await;
    assert!(
        message.contains("cannot start `/nonexistent/vault`") && message.contains("install it"),
        "{message}"
    );

    let started = std::time::Instant::now();
    let message = resolve_err("exec:sleep 30", Duration::from_millis(200)).await;
    assert!(message.contains("did not finish within 200ms") && message.contains("killed"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10), "the timeout must stop the command");
}

#[tokio::test]
async fn env_references_read_the_variable() {
    // Setting variables in this multi-threaded test process is unsound (set_var is unsafe in Rust 2024),
    // so the variable is given to a child `switchboard config check` instead.
    let dir = tempfile::tempdir().unwrap();
    let output = cli(&["config", "check"])
        .env("SWITCHBOARD_INTERCOM__TOKEN", "env:SB_TEST_TOKEN_FOR_ENV_REF")
        .env("SB_TEST_TOKEN_FOR_ENV_REF", VALUE)
        .dir(dir.path())
        .run();
    let stdout = output.stdout;
    assert_eq!(output.code, Some(0), "{stdout}\n{}", output.stderr);
    let fingerprint = Fingerprint::of(VALUE);
    assert!(stdout.contains(&format!("env:SB_TEST_TOKEN_FOR_ENV_REF ({fingerprint})")), "{stdout}");
    assert!(!stdout.contains(VALUE), "{stdout}");

    let message = resolve_err("env:SB_TEST_VARIABLE_THAT_IS_NOT_SET", TIMEOUT).await;
    assert!(
        message.contains("environment variable SB_TEST_VARIABLE_THAT_IS_NOT_SET is not set"),
        "{message}"
    );
}

#[tokio::test]
async fn refresh_picks_up_a_rewritten_file_within_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "first-value\n").unwrap();
    let secret = Secret::load("intercom.token", reference(&format!("file:{}", path.display())), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(secret.fingerprint(), Fingerprint::of("first-value"));
    let mut changes = secret.subscribe();

    let registry = switchboard::secrets::Secrets::new(vec![secret.clone()]);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let interval = Duration::from_millis(100);
    let refresher = tokio::spawn(async move {
        registry
            .refresh_until(interval, async {
                let _ = stop_rx.await;
            })
            .await;
    });

    std::fs::write(&path, "second-value\n").unwrap();
    let rewritten = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(10), changes.changed())
        .await
        .expect("the rotation is picked up")
        .unwrap();
    let waited = rewritten.elapsed();
    secret.with_value(|v| assert_eq!(v, "second-value"));
    assert_eq!(secret.fingerprint(), Fingerprint::of("second-value"));
    println!("rotation picked up {waited:?} after the rewrite (interval {interval:?})");

    // A broken source keeps the last good value instead of failing requests.
    std::fs::remove_file(&path).unwrap();
    assert!(secret.refresh().await.is_err());
    secret.with_value(|v| assert_eq!(v, "second-value"));

    let _ = stop_tx.send(());
    refresher.await.unwrap();
}

/// Whether process `pid` still runs (a zombie, dead but not yet reaped by its new parent, does not).
#[cfg(target_os = "linux")]
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may itself hold spaces.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()) != Some('Z'),
        Err(_) => false,
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_exec_timeout_kills_the_commands_children_too() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("grandchild.pid");
    // The shell starts a grandchild and records its pid, then both hang. The timeout is generous so
    // that the shell has surely written the pid on a loaded machine before it is killed.
    // The grandchild would outlive the test's patience if it were left running.
    let command = format!("exec:sh -c 'sleep 300 & echo $! > {}; sleep 300'", pidfile.display());
    let message = resolve_err(&command, Duration::from_secs(2)).await;
    assert!(message.contains("did not finish within 2s") && message.contains("killed"), "{message}");
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    eventually("the grandchild of a timed-out exec: command is gone", || async {
        (!running(pid)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn exec_output_beyond_the_cap_is_refused_without_echoing_it() {
    // 70,000 bytes of a recognisable value: more than the 64 KiB cap.
    let message = resolve_err("exec:sh -c 'yes leaked-secret-line | head -c 70000'", TIMEOUT).await;
    assert!(message.starts_with("exec:sh …:"), "the reference is named: {message}");
    assert!(message.contains("more than 64 KiB"), "{message}");
    assert!(!message.contains("leaked-secret-line"), "{message}");

    // A command that never stops printing is cut off at the cap, not read until the timeout.
    let started = std::time::Instant::now();
    let message = resolve_err("exec:yes", Duration::from_secs(30)).await;
    assert!(message.contains("more than 64 KiB"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(20), "the cap, not the timeout, ended it");

    // Just under the cap is still a secret.
    let value =
        reference("exec:sh -c 'head -c 65536 /dev/zero | tr \"\\0\" a'").resolve(TIMEOUT).await.unwrap();
    assert_eq!(value.expose_secret().len(), 64 * 1024);
}
