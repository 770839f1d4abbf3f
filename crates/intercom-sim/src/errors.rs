//! Error types: [`ApiError`] renders Intercom's `error.list` envelope; [`SimError`] is what the
//! library and CLI return to their callers.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::StatusCode;
use serde_json::json;

use crate::faults::FaultSpecError;

/// An error answered to an API client in Intercom's `error.list` shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the response.
    pub status: StatusCode,
    /// Intercom error code, e.g. `parameter_invalid`.
    pub code: Cow<'static, str>,
    /// Human-readable message, worded like Intercom's.
    pub message: String,
    /// The offending field, when Intercom names one.
    pub field: Option<String>,
    /// Extra response headers (e.g. `Link` on a 410 for a merged contact).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), field: None, headers: Vec::new() }
    }

    /// Names the offending request field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 `parameter_invalid`, Intercom's answer to most malformed input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "parameter_invalid", message)
    }

    /// 400 `parameter_not_found` for a missing required parameter.
    pub fn missing(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "parameter_not_found", message)
    }

    /// 404 with the given code and message.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 404 `not_found` "User Not Found", Intercom's answer for an unknown contact.
    pub fn contact_not_found() -> Self {
        Self::not_found("not_found", "User Not Found")
    }

    /// 404 `not_found` "Resource Not Found", Intercom's generic 404.
    pub fn resource_not_found() -> Self {
        Self::not_found("not_found", "Resource Not Found")
    }

    /// 401 `unauthorized` "Access Token Invalid".
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Access Token Invalid")
    }

    /// The `error.list` JSON body for this error.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        let mut error = json!({ "code": self.code.as_ref(), "message": self.message });
        if let Some(field) = &self.field {
            error["field"] = json!(field);
        }
        json!({ "type": "error.list", "request_id": request_id, "errors": [error] })
    }
}

/// Errors returned by the simulator library and its CLI.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source} (pick another --port or stop what is using it)")]
    Bind {
        /// Address that was requested.
        addr: SocketAddr,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The host given could not be parsed as an IP address.
    #[error("invalid listen host {host:?}: expected an IP address such as 127.0.0.1 or 0.0.0.0")]
    InvalidHost {
        /// Host as given.
        host: String,
    },
    /// The configuration is inconsistent.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    /// The configuration file could not be read.
    #[error("cannot read simulator config {path}: {source}")]
    ConfigRead {
        /// Path of the file.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML for a simulator config.
    #[error("cannot parse simulator config {path}: {message}")]
    ConfigParse {
        /// Path of the file.
        path: PathBuf,
        /// Parser message with line and column.
        message: String,
    },
    /// A fault specification could not be parsed.
    #[error(transparent)]
    Faults(#[from] FaultSpecError),
    /// No app with the given id code exists.
    #[error("no app with id {0:?} in this simulator (see SimHandle::apps for the configured ones)")]
    UnknownApp(String),
    /// A control method needs the manual clock but the simulator runs on the system clock.
    #[error(
        "the simulator runs on the system clock; start it with SimConfig::manual_clock to move time by hand"
    )]
    NotManualClock,
    /// A webhook URL failed Intercom's HEAD validation.
    #[error("webhook URL {url} failed validation: {reason} (it must answer a HEAD request with 2xx)")]
    WebhookValidation {
        /// The URL that was checked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A control request was invalid.
    #[error("{0}")]
    Control(String),
    /// An I/O error while serving.
    #[error("simulator I/O error: {0}")]
    Io(#[from] std::io::Error),
}
