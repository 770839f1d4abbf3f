//! The admin API under `/admin`: dead letters, replay, and re-enabling destinations. Every request
//! needs `Authorization: Bearer <admin.key>`; without an `admin.key` the API answers 404. Errors
//! are [`HttpError`]s (docs/errors.md).

use std::sync::Arc;

use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_clock::SharedClock;
use tokio::sync::Notify;

use crate::http_error::{ErrorCode, HttpError};
use crate::secrets::Secret;
use crate::store::{DeadLetterFilter, Store, StoreError, now_millis};

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

async fn require_key(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, HttpError> {
    let Some(key) = &state.key else {
        return Err(HttpError::new(
            ErrorCode::AdminDisabled,
            "the admin API is off; set admin.key to turn it on",
        ));
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
        Ok(next.run(request).await)
    } else {
        Err(HttpError::new(
            ErrorCode::Unauthorized,
            "missing or wrong admin key; send Authorization: Bearer <admin.key>",
        ))
    }
}

/// A 503 for a store that failed; the store's errors name no secret or personal data.
fn store_unavailable(error: StoreError) -> HttpError {
    HttpError::new(
        ErrorCode::StoreUnavailable,
        format!("{error}; retry, and check the service's log if it persists"),
    )
}

/// Query of `GET /admin/dlq`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    destination: Option<String>,
    /// Unix milliseconds.
    since: Option<i64>,
    limit: Option<usize>,
}

async fn list(
    State(state): State<AdminState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Query(q) = query?;
    // A default page keeps an unbounded dead-letter queue from becoming an unbounded response.
    let limit = Some(q.limit.unwrap_or(DEFAULT_LIST_LIMIT));
    let filter = DeadLetterFilter { destination: q.destination, since: q.since, id: None, limit };
    let dead = state.store.dead_letters(filter).await.map_err(store_unavailable)?;
    Ok(Json(json!({ "dead_letters": dead })))
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

async fn replay(
    State(state): State<AdminState>,
    body: Result<Option<Json<ReplayRequest>>, JsonRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Some(Json(request)) = body? else {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            "send a JSON body: {\"id\": N} or {\"all\": true}",
        ));
    };
    if request.id.is_some() == request.all {
        return Err(HttpError::new(ErrorCode::BadRequest, "give exactly one of \"id\" or \"all\": true"));
    }
    let filter = DeadLetterFilter {
        destination: request.destination,
        since: request.since,
        id: request.id,
        limit: None,
    };
    let replayed =
        state.store.replay(now_millis(state.clock.as_ref()), filter).await.map_err(store_unavailable)?;
    state.wake.notify_one();
    tracing::info!(replayed, "dead letters replayed through the admin API");
    Ok(Json(json!({ "replayed": replayed })))
}

async fn destinations(State(state): State<AdminState>) -> Result<Json<serde_json::Value>, HttpError> {
    let disabled = state.store.disabled_destinations().await.map_err(store_unavailable)?;
    Ok(Json(json!({ "disabled": disabled })))
}

async fn enable(
    State(state): State<AdminState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Path(name) = name?;
    state.store.set_destination_disabled(&name, None).await.map_err(store_unavailable)?;
    state.wake.notify_one();
    tracing::info!(destination = %name, "destination enabled through the admin API");
    Ok(Json(json!({ "enabled": name })))
}
