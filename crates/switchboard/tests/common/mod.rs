//! Test helpers: the real service started in-process on an ephemeral port, and a destination whose
//! answers a test can script.
#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a different subset

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use switchboard::clock::{Clock, SharedClock, SystemClock};
use switchboard::config::{Config, ConfigLoader, Overrides};
use switchboard::startup::Application;
use switchboard::store::Store;
use switchboard::webhooks::Notification;
use tokio::sync::{Notify, oneshot};

/// The client secret every test app signs with.
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";
/// The second client secret, active during a rotation.
pub const ROTATED_SECRET: &str = "test-client-secret-next-abcdef";
/// A destination signing secret in Standard Webhooks form.
pub const DESTINATION_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The admin API key.
pub const ADMIN_KEY: &str = "test-admin-key-42";

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A destination whose answers follow a script (then 200), recording every request.
#[derive(Clone, Default)]
pub struct Receiver {
    inner: Arc<ReceiverInner>,
}

#[derive(Default)]
struct ReceiverInner {
    script: Mutex<VecDeque<(StatusCode, Option<&'static str>)>>,
    fallback: Mutex<Option<StatusCode>>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
}

impl Receiver {
    /// Starts the receiver on an ephemeral port; returns it and its URL.
    pub async fn start() -> (Self, String) {
        let receiver = Receiver::default();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            // Alertmanager's API path, for alert channel tests.
            .route("/hook/api/v2/alerts", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    /// The next answers, in order, with an optional `Retry-After`; afterwards the fallback.
    pub fn script(&self, answers: &[(u16, Option<&'static str>)]) {
        let mut script = self.inner.script.lock().unwrap();
        for (status, retry_after) in answers {
            script.push_back((StatusCode::from_u16(*status).unwrap(), *retry_after));
        }
    }

    /// The answer once the script is used up (200 by default).
    pub fn always(&self, status: u16) {
        *self.inner.fallback.lock().unwrap() = Some(StatusCode::from_u16(status).unwrap());
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let notified = self.inner.arrived.notified();
                let received = self.received();
                if received.len() >= n {
                    return received;
                }
                notified.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("expected {n} requests, got {}", self.received().len()))
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let answer = receiver.inner.script.lock().unwrap().pop_front();
    let fallback = receiver.inner.fallback.lock().unwrap().unwrap_or(StatusCode::OK);
    receiver.inner.received.lock().unwrap().push(Received { headers, body });
    receiver.inner.arrived.notify_waiters();
    let (status, retry_after) = answer.unwrap_or((fallback, None));
    let mut response = status.into_response();
    if let Some(value) = retry_after {
        response.headers_mut().insert("retry-after", value.parse().unwrap());
    }
    response
}

/// A running service.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    pub config: Config,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// The base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the service gracefully and waits for it; returns its directory (config and store) so
    /// a test can start it again on the same data.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.dir
    }
}

/// Writes secret files and a config into a temporary directory; `extra` is appended to the TOML.
pub fn write_config(dir: &std::path::Path, extra: &str) -> PathBuf {
    for (name, value) in [
        ("client_secret", CLIENT_SECRET),
        ("rotated_secret", ROTATED_SECRET),
        ("dest_secret", DESTINATION_SECRET),
        ("admin_key", ADMIN_KEY),
    ] {
        std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
    }
    let d = dir.display();
    let text = format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        shutdown_timeout = "5s"
        [webhooks]
        client_secrets = ["file:{d}/client_secret"]
        [store]
        url = "sqlite://{d}/data/switchboard.db"
        [admin]
        key = "file:{d}/admin_key"
        [delivery]
        retry_schedule = ["50ms", "100ms", "150ms"]
        lease = "30s"
        poll_interval = "20ms"
        {extra}
        "#
    );
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the service with the config of [`write_config`] plus `extra`.
pub async fn spawn_app(extra: &str) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), extra);
    spawn_in(dir, path).await
}

/// Starts the service with the config of [`write_config`] plus `extra`, on `clock`.
pub async fn spawn_app_on(extra: &str, clock: SharedClock) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), extra);
    start(dir, path, Some(clock)).await
}

/// Starts the service in `dir` with the config at `path`.
pub async fn spawn_in(dir: tempfile::TempDir, path: PathBuf) -> TestApp {
    start(dir, path, None).await
}

async fn start(dir: tempfile::TempDir, path: PathBuf, clock: Option<SharedClock>) -> TestApp {
    let config = ConfigLoader::new(Some(path), Overrides::default()).with_env(vec![]).load().unwrap();
    let secrets = config.load_secrets().await.unwrap();
    let app = match clock {
        Some(clock) => Application::build_with(&config, secrets, clock).await.unwrap(),
        None => Application::build(&config, secrets).await.unwrap(),
    };
    let addr = app.local_addr();
    let store = app.store();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestApp { addr, store, dir, config, stop: Some(stop), task: Some(task) }
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

/// Posts `body` signed with `secret` to `url`.
pub async fn post_signed(client: &reqwest::Client, url: &str, secret: &str, body: &str) -> reqwest::Response {
    let signature = switchboard::webhooks::sign(secret.as_bytes(), body.as_bytes());
    client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
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
