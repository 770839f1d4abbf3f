//! The one error type of the client. Its [`ErrorKind`] says what to do; the rest says what
//! happened: HTTP status, Intercom's codes and messages, `request_id`, the rate-limit headers seen,
//! and how many attempts were made.
//!
//! `Display` never contains the token or a request body, and e-mail addresses that Intercom echoes
//! in messages are masked (raw messages stay available through [`Error::api_errors`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;

use crate::attributes::AttributeErrors;
pub use crate::models::ErrorItem;
use crate::models::ErrorList;
use crate::search::QueryError;

/// What went wrong, phrased as what the caller should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 401 or a `token_*` code: the token is invalid, revoked or missing. Fix or rotate the token.
    Unauthorized,
    /// 403: the token may not do this (scope or plan). Do not retry.
    Forbidden,
    /// 404, or 410 `contact_merged`: the object is gone; for a merge, see [`Error::merged_into`].
    NotFound,
    /// 409 (or `scroll_exists`): it already exists; for contacts see [`Error::existing_id`].
    Conflict,
    /// 400/405/406/422: Intercom rejected the request; see [`Error::field`] and the messages.
    Invalid,
    /// 429 after the retry budget: slow down (the pacer should prevent this).
    RateLimited,
    /// 5xx after the retry budget: Intercom is failing; try later.
    Server,
    /// No answer in time (or 408) after the retry budget.
    Timeout,
    /// The connection failed or broke.
    Transport,
    /// A non-idempotent write failed in a way that may or may not have applied it. Reconcile
    /// before trying again (for contacts: look the contact up by `external_id`).
    OutcomeUnknown,
    /// The search query is invalid; nothing was sent. See [`Error::query_error`].
    InvalidQuery,
    /// Custom attributes do not match the workspace's schema; nothing was sent.
    InvalidAttributes,
    /// A 2xx answer could not be decoded.
    Decode,
}

impl ErrorKind {
    /// Stable lowercase name, used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::InvalidQuery => "invalid_query",
            ErrorKind::InvalidAttributes => "invalid_attributes",
            ErrorKind::Decode => "decode",
        }
    }

    /// What the caller should do, in a few words.
    pub fn advice(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "check or rotate the access token",
            ErrorKind::Forbidden => "the token lacks the permission or the plan; do not retry",
            ErrorKind::NotFound => "the object does not exist (or was merged); do not retry",
            ErrorKind::Conflict => "the object already exists; use or update the existing one",
            ErrorKind::Invalid => "fix the request; do not retry it unchanged",
            ErrorKind::RateLimited => "rate limit still exceeded after retries; lower the request rate",
            ErrorKind::Server => "Intercom is failing; retry later",
            ErrorKind::Timeout => "no answer in time; retry later or raise the timeout",
            ErrorKind::Transport => "the connection failed; check the network and base URL",
            ErrorKind::OutcomeUnknown => {
                "the write may or may not have been applied; reconcile (e.g. look up by external_id) before retrying"
            }
            ErrorKind::InvalidQuery => "fix the search query; nothing was sent",
            ErrorKind::InvalidAttributes => {
                "fix the custom attributes or create them first; nothing was sent"
            }
            ErrorKind::Decode => "the answer did not match the expected shape; report it",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-RateLimit-Limit`: requests allowed per window.
    pub limit: u32,
    /// `X-RateLimit-Remaining`: requests left in the current window.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: epoch seconds at which the window resets.
    pub reset: u64,
}

impl RateLimit {
    /// Reads the three headers; `None` unless all are present and numeric (they are absent on 401).
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        Some(Self {
            limit: u32::try_from(num("x-ratelimit-limit")?).ok()?,
            remaining: u32::try_from(num("x-ratelimit-remaining")?).ok()?,
            reset: num("x-ratelimit-reset")?,
        })
    }
}

/// Why a request failed, with everything known about it. Cheap to clone.
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    kind: Option<ErrorKind>,
    cause: Option<ErrorKind>,
    method: Option<String>,
    endpoint: Option<String>,
    status: Option<u16>,
    request_id: Option<String>,
    errors: Vec<ErrorItem>,
    rate_limit: Option<RateLimit>,
    retry_after: Option<Duration>,
    merged_into: Option<String>,
    existing_id: Option<String>,
    attempts: u32,
    connect: bool,
    detail: Option<String>,
    query: Option<QueryError>,
    attributes: Option<AttributeErrors>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    fn build(kind: ErrorKind, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner { kind: Some(kind), ..Inner::default() };
        f(&mut inner);
        Self { inner: Arc::new(inner) }
    }

    fn edit(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => shared.duplicate(),
        };
        f(&mut inner);
        Self { inner: Arc::new(inner) }
    }

    /// Classifies a non-2xx answer received at `now` (what an HTTP-date `Retry-After` is counted from).
    pub(crate) fn from_response(status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Self {
        let list: ErrorList = serde_json::from_slice(body).unwrap_or_default();
        let codes: Vec<&str> = list.errors.iter().map(|e| e.code.as_str()).collect();
        let has = |c: &str| codes.contains(&c);
        let token_code = codes.iter().any(|c| c.starts_with("token_") || *c == "missing_authorization");
        let kind = match status {
            401 => ErrorKind::Unauthorized,
            _ if token_code || has("unauthorized") => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 | 410 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            _ if has("scroll_exists") => ErrorKind::Conflict,
            408 => ErrorKind::Timeout,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::Invalid,
        };
        let request_id = list
            .request_id
            .clone()
            .or_else(|| headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string));
        let merged_into = if status == 410 || has("contact_merged") { canonical_id(headers) } else { None };
        let existing_id = if kind == ErrorKind::Conflict {
            list.errors.iter().find_map(|e| e.message.as_deref().and_then(id_after_equals))
        } else {
            None
        };
        Self::build(kind, |i| {
            i.status = Some(status);
            i.request_id = request_id;
            i.rate_limit = RateLimit::from_headers(headers);
            i.retry_after = retry_after(headers, now);
            i.merged_into = merged_into;
            i.existing_id = existing_id;
            i.errors = list.errors;
        })
    }

    /// A request that got no usable answer.
    pub(crate) fn from_transport(e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Transport };
        // `is_connect` means no connection was established, so the server never saw the request.
        let connect = e.is_connect();
        Self::build(kind, |i| {
            i.connect = connect;
            i.detail = Some(describe_transport(&e));
            i.source = Some(Arc::new(e));
        })
    }

    /// A 2xx answer that did not decode.
    pub(crate) fn decode(e: serde_json::Error, status: u16) -> Self {
        Self::build(ErrorKind::Decode, |i| {
            i.status = Some(status);
            i.detail = Some(format!("unexpected response shape: {e}"));
            i.source = Some(Arc::new(e));
        })
    }

    /// A client-side failure that is not about the server (bad URL, bad header value).
    pub(crate) fn local(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self::build(kind, |i| i.detail = Some(detail.into()))
    }

    /// A search query that failed validation; nothing was sent.
    pub(crate) fn invalid_query(e: QueryError) -> Self {
        Self::build(ErrorKind::InvalidQuery, |i| i.query = Some(e))
    }

    /// Custom attributes that failed validation; nothing was sent.
    pub(crate) fn invalid_attributes(e: AttributeErrors) -> Self {
        Self::build(ErrorKind::InvalidAttributes, |i| i.attributes = Some(e))
    }

    /// Records which request this was and how many attempts it took.
    pub(crate) fn with_request(self, method: &str, endpoint: &str, attempts: u32) -> Self {
        self.edit(|i| {
            i.method = Some(method.to_string());
            i.endpoint = Some(endpoint.to_string());
            i.attempts = attempts;
        })
    }

    /// Turns this failure of a non-idempotent write into "outcome unknown", keeping the cause.
    pub(crate) fn into_outcome_unknown(self) -> Self {
        self.edit(|i| {
            i.cause = i.kind;
            i.kind = Some(ErrorKind::OutcomeUnknown);
        })
    }

    /// What to do about it.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind.unwrap_or(ErrorKind::Transport)
    }

    /// For [`ErrorKind::OutcomeUnknown`]: the failure behind it (`Server`, `Timeout`, `Transport`).
    pub fn cause_kind(&self) -> Option<ErrorKind> {
        self.inner.cause
    }

    /// The HTTP status, when an answer arrived.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// Intercom's `request_id` (quote it to Intercom support).
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// Intercom's error codes, e.g. `["parameter_invalid"]`.
    pub fn codes(&self) -> Vec<&str> {
        self.inner.errors.iter().map(|e| e.code.as_str()).collect()
    }

    /// Intercom's errors as sent (messages unmasked: they may contain e-mail addresses).
    pub fn api_errors(&self) -> &[ErrorItem] {
        &self.inner.errors
    }

    /// The first request field Intercom named as wrong.
    pub fn field(&self) -> Option<&str> {
        self.inner.errors.iter().find_map(|e| e.field.as_deref())
    }

    /// The rate-limit headers of the last answer.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.inner.rate_limit
    }

    /// The `Retry-After` header of the last answer.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// For a 410 `contact_merged`: the id of the contact it was merged into (from the `Link` header).
    pub fn merged_into(&self) -> Option<&str> {
        self.inner.merged_into.as_deref()
    }

    /// For a 409 on contact create: the id of the contact that already exists.
    pub fn existing_id(&self) -> Option<&str> {
        self.inner.existing_id.as_deref()
    }

    /// How many attempts were made (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// The endpoint template, e.g. `GET /contacts/{id}`.
    pub fn endpoint(&self) -> Option<String> {
        match (&self.inner.method, &self.inner.endpoint) {
            (Some(m), Some(e)) => Some(format!("{m} {e}")),
            _ => None,
        }
    }

    /// For [`ErrorKind::InvalidQuery`]: the offending filter and why.
    pub fn query_error(&self) -> Option<&QueryError> {
        self.inner.query.as_ref()
    }

    /// For [`ErrorKind::InvalidAttributes`]: every problem found.
    pub fn attribute_errors(&self) -> Option<&AttributeErrors> {
        self.inner.attributes.as_ref()
    }

    /// True when the request provably did not take effect at Intercom (nothing sent, no connection,
    /// 429, or 503), so sending it again cannot duplicate it.
    pub fn provably_not_applied(&self) -> bool {
        match self.kind() {
            ErrorKind::InvalidQuery | ErrorKind::InvalidAttributes => true,
            ErrorKind::RateLimited => true,
            ErrorKind::Server => self.inner.status == Some(503),
            ErrorKind::Transport => self.inner.connect,
            _ => false,
        }
    }

    /// True for failures worth retrying for an idempotent request (429, 408, 5xx, timeouts,
    /// connection failures).
    pub fn is_transient(&self) -> bool {
        match self.kind() {
            ErrorKind::RateLimited | ErrorKind::Timeout | ErrorKind::Transport => true,
            ErrorKind::Server => matches!(self.inner.status, Some(500 | 502 | 503 | 504)),
            _ => false,
        }
    }
}

impl Inner {
    fn duplicate(&self) -> Self {
        Self {
            kind: self.kind,
            cause: self.cause,
            method: self.method.clone(),
            endpoint: self.endpoint.clone(),
            status: self.status,
            request_id: self.request_id.clone(),
            errors: self.errors.clone(),
            rate_limit: self.rate_limit,
            retry_after: self.retry_after,
            merged_into: self.merged_into.clone(),
            existing_id: self.existing_id.clone(),
            attempts: self.attempts,
            connect: self.connect,
            detail: self.detail.clone(),
            query: self.query.clone(),
            attributes: self.attributes.clone(),
            source: self.source.clone(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        if let Some(endpoint) = self.endpoint() {
            write!(f, "{endpoint}: ")?;
        }
        match (self.kind(), i.cause) {
            (ErrorKind::OutcomeUnknown, Some(cause)) => write!(f, "outcome unknown after {cause}")?,
            (kind, _) => write!(f, "{kind}")?,
        }
        if let Some(status) = i.status {
            write!(f, " (HTTP {status})")?;
        }
        for e in &i.errors {
            write!(f, "; {}", e.code)?;
            if let Some(message) = &e.message {
                write!(f, ": {}", mask_emails(message))?;
            }
            if let Some(field) = &e.field {
                write!(f, " [field {field}]")?;
            }
        }
        if let Some(q) = &i.query {
            write!(f, "; {q}")?;
        }
        if let Some(a) = &i.attributes {
            write!(f, "; {a}")?;
        }
        let labelled = [
            ("", &i.detail),
            ("merged into ", &i.merged_into),
            ("existing id ", &i.existing_id),
            ("request_id ", &i.request_id),
        ];
        for (label, value) in labelled {
            if let Some(value) = value {
                write!(f, "; {label}{value}")?;
            }
        }
        if i.attempts > 1 {
            write!(f, "; after {} attempts", i.attempts)?;
        }
        write!(f, " ({})", self.kind().advice())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Error")
            .field("kind", &self.kind())
            .field("cause", &i.cause)
            .field("endpoint", &self.endpoint())
            .field("status", &i.status)
            .field("codes", &self.codes())
            .field("request_id", &i.request_id)
            .field("rate_limit", &i.rate_limit)
            .field("attempts", &i.attempts)
            .field("display", &self.to_string())
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Reqwest's own message, minus the URL (which is ours and carries ids but never the token).
fn describe_transport(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response body broke off"
    } else if e.is_request() {
        "the request failed"
    } else {
        "transport error"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() { what.to_string() } else { format!("{what}: {cause}") }
}

/// `Retry-After` as seconds or an HTTP date (a wait until then, counted from `now`).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let raw = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (at - time::OffsetDateTime::from(now)).whole_milliseconds().max(0) as u64;
    Some(Duration::from_millis(secs))
}

/// The canonical contact id from `Link: </contacts/{id}>; rel="canonical"`.
fn canonical_id(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all("link") {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let mut parts = link.split(';');
            let target = parts.next()?.trim();
            let canonical = parts.any(|p| {
                let p = p.trim().to_ascii_lowercase();
                p == "rel=\"canonical\"" || p == "rel=canonical"
            });
            if !canonical {
                continue;
            }
            let target = target.trim_start_matches('<').trim_end_matches('>');
            let path = target.split('?').next().unwrap_or(target);
            if let Some(id) = path.trim_end_matches('/').rsplit('/').next().filter(|s| !s.is_empty()) {
                return Some(id.to_string());
            }
        }
    }
    None
}

/// The id in "… already exists with id=<id>".
fn id_after_equals(message: &str) -> Option<String> {
    let start = message.find("id=")? + 3;
    let id: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// Replaces anything shaped like an e-mail address with `<email>`, so messages that echo input
/// (e.g. "'a@b.c' is not a valid email address") do not leak PII into logs.
pub(crate) fn mask_emails(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (n, word) in text.split(' ').enumerate() {
        if n > 0 {
            out.push(' ');
        }
        let core = word.trim_matches(|c: char| !c.is_alphanumeric());
        if core.contains('@') && core.split('@').all(|p| !p.is_empty()) {
            out.push_str(&word.replace(core, "<email>"));
        } else {
            out.push_str(word);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("valid header"));
        }
        h
    }

    #[test]
    fn merged_contact_names_the_canonical_id() {
        let h = headers(&[("link", "</contacts/6571abc>; rel=\"canonical\"")]);
        let body = br#"{"type":"error.list","request_id":"r1","errors":[{"code":"contact_merged","message":"Contact was merged"}]}"#;
        let e = Error::from_response(410, &h, body, SystemTime::UNIX_EPOCH);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.merged_into(), Some("6571abc"));
        assert_eq!(e.request_id(), Some("r1"));
    }

    #[test]
    fn display_appends_the_ids_it_knows_in_order() {
        let h = headers(&[("link", "</contacts/6571abc>; rel=\"canonical\"")]);
        let body = br#"{"type":"error.list","request_id":"r1","errors":[{"code":"contact_merged","message":"Contact was merged"}]}"#;
        let shown = Error::from_response(410, &h, body, SystemTime::UNIX_EPOCH).to_string();
        assert!(
            shown.contains("; contact_merged: Contact was merged; merged into 6571abc; request_id r1 ("),
            "{shown}"
        );
        let body =
            br#"{"type":"error.list","errors":[{"code":"conflict","message":"exists with id=65f0aa"}]}"#;
        let shown = Error::from_response(409, &HeaderMap::new(), body, SystemTime::UNIX_EPOCH).to_string();
        assert!(shown.contains("; conflict: exists with id=65f0aa; existing id 65f0aa ("), "{shown}");
    }

    #[test]
    fn conflict_names_the_existing_contact() {
        let body = br#"{"type":"error.list","errors":[{"code":"conflict","message":"A contact matching those details already exists with id=65f0aa"}]}"#;
        let e = Error::from_response(409, &HeaderMap::new(), body, SystemTime::UNIX_EPOCH);
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(e.existing_id(), Some("65f0aa"));
    }

    #[test]
    fn display_masks_emails_and_reads_rate_limits() {
        let h = headers(&[
            ("x-ratelimit-limit", "167"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000010"),
        ]);
        let body = br#"{"type":"error.list","errors":[{"code":"parameter_invalid","message":"'jane@example.com' is not a valid email address","field":"email"}]}"#;
        let e =
            Error::from_response(400, &h, body, SystemTime::UNIX_EPOCH).with_request("POST", "/contacts", 1);
        let shown = e.to_string();
        assert!(!shown.contains("jane@example.com"), "{shown}");
        assert!(shown.contains("POST /contacts") && shown.contains("[field email]"), "{shown}");
        assert_eq!(e.field(), Some("email"));
        assert_eq!(e.rate_limit(), Some(RateLimit { limit: 167, remaining: 0, reset: 1_700_000_010 }));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_counted_from_the_time_of_the_answer() {
        // Wed, 21 Oct 2015 07:27:00 GMT
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_420);
        let at = |value: &str| retry_after(&headers(&[("retry-after", value)]), now);
        assert_eq!(at("7"), Some(Duration::from_secs(7)));
        assert_eq!(at("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::from_secs(60)));
        assert_eq!(at("Wed, 21 Oct 2015 07:26:00 GMT"), Some(Duration::ZERO), "a date in the past: no wait");
        assert_eq!(at("soon"), None);
    }

    #[test]
    fn token_codes_mean_unauthorized_and_html_bodies_still_classify() {
        let body = br#"{"type":"error.list","errors":[{"code":"token_revoked"}]}"#;
        assert_eq!(
            Error::from_response(403, &HeaderMap::new(), body, SystemTime::UNIX_EPOCH).kind(),
            ErrorKind::Unauthorized
        );
        let e =
            Error::from_response(502, &HeaderMap::new(), b"<html>Bad Gateway</html>", SystemTime::UNIX_EPOCH);
        assert_eq!(e.kind(), ErrorKind::Server);
        assert!(e.is_transient() && !e.provably_not_applied());
        assert!(
            Error::from_response(503, &HeaderMap::new(), b"", SystemTime::UNIX_EPOCH).provably_not_applied()
        );
    }
}
