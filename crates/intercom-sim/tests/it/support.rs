//! Shared helpers: an in-process simulator with a plain reqwest client, and a webhook receiver
//! that records what it gets and answers with scripted statuses.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::any;
use intercom_sim::{ManualClock, SimConfig, SimHandle, Simulator};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

/// A window-aligned instant for manual clocks (a multiple of 10 s).
pub const T0: u64 = 1_700_000_000;

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Resp {
    /// The first error's code.
    pub fn code(&self) -> &str {
        self.json["errors"][0]["code"].as_str().unwrap_or("")
    }

    /// The first error's message.
    pub fn message(&self) -> &str {
        self.json["errors"][0]["message"].as_str().unwrap_or("")
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an Intercom error.list with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected status, body: {}", self.json);
        assert_eq!(self.json["type"], "error.list", "{}", self.json);
        assert_eq!(self.code(), code, "{}", self.json);
        let rid = self.json["request_id"].as_str().expect("request_id");
        assert!(uuid::Uuid::parse_str(rid).is_ok(), "request_id {rid} is not a UUID");
    }
}

/// A running simulator plus a client.
pub struct TestSim {
    pub sim: SimHandle,
    client: reqwest::Client,
    /// The default app's token.
    pub token: String,
}

impl TestSim {
    /// A simulator with this configuration.
    pub async fn start(config: SimConfig) -> Self {
        let sim = Simulator::start(config).await.expect("simulator starts");
        let token = sim.default_app().token.clone();
        Self { sim, client: reqwest::Client::new(), token }
    }

    /// A simulator with the default configuration, on the system clock.
    pub async fn default() -> Self {
        Self::start(SimConfig::default()).await
    }

    /// A simulator on `clock`, which the test moves.
    pub async fn manual(clock: &ManualClock, config: SimConfig) -> Self {
        Self::start(config.clock(Arc::new(clock.clone()))).await
    }

    /// The absolute URL of a path.
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.sim.base_url(), path)
    }

    /// A request with the default app's token and no `Intercom-Version` (the app's default
    /// applies), for what the typed helpers do not send: other versions, fault headers, raw bodies.
    pub fn authed(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&self.token)
    }

    /// An API request as `token` (none: unauthenticated) with version 2.14 and a JSON body.
    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path)).header("Intercom-Version", "2.14");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req, body).await
    }

    /// A control-API request (`/_sim/...`: no token, no version).
    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        read(self.client.request(method, self.url(path)), body).await
    }

    /// An authenticated GET.
    pub async fn get(&self, path: &str) -> Resp {
        self.send_as(Some(&self.token), Method::GET, path, None).await
    }

    /// An authenticated POST.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send_as(Some(&self.token), Method::POST, path, Some(body)).await
    }

    /// An authenticated PUT.
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send_as(Some(&self.token), Method::PUT, path, Some(body)).await
    }

    /// An authenticated DELETE.
    pub async fn delete(&self, path: &str) -> Resp {
        self.send_as(Some(&self.token), Method::DELETE, path, None).await
    }

    /// A recording [`Receiver`] subscribed to the default app's `topics` (none: every topic).
    pub async fn receiver(&self, topics: &[&str]) -> Receiver {
        let rx = Receiver::start().await;
        self.sim.add_webhook_subscription(None, &rx.url, topics).await.expect("subscribed");
        rx
    }

    /// Creates a contact and returns its JSON, asserting success.
    pub async fn contact(&self, body: Value) -> Value {
        let r = self.post("/contacts", body).await;
        assert_eq!(r.status, 200, "{}", r.json);
        r.json
    }
}

/// Sends `req` with `body` as JSON, if any, and reads the answer (a body that is empty or not JSON
/// reads as `null`).
async fn read(req: reqwest::RequestBuilder, body: Option<Value>) -> Resp {
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let r = req.send().await.expect("request completes");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.expect("body");
    let json =
        if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
    Resp { status, headers, json }
}

/// One request received by the [`Receiver`].
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Clone)]
struct ReceiverState {
    tx: mpsc::UnboundedSender<Received>,
    script: Arc<Mutex<VecDeque<u16>>>,
    head_status: Arc<AtomicU16>,
    gate: Arc<Mutex<Option<Arc<Notify>>>>,
}

/// A webhook receiver on an ephemeral port.
pub struct Receiver {
    pub url: String,
    pub rx: mpsc::UnboundedReceiver<Received>,
    state: ReceiverState,
}

impl Receiver {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = ReceiverState {
            tx,
            script: Arc::new(Mutex::new(VecDeque::new())),
            head_status: Arc::new(AtomicU16::new(200)),
            gate: Arc::new(Mutex::new(None)),
        };
        let app = Router::new().route("/hook", any(record)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url: format!("http://{addr}/hook"), rx, state }
    }

    /// Statuses for the next POSTs, in order (then 200).
    pub fn script(&self, statuses: &[u16]) {
        self.state.script.lock().extend(statuses.iter().copied());
    }

    /// Status for HEAD requests.
    pub fn head_status(&self, status: u16) {
        self.state.head_status.store(status, Ordering::SeqCst);
    }

    /// Makes POSTs wait until the returned notify is notified.
    pub fn hold(&self) -> Arc<Notify> {
        let n = Arc::new(Notify::new());
        *self.state.gate.lock() = Some(n.clone());
        n
    }

    /// The next received request (5 s at most).
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .expect("a webhook request arrives in time")
            .expect("receiver open")
    }

    /// The next POST, skipping HEADs.
    pub async fn next_post(&mut self) -> Received {
        loop {
            let r = self.next().await;
            if r.method == Method::POST {
                return r;
            }
        }
    }
}

async fn record(
    State(s): State<ReceiverState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let is_head = method == Method::HEAD;
    let _ = s.tx.send(Received { method, headers, body });
    if is_head {
        return StatusCode::from_u16(s.head_status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK);
    }
    let gate = s.gate.lock().clone();
    if let Some(g) = gate {
        g.notified().await;
    }
    let status = s.script.lock().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}
