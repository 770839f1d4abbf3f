//! What every test module shares: the real service in-process ([`spawn_app`]), a scripted destination
//! ([`Receiver`]), the real binary ([`cli`]), one test alone in a child process
//! ([`in_own_process`]), the notification builder and the secrets the test services use.

mod app;
mod cli;
mod process;
mod receiver;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use switchboard::clock::{Clock, SystemClock};
use switchboard::webhooks::Notification;

pub use app::{AppDir, TestApp, spawn_app, spawn_app_on};
pub use cli::{Ran, cli};
pub use process::{ServeProcess, block_on, in_own_process, start_serve};
pub use receiver::Receiver;

/// The client secret every test app verifies webhooks with.
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";
/// The second client secret, active during a rotation.
pub const ROTATED_SECRET: &str = "test-client-secret-next-abcdef";
/// A signing secret in Standard Webhooks form: the test apps' destination secret, and an alert
/// webhook channel's key.
pub const DESTINATION_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The admin API key of the test apps.
pub const ADMIN_KEY: &str = "test-admin-key-42";

/// How long a test waits for something that should happen, before it fails instead of hanging. Only
/// a guard: no test asserts on how long anything took.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// How often [`eventually`] looks again, where there is no event to await.
const POLL: Duration = Duration::from_millis(20);

/// The workspace's root (where README.md, deploy/ and docs/ are).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes each `(name, value)` as the file `name` in `dir` holding `value` and a newline, the way
/// secrets are mounted.
pub fn write_secrets(dir: &Path, secrets: &[(&str, &str)]) {
    for (name, value) in secrets {
        std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
    }
}

/// A realistic notification envelope about a contact, created now.
pub fn notification(id: &str, topic: &str) -> String {
    notification_on(id, topic, &SystemClock)
}

/// [`notification`] created at `clock`'s now, for tests that move time.
pub fn notification_on(id: &str, topic: &str, clock: &dyn Clock) -> String {
    Notification::new("a86dr8yl", topic, clock)
        .id(id)
        .item(serde_json::json!({
            "type": "contact", "id": "65f642bf674b9af4e9e46dd1", "external_id": "ext-42",
            "email": "jane.doe@example.com", "name": "Jane Doe"
        }))
        .to_json()
}

/// Posts `body` to `url` as Intercom does, with `signature` as its `X-Hub-Signature`.
pub async fn post_with_signature(
    client: &reqwest::Client,
    url: &str,
    signature: &str,
    body: &str,
) -> reqwest::Response {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Posts `body` signed with `secret` to `url`.
pub async fn post_signed(client: &reqwest::Client, url: &str, secret: &str, body: &str) -> reqwest::Response {
    let signature = switchboard::webhooks::sign(secret.as_bytes(), body.as_bytes());
    post_with_signature(client, url, &signature, body).await
}

/// Checks that `response` is an error in Intercom's envelope whose `request_id` is non-empty and
/// equals its `X-Request-Id` header; returns the status, the code and the request id.
pub async fn error_envelope(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("a {status} answer without X-Request-Id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error.list", "{body}");
    let request_id = body["request_id"].as_str().unwrap_or_default();
    assert!(!request_id.is_empty(), "{body}");
    assert_eq!(request_id, header, "the envelope's request_id is the X-Request-Id header");
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert!(!errors[0]["message"].as_str().unwrap_or_default().is_empty(), "{body}");
    (status, errors[0]["code"].as_str().unwrap().to_owned(), header)
}

/// Serves `router` on an ephemeral loopback port for the rest of the test; returns its address.
pub async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// A loopback port nothing listens on now, for a service that must keep its port across restarts
/// (a child process, or an address the simulator retries).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` until it returns `Some`, and returns that; fails naming `what` after [`PATIENCE`].
/// For states that announce themselves by no event a test could await (a row in the store, a
/// child's port, an alert's state).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting until {what}"))
}

/// [`eventually`] for a condition.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually(what, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
}
