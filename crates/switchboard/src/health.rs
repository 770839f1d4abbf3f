//! Liveness and readiness probes (`/livez`, `/readyz`) for Kubernetes and load balancers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::store::Store;

/// How long `/readyz` waits for the store before calling it unreachable.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the service should receive traffic: the store answers with a current schema, and
/// shutdown has not begun (so load balancers drain it before the listener closes).
#[derive(Debug, Clone)]
pub struct Readiness {
    shutting_down: Arc<AtomicBool>,
    store: Arc<dyn Store>,
}

impl Readiness {
    /// Readiness backed by `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Readiness { shutting_down: Arc::new(AtomicBool::new(false)), store }
    }

    /// Marks the service as shutting down: `/readyz` answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// `GET /livez`: the process is alive and serving HTTP.
pub async fn livez() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: ready for traffic.
pub async fn readyz(State(readiness): State<Readiness>) -> impl IntoResponse {
    if readiness.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "shutting_down" })));
    }
    match tokio::time::timeout(STORE_PING_TIMEOUT, readiness.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "store_unavailable", "error": e.to_string() })),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "store_unavailable", "error": "the store did not answer within 2s" })),
        ),
    }
}
