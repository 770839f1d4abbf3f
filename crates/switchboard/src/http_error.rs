//! The one error answer of every HTTP endpoint the service serves: Intercom's own error envelope,
//! `{"type":"error.list","request_id":"…","errors":[{"code":"…","message":"…"}]}`, with the same
//! request id in the `X-Request-Id` response header. Intercom's SDKs already parse this shape, so
//! callers understand the service's errors, and operators see one shape on every surface.
//!
//! Handlers return `Err(HttpError::new(ErrorCode::…, "what happened; what to do"))`. An error
//! cannot see the request it answers, so it renders `"request_id": null` (which Intercom's schema
//! allows) and travels in the response's extensions; [`with_request_ids`], around the whole
//! router, gives every request an id and writes it into error bodies on the way out. Inside it,
//! [`request_id`] reads the id, for the request's tracing span.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};

/// The header carrying the request id, on requests (optional) and on every response.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest caller-sent request id that is kept; longer ones are replaced. Ids are echoed in
/// headers and bodies and end up in proxies' logs, so they stay short.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// What went wrong, as a stable snake_case code; each code has one HTTP status.
///
/// The codes are part of the API: callers branch on them and alert metrics carry some of them as
/// labels, so a code is never renamed. docs/errors.md lists every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 404: no Intercom app is configured at this webhook path.
    UnknownApp,
    /// 413: the webhook body is over `webhooks.max_body`.
    BodyTooLarge,
    /// 401: the webhook has no `X-Hub-Signature`.
    SignatureMissing,
    /// 401: the `X-Hub-Signature` is not `sha1=` and 40 hex digits.
    SignatureMalformed,
    /// 401: the `X-Hub-Signature` matches no configured client secret.
    SignatureMismatch,
    /// 400: the webhook carries more than one `X-Hub-Signature` header.
    SignatureRepeated,
    /// 400: the webhook body is not a JSON notification.
    InvalidJson,
    /// 400: the notification has no (or an empty) `id` or `topic`.
    MissingFields,
    /// 400: the notification is older than `webhooks.max_event_age`.
    TooOld,
    /// 400: the notification's `created_at` is further ahead than `webhooks.max_clock_skew`.
    TooNew,
    /// 503: the webhook was not stored (store failed or missed `webhooks.ack_deadline`); retry.
    Unavailable,
    /// 404: the admin API is off because `admin.key` is not set.
    AdminDisabled,
    /// 401: the admin key is missing or wrong.
    Unauthorized,
    /// 429: this client failed admin authentication too often; it must wait.
    AdminThrottled,
    /// 400: the request's body, query or path is not what the endpoint takes.
    BadRequest,
    /// 415: the body is not sent as `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 422: the body is JSON, but not of the shape the endpoint takes (a wrong type, an unknown field).
    UnprocessableEntity,
    /// 503: the store did not answer; retry.
    StoreUnavailable,
    /// 503: the service is shutting down and takes no new traffic.
    ShuttingDown,
    /// 404: no endpoint at this path.
    NotFound,
    /// 405: the endpoint exists but not for this method.
    MethodNotAllowed,
    /// 408: the request's body did not arrive within `server.body_timeout`.
    RequestTimeout,
    /// 503: the listener is at `server.max_connections`; retry after `Retry-After`.
    Overloaded,
    /// 503: the request was not answered within `server.request_timeout`; retry.
    Timeout,
}

impl ErrorCode {
    /// Every code, in the order of docs/errors.md.
    pub const ALL: [ErrorCode; 24] = [
        ErrorCode::UnknownApp,
        ErrorCode::BodyTooLarge,
        ErrorCode::SignatureMissing,
        ErrorCode::SignatureMalformed,
        ErrorCode::SignatureMismatch,
        ErrorCode::SignatureRepeated,
        ErrorCode::InvalidJson,
        ErrorCode::MissingFields,
        ErrorCode::TooOld,
        ErrorCode::TooNew,
        ErrorCode::Unavailable,
        ErrorCode::AdminDisabled,
        ErrorCode::Unauthorized,
        ErrorCode::AdminThrottled,
        ErrorCode::BadRequest,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::UnprocessableEntity,
        ErrorCode::StoreUnavailable,
        ErrorCode::ShuttingDown,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::Overloaded,
        ErrorCode::Timeout,
    ];

    /// The code as it appears in `errors[].code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::UnknownApp => "unknown_app",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::SignatureMissing => "signature_missing",
            ErrorCode::SignatureMalformed => "signature_malformed",
            ErrorCode::SignatureMismatch => "signature_mismatch",
            ErrorCode::SignatureRepeated => "signature_repeated",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::MissingFields => "missing_fields",
            ErrorCode::TooOld => "too_old",
            ErrorCode::TooNew => "too_new",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::AdminDisabled => "admin_disabled",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::AdminThrottled => "admin_throttled",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::UnprocessableEntity => "unprocessable_entity",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Timeout => "timeout",
        }
    }

    /// The HTTP status answered with this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidJson
            | ErrorCode::MissingFields
            | ErrorCode::TooOld
            | ErrorCode::TooNew
            | ErrorCode::SignatureRepeated
            | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::AdminThrottled => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::SignatureMissing
            | ErrorCode::SignatureMalformed
            | ErrorCode::SignatureMismatch
            | ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::UnknownApp | ErrorCode::AdminDisabled | ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnprocessableEntity => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unavailable
            | ErrorCode::StoreUnavailable
            | ErrorCode::ShuttingDown
            | ErrorCode::Overloaded
            | ErrorCode::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer: a code (which fixes the status), a message for the caller, and optionally how
/// long to wait before retrying. The message says what happened and what to do; it never holds a
/// secret or personal data, because it goes back over the wire.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct HttpError {
    code: ErrorCode,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
}

impl HttpError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        HttpError { code, message: message.into(), retry_after: None }
    }

    /// Also answers `Retry-After` with `after` (whole seconds).
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The message for the caller.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The envelope body as JSON bytes, with `request_id` (`null` when unknown). The fields come in
    /// Intercom's order (`type`, `request_id`, `errors`), which a `serde_json::Value` would sort
    /// away: parsers do not care, people reading curl output and logs do.
    pub fn envelope_bytes(&self, request_id: Option<&str>) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            r#type: &'static str,
            request_id: Option<&'a str>,
            errors: [Item<'a>; 1],
        }
        #[derive(serde::Serialize)]
        struct Item<'a> {
            code: &'static str,
            message: &'a str,
        }
        let envelope = Envelope {
            r#type: "error.list",
            request_id,
            errors: [Item { code: self.code.as_str(), message: &self.message }],
        };
        // Serializing plain strings into a Vec cannot fail; an empty body would still carry the status.
        serde_json::to_vec(&envelope).unwrap_or_default()
    }

    /// The error for an input axum refused to extract, keeping axum's status (400, 413, 415 or
    /// 422) and its account of why.
    fn rejected(what: &str, status: StatusCode, why: &str) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::UnprocessableEntity,
            _ => ErrorCode::BadRequest,
        };
        HttpError::new(
            code,
            format!("the request's {what} cannot be read: {why}; see docs/errors.md and the endpoint's docs"),
        )
    }

    /// The response: status, the envelope as JSON, `Retry-After` when set.
    fn render(&self, request_id: Option<&str>) -> Response {
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            self.envelope_bytes(request_id),
        )
            .into_response();
        if let Some(after) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
        }
        response
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let mut response = self.render(None);
        // Picked up by `fill_request_id`, which knows the request.
        response.extensions_mut().insert(self);
        response
    }
}

impl From<JsonRejection> for HttpError {
    fn from(rejection: JsonRejection) -> Self {
        HttpError::rejected("JSON body", rejection.status(), &rejection.body_text())
    }
}

impl From<QueryRejection> for HttpError {
    fn from(rejection: QueryRejection) -> Self {
        HttpError::rejected("query string", rejection.status(), &rejection.body_text())
    }
}

impl From<PathRejection> for HttpError {
    fn from(rejection: PathRejection) -> Self {
        HttpError::rejected("path", rejection.status(), &rejection.body_text())
    }
}

/// The router's fallback: 404 `not_found` for a path no endpoint serves.
pub async fn not_found() -> HttpError {
    // The path is not echoed: URLs can carry personal data, and the caller knows what it sent.
    HttpError::new(
        ErrorCode::NotFound,
        "no endpoint at this path; check the URL (webhooks.path for webhooks, /admin/... for the admin API, \
         /livez /readyz /health /metrics /alerts)",
    )
}

/// The router's fallback for a known path with another method: 405 `method_not_allowed` (axum
/// adds the `Allow` header).
pub async fn method_not_allowed() -> HttpError {
    HttpError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take this HTTP method; the Allow header lists those it takes",
    )
}

/// Wraps `router` so that every response carries `X-Request-Id` and every [`HttpError`] body
/// names the same id. A caller's `X-Request-Id` is kept when it is usable (one value, 1 to
/// [`MAX_REQUEST_ID_LEN`] visible ASCII characters), so its logs and ours correlate; otherwise a
/// fresh UUID is made. Apply it outermost, after every route and fallback.
pub fn with_request_ids<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    // The last layer added runs first: drop an unusable id, make one if there is none, copy it to
    // the response's header, and (innermost, where the id is known) into error bodies.
    router
        .layer(middleware::from_fn(fill_request_id))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeSimpleUuid))
        .layer(middleware::map_request(drop_unusable_request_id))
}

/// Makes request ids as random UUIDs in their simple form (32 hex digits, no dashes): a dashed
/// UUID can look like a phone number (`…-0412-4567-8912-…`) to the log redaction, which would mask
/// the very id an operator searches the logs for.
#[derive(Debug, Clone, Copy)]
struct MakeSimpleUuid;

impl MakeRequestId for MakeSimpleUuid {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Whether a caller's request id can be echoed: short, visible ASCII (no spaces, no control
/// characters that could forge log lines or headers).
pub fn is_usable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_REQUEST_ID_LEN && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

async fn drop_unusable_request_id(mut request: Request) -> Request {
    let headers = request.headers_mut();
    let mut values = headers.get_all(&REQUEST_ID_HEADER).iter();
    let usable = matches!((values.next(), values.next()), (Some(value), None) if is_usable_request_id(value));
    if !usable {
        headers.remove(&REQUEST_ID_HEADER);
    }
    request
}

/// The id [`with_request_ids`] gave `request`: there for everything the router runs (it wraps the
/// whole router), so handlers and the request's tracing span see the id its answer carries.
pub fn request_id<B>(request: &axum::http::Request<B>) -> Option<&str> {
    request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok())
}

async fn fill_request_id(request: Request, next: Next) -> Response {
    let id = request_id(&request).map(str::to_owned);
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    let Some(error) = parts.extensions.remove::<HttpError>() else {
        return Response::from_parts(parts, body);
    };
    let rendered = axum::body::Body::from(error.envelope_bytes(id.as_deref()));
    // The length of the `null` rendering may already be set; the new body has its own.
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, rendered)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{text}");
            assert!(seen.insert(text), "{text} twice");
            assert!(code.status().is_client_error() || code.status().is_server_error(), "{text}");
        }
    }

    #[test]
    fn docs_list_every_code_with_its_status() {
        let docs = include_str!("../../../docs/errors.md");
        for code in ErrorCode::ALL {
            let row = format!("| {} | `{}` |", code.status().as_u16(), code.as_str());
            assert!(docs.contains(&row), "docs/errors.md has no row starting {row}");
        }
    }

    #[test]
    fn the_envelope_is_intercoms() {
        let error = HttpError::new(ErrorCode::TooOld, "too old; check the clock");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&error.envelope_bytes(Some("req-1"))).unwrap(),
            json!({
                "type": "error.list",
                "request_id": "req-1",
                "errors": [{ "code": "too_old", "message": "too old; check the clock" }],
            })
        );
        let text = String::from_utf8(error.envelope_bytes(None)).unwrap();
        assert!(text.starts_with(r#"{"type":"error.list","request_id":null,"errors":[{"code":"#), "{text}");
        assert_eq!(error.to_string(), "too_old: too old; check the clock");
    }

    #[test]
    fn the_response_has_status_retry_after_and_a_valid_body_even_without_the_layer() {
        let response = HttpError::new(ErrorCode::Unavailable, "later").retry_after(Duration::from_secs(60));
        let response = response.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "60");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert!(response.extensions().get::<HttpError>().is_some());
    }

    #[test]
    fn only_short_visible_ascii_request_ids_are_usable() {
        let usable = |s: &[u8]| HeaderValue::from_bytes(s).map(|v| is_usable_request_id(&v)).unwrap_or(false);
        assert!(usable(b"f93ecfa8-d08a-4325-8694-89aeb89c8f85"));
        assert!(usable(b"req_42/a.b:c"));
        assert!(usable("x".repeat(MAX_REQUEST_ID_LEN).as_bytes()));
        assert!(!usable("x".repeat(MAX_REQUEST_ID_LEN + 1).as_bytes()));
        assert!(!usable(b""));
        assert!(!usable(b"with space"));
        assert!(!usable(b"tab\there"));
        assert!(!usable("caf\u{e9}".as_bytes()));
        assert!(!usable(b"del\x7f"));
    }
}
