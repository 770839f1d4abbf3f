//! What every endpoint handler receives ([`Ctx`]) and returns ([`Reply`]).
//!
//! Handlers are synchronous: they take the workspace lock, change or read data, and return. Webhook
//! notifications are collected in the context and handed to the delivery task after the lock is
//! released, so an API response never waits for a webhook.

use std::sync::Arc;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use crate::errors::ApiError;
use crate::input;
use crate::state::{App, SimState};

/// An `Intercom-Version` as (major, minor); `Preview`/`Unstable` are (2, u16::MAX).
pub type Version = (u16, u16);

/// Per-request context for handlers.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// Simulator state.
    pub sim: &'a SimState,
    /// The authenticated app.
    pub app: &'a Arc<App>,
    /// Request time, epoch seconds.
    pub now: i64,
    /// Effective API version.
    pub version: Version,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
    /// Raw request body.
    pub body: &'a [u8],
    /// Whether any webhook subscription could receive a notification from this workspace.
    pub wants_webhooks: bool,
    /// Notifications to deliver once the response is ready: (topic, item).
    pub notifications: Vec<(String, Value)>,
}

impl Ctx<'_> {
    /// Queues a webhook notification; `item` is only rendered when someone is subscribed.
    pub fn emit(&mut self, topic: &str, item: impl FnOnce() -> Value) {
        if self.wants_webhooks {
            self.notifications.push((topic.to_string(), item()));
        }
    }

    /// The request body parsed as JSON (empty counts as `{}`).
    pub fn json(&self) -> Result<Value, ApiError> {
        input::json_body(self.body)
    }

    /// The workspace id.
    pub fn workspace_id(&self) -> &str {
        &self.app.workspace.id
    }
}

/// A successful response: status and JSON body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Body bytes (JSON, or empty for 202).
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with `value` as JSON.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, ApiError> {
        serde_json::to_vec(value).map(|body| Self { status: StatusCode::OK, body }).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                format!("cannot render response: {e}"),
            )
        })
    }

    /// 202 with an empty body (`POST /events`).
    pub fn accepted() -> Self {
        Self { status: StatusCode::ACCEPTED, body: Vec::new() }
    }
}

/// What handlers return.
pub type ApiResult = Result<Reply, ApiError>;
