//! `POST/HEAD {webhooks.path}`: where Intercom delivers notifications.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::signature::{self, SignatureError};
use crate::secrets::Secret;

/// What the ingress needs: the client secrets that may sign notifications.
#[derive(Debug, Clone)]
pub struct IngressState {
    /// Active client secrets (two during a rotation).
    pub client_secrets: Vec<Secret>,
}

/// `HEAD`: Intercom validates the URL with it before it saves a subscription.
pub async fn head() -> StatusCode {
    StatusCode::OK
}

/// `POST`: verifies the signature on the raw body before anything else reads it.
pub async fn receive(State(state): State<IngressState>, headers: HeaderMap, body: Bytes) -> Response {
    let header = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    if let Err(error) = signature::verify(header, &body, &state.client_secrets) {
        tracing::warn!(reason = error.reason(), "webhook refused: {error}");
        return rejection(StatusCode::UNAUTHORIZED, error);
    }
    // Invariant 1 (DESIGN.md): a 2xx only once the event is durably stored. The store arrives with
    // the webhook delivery work; until then a verified notification gets 503, so Intercom retries it.
    tracing::warn!("verified webhook not stored: this build has no event store yet");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "60")],
        Json(json!({
            "status": "unavailable",
            "signature": "valid",
            "error": "this build verifies webhooks but cannot store them yet, so it does not acknowledge them; \
                      Intercom will retry"
        })),
    )
        .into_response()
}

fn rejection(status: StatusCode, error: SignatureError) -> Response {
    let body = json!({
        "error": {
            "code": format!("signature_{}", error.reason()),
            "message": format!("{error}; check that the client secret configured in webhooks.client_secrets is the app's current one"),
        }
    });
    (status, Json(body)).into_response()
}
