//! A destination whose answers a test scripts: it serves every path and method, records every request,
//! and answers from a script, then a fallback (200 unless told otherwise). It stands for delivery
//! destinations, alert channels (webhook, Slack, Alertmanager's `/api/v2/alerts`) and any endpoint
//! that accepts whatever it is sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use super::PATIENCE;

/// One request a [`Receiver`] got, and how it answered.
#[derive(Debug, Clone)]
pub struct Received {
    /// The URI's path.
    pub path: String,
    pub headers: HeaderMap,
    /// The body, byte for byte.
    pub body: Bytes,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: serde_json::Value,
    /// The status it was answered with.
    pub status: StatusCode,
}

/// A scripted destination; clones share one server and one record.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Inner>,
    /// `http://host:port`.
    base: String,
}

#[derive(Default)]
struct Inner {
    script: Mutex<VecDeque<(StatusCode, Option<&'static str>)>>,
    fallback: Mutex<Option<StatusCode>>,
    hold_first: Mutex<Option<Arc<Notify>>>,
    received: Mutex<Vec<Received>>,
    /// How many of `received` [`Receiver::next`] has looked at.
    read: Mutex<usize>,
    arrived: Notify,
}

impl Receiver {
    /// Starts a receiver on an ephemeral port; returns it and its URL `http://…/hook` (any other path
    /// on the same server is served as well: see [`Receiver::url`]).
    pub async fn start() -> (Self, String) {
        let inner = Arc::new(Inner::default());
        let addr = super::serve(axum::Router::new().fallback(receive).with_state(inner.clone())).await;
        let receiver = Receiver { inner, base: format!("http://{addr}") };
        let url = receiver.url("/hook");
        (receiver, url)
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next answers, in order, with an optional `Retry-After`; afterwards the fallback.
    pub fn script(&self, answers: &[(u16, Option<&'static str>)]) {
        let mut script = self.inner.script.lock().unwrap();
        for (status, retry_after) in answers {
            script.push_back((StatusCode::from_u16(*status).unwrap(), *retry_after));
        }
    }

    /// The answer once the script is used up (200 until this is called).
    pub fn always(&self, status: u16) {
        *self.inner.fallback.lock().unwrap() = Some(StatusCode::from_u16(status).unwrap());
    }

    /// Holds the first request open, unanswered, until `release` is notified.
    pub fn hold_first(&self, release: Arc<Notify>) {
        *self.inner.hold_first.lock().unwrap() = Some(release);
    }

    /// Every request so far, answered or still held.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// The request bodies so far that are JSON.
    pub fn json_bodies(&self) -> Vec<serde_json::Value> {
        self.received().into_iter().filter(|r| !r.json.is_null()).map(|r| r.json).collect()
    }

    /// Waits until at least `n` requests have arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        self.wait(|received| (received.len() >= n).then(|| received.to_vec()))
            .await
            .unwrap_or_else(|| panic!("expected {n} requests, got {}", self.received().len()))
    }

    /// The next request answered 2xx that `matches`, after the last one this returned; the requests
    /// in between are passed over (waits for it; `what` names it if it never comes).
    pub async fn next(&self, what: &str, matches: impl Fn(&Received) -> bool) -> Received {
        let found = self
            .wait(|received| {
                let mut read = self.inner.read.lock().unwrap();
                while let Some(request) = received.get(*read) {
                    *read += 1;
                    if request.status.is_success() && matches(request) {
                        return Some(request.clone());
                    }
                }
                None
            })
            .await;
        found.unwrap_or_else(|| panic!("no {what} arrived"))
    }

    /// Runs `check` on the record now and after each arrival, until it returns `Some` (or
    /// [`PATIENCE`] runs out: `None`).
    async fn wait<T>(&self, mut check: impl FnMut(&[Received]) -> Option<T>) -> Option<T> {
        tokio::time::timeout(PATIENCE, async {
            loop {
                // Registered before looking, so an arrival in between is not missed.
                let arrived = self.inner.arrived.notified();
                if let Some(found) = check(&self.inner.received.lock().unwrap()) {
                    return found;
                }
                arrived.await;
            }
        })
        .await
        .ok()
    }
}

async fn receive(State(inner): State<Arc<Inner>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let (status, retry_after) = inner
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| (inner.fallback.lock().unwrap().unwrap_or(StatusCode::OK), None));
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let first = {
        let mut received = inner.received.lock().unwrap();
        received.push(Received { path: uri.path().to_owned(), headers, body, json, status });
        received.len() == 1
    };
    inner.arrived.notify_waiters();
    let hold = inner.hold_first.lock().unwrap().clone();
    if first && let Some(release) = hold {
        release.notified().await;
    }
    let mut response = status.into_response();
    if let Some(value) = retry_after {
        response.headers_mut().insert("retry-after", value.parse().unwrap());
    }
    response
}
