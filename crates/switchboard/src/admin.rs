//! The admin API under `/admin`: dead letters, replay, and re-enabling destinations. Every request
//! needs `Authorization: Bearer <admin.key>`; without an `admin.key` the API answers 404.

use std::sync::Arc;

use axum::extract::Request;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_clock::SharedClock;
use tokio::sync::Notify;

use crate::secrets::Secret;
use crate::store::{DeadLetterFilter, Store, now_millis};

/// Dead letters listed per request when `limit` is not given.
const DEFAULT_LIST_LIMIT: usize = 1000;

/// What the admin API needs.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The bearer key; `None` turns the API off.
    pub key: Option<Secret>,
    /// Wakes the dispatcher after a replay.
    pub wake: Arc<Notify>,
    /// When a replayed dead letter is due (now, on the service's clock).
    pub clock: SharedClock,
}

/// The `/admin` routes, every one behind the bearer key.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/dlq", get(list))
        .route("/dlq/replay", post(replay))
        .route("/destinations", get(destinations))
        .route("/destinations/{name}/enable", post(enable))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key))
        .with_state(state)
}

async fn require_key(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let Some(key) = &state.key else {
        return error(StatusCode::NOT_FOUND, "the admin API is off; set admin.key to turn it on");
    };
    let headers = request.headers();
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Hashing both sides first makes the comparison constant-time regardless of length.
    let matches =
        key.with_value(|k| Sha256::digest(k.as_bytes()).ct_eq(&Sha256::digest(presented.as_bytes())));
    if bool::from(matches) {
        next.run(request).await
    } else {
        error(StatusCode::UNAUTHORIZED, "missing or wrong admin key; send Authorization: Bearer <admin.key>")
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Query of `GET /admin/dlq`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    destination: Option<String>,
    /// Unix milliseconds.
    since: Option<i64>,
    limit: Option<usize>,
}

async fn list(State(state): State<AdminState>, Query(q): Query<ListQuery>) -> Response {
    // A default page keeps an unbounded dead-letter queue from becoming an unbounded response.
    let limit = Some(q.limit.unwrap_or(DEFAULT_LIST_LIMIT));
    let filter = DeadLetterFilter { destination: q.destination, since: q.since, id: None, limit };
    match state.store.dead_letters(filter).await {
        Ok(dead) => Json(json!({ "dead_letters": dead })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Body of `POST /admin/dlq/replay`: `{"id": 42}` or `{"all": true, "since": ms, "destination": "app"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    id: Option<i64>,
    #[serde(default)]
    all: bool,
    since: Option<i64>,
    destination: Option<String>,
}

async fn replay(State(state): State<AdminState>, body: Option<Json<ReplayRequest>>) -> Response {
    let Some(Json(request)) = body else {
        return error(StatusCode::BAD_REQUEST, "send a JSON body: {\"id\": N} or {\"all\": true}");
    };
    if request.id.is_some() == request.all {
        return error(StatusCode::BAD_REQUEST, "give exactly one of \"id\" or \"all\": true");
    }
    let filter = DeadLetterFilter {
        destination: request.destination,
        since: request.since,
        id: request.id,
        limit: None,
    };
    match state.store.replay(now_millis(state.clock.as_ref()), filter).await {
        Ok(replayed) => {
            state.wake.notify_one();
            tracing::info!(replayed, "dead letters replayed through the admin API");
            Json(json!({ "replayed": replayed })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

async fn destinations(State(state): State<AdminState>) -> Response {
    match state.store.disabled_destinations().await {
        Ok(disabled) => Json(json!({ "disabled": disabled })).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

async fn enable(State(state): State<AdminState>, Path(name): Path<String>) -> Response {
    match state.store.set_destination_disabled(&name, None).await {
        Ok(()) => {
            state.wake.notify_one();
            tracing::info!(destination = %name, "destination enabled through the admin API");
            Json(json!({ "enabled": name })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}
