//! `POST/HEAD {webhooks.path}[/{app}]`: where Intercom delivers notifications.
//!
//! The order of checks is the security and durability contract: size limit, then the signature
//! over the raw bytes (nothing unverified is parsed or stored), then the envelope, then the age
//! (replay protection: a `created_at` is required, no older than `webhooks.max_event_age` and no
//! further ahead than `webhooks.max_clock_skew`), then a durable insert bounded by
//! `webhooks.ack_deadline`. Only an insert that committed gets a 2xx (invariant 1); anything else
//! gets a status that makes Intercom retry.
//!
//! A refused signature is counted exactly (`webhook_verification_failures_total`) but logged at most
//! once per [`SIGNATURE_WARN_EVERY`] per app and reason, with how many were left unlogged: anyone can
//! send bad signatures, and a WARN line for each would let them flood the log; keyed by reason too,
//! so that a flood of one kind (`missing`) cannot hide another (`mismatch`). A notification refused
//! for its date (`too_old`, `too_new`) is logged the same way: it is usually this server's clock that
//! is wrong, and Intercom gives up on a webhook refused for long enough.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use switchboard_clock::SharedClock;
use tokio::sync::Notify;

use super::signature::{self, SignatureError};
use crate::delivery::Routing;
use crate::http_error::{ErrorCode, HttpError};
use crate::logging::WarnSampler;
use crate::secrets::Secret;
use crate::store::{self, InsertOutcome, NewEvent, Store};
use crate::telemetry::names;

/// The name of the app served at the bare `webhooks.path`.
pub const DEFAULT_APP: &str = "default";
/// How long a 503 asks Intercom to wait; Intercom retries after about a minute anyway.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// At most one WARN line per app and reason about refused signatures in this long; the rest are counted.
pub const SIGNATURE_WARN_EVERY: Duration = Duration::from_secs(10);
/// At most one WARN line per app and reason about notifications refused for their date
/// (`too_old`, `too_new`) in this long; `webhooks_refused_total` counts them all.
pub const CLOCK_WARN_EVERY: Duration = Duration::from_secs(60);

/// One Intercom app accepted by the ingress.
#[derive(Debug, Clone)]
pub struct IngressApp {
    /// The app's name (`default` for the bare path).
    pub name: String,
    /// Active client secrets (two during a rotation).
    pub client_secrets: Vec<Secret>,
}

/// What the ingress needs, shared by every request.
#[derive(Debug, Clone)]
pub struct Ingress {
    inner: Arc<IngressInner>,
}

#[derive(Debug)]
struct IngressInner {
    apps: Vec<IngressApp>,
    routing: Routing,
    store: Arc<dyn Store>,
    max_body: usize,
    max_event_age: Duration,
    max_clock_skew: Duration,
    ack_deadline: Duration,
    stored: Arc<Notify>,
    clock: SharedClock,
    /// Keyed by app and reason.
    signature_warnings: WarnSampler<(String, &'static str)>,
    /// Keyed by app and reason (`too_old`, `too_new`).
    clock_warnings: WarnSampler<(String, &'static str)>,
    /// Refusals because the store failed: during a full disk that is every webhook, so they are
    /// sampled like bad signatures (the store logs its own failure and recovery).
    store_errors: WarnSampler<&'static str>,
}

impl Ingress {
    /// An ingress for `apps` that stores into `store`, with the destinations `routing` names for
    /// each event's topic, and wakes `stored` after each new event. `clock` is what notification
    /// ages are checked against and `received_at` is stamped with.
    pub fn new(
        apps: Vec<IngressApp>,
        routing: Routing,
        store: Arc<dyn Store>,
        limits: IngressLimits,
        stored: Arc<Notify>,
        clock: SharedClock,
    ) -> Self {
        Ingress {
            inner: Arc::new(IngressInner {
                apps,
                routing,
                store,
                max_body: limits.max_body,
                max_event_age: limits.max_event_age,
                max_clock_skew: limits.max_clock_skew,
                ack_deadline: limits.ack_deadline,
                stored,
                clock,
                signature_warnings: WarnSampler::new(SIGNATURE_WARN_EVERY),
                clock_warnings: WarnSampler::new(CLOCK_WARN_EVERY),
                store_errors: WarnSampler::new(SIGNATURE_WARN_EVERY),
            }),
        }
    }

    /// The app served at `name`, or the 404 for a path no app is configured at.
    fn app(&self, name: &str) -> Result<&IngressApp, HttpError> {
        self.inner.apps.iter().find(|a| a.name == name).ok_or_else(|| {
            HttpError::new(
                ErrorCode::UnknownApp,
                "no Intercom app is configured at this path; check webhooks.path and [[webhooks.apps]]",
            )
        })
    }
}

/// The ingress's limits, from `[webhooks]`.
#[derive(Debug, Clone, Copy)]
pub struct IngressLimits {
    /// Largest body accepted.
    pub max_body: usize,
    /// Oldest `created_at` accepted.
    pub max_event_age: Duration,
    /// How far in the future a `created_at` may be (the sender's clock running ahead of ours).
    pub max_clock_skew: Duration,
    /// Longest wait for a durable commit.
    pub ack_deadline: Duration,
}

/// The fields the ingress reads; everything else is stored as received.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    topic: Option<Cow<'a, str>>,
    created_at: Option<i64>,
}

/// The ingress routes: `POST`/`HEAD` at `path` (the default app) and at `path/{app}`.
pub fn routes(path: &str, ingress: Ingress) -> axum::Router {
    use axum::routing::post;
    let path = path.trim_end_matches('/');
    axum::Router::new()
        .route(path, post(receive_default).head(head_default))
        .route(&format!("{path}/{{app}}"), post(receive_named).head(head_named))
        .with_state(ingress)
}

/// `HEAD {webhooks.path}`: Intercom validates the URL with it before it saves a subscription. The
/// default app is always configured.
pub async fn head_default() -> StatusCode {
    StatusCode::OK
}

/// `HEAD {webhooks.path}/{app}`: 200 for a configured app, 404 otherwise, as `POST` would answer,
/// so that a subscription cannot be saved at a path that will refuse every notification.
pub async fn head_named(
    State(ingress): State<Ingress>,
    app: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, HttpError> {
    let Path(app) = app?;
    ingress.app(&app)?;
    Ok(StatusCode::OK)
}

/// `POST {webhooks.path}`: the default app.
pub async fn receive_default(
    State(ingress): State<Ingress>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    receive(&ingress, DEFAULT_APP, &headers, body).await
}

/// `POST {webhooks.path}/{app}`: a named app.
pub async fn receive_named(
    State(ingress): State<Ingress>,
    app: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    // A segment that does not decode (`%FF`) is refused as wave 1 refused it (400), in the envelope.
    let Path(app) = app?;
    receive(&ingress, &app, &headers, body).await
}

async fn receive(
    ingress: &Ingress,
    app_name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, HttpError> {
    let started = Instant::now();
    let inner = &ingress.inner;
    let app = ingress.app(app_name)?;
    let too_large = || {
        metrics::counter!(names::WEBHOOKS_REFUSED, "reason" => "too_large").increment(1);
        HttpError::new(
            ErrorCode::BodyTooLarge,
            format!("the body is over webhooks.max_body ({} bytes)", inner.max_body),
        )
    };
    // Refused before a byte of the body is read: a declared length over the limit would only
    // hold the connection (and memory) while it arrives.
    if declared_length(headers).is_some_and(|length| length > inner.max_body as u64) {
        return Err(too_large());
    }
    let body: Bytes = match axum::body::to_bytes(body, inner.max_body).await {
        Ok(body) => body,
        Err(e) if is_timeout(&e) => {
            metrics::counter!(names::WEBHOOKS_REFUSED, "reason" => "timeout").increment(1);
            return Err(HttpError::new(
                ErrorCode::RequestTimeout,
                "the body did not arrive within server.body_timeout; nothing was stored",
            ));
        }
        Err(_) => return Err(too_large()),
    };
    let verified =
        single_signature(headers).and_then(|header| signature::verify(header, &body, &app.client_secrets));
    if let Err(e) = verified {
        metrics::counter!(names::WEBHOOK_VERIFICATION_FAILURES, "reason" => e.reason()).increment(1);
        let key = (app.name.clone(), e.reason());
        if let Some(suppressed) = inner.signature_warnings.admit(key, inner.clock.as_ref()) {
            tracing::warn!(
                app = app_name,
                reason = e.reason(),
                suppressed,
                "webhook refused: {e} (at most one such line per app and reason every {}; {suppressed} \
                 more refused since the last one; webhook_verification_failures_total counts them all)",
                humantime::format_duration(SIGNATURE_WARN_EVERY)
            );
        }
        return Err(HttpError::new(
            signature_code(e),
            format!("{e}; check that webhooks.client_secrets holds the app's current client secret"),
        ));
    }
    // JSON is UTF-8 (RFC 8259), and the parser skips the fields it does not read without checking them.
    let parsed = std::str::from_utf8(&body)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(text).map_err(|e| e.to_string()));
    let envelope: Envelope<'_> = match parsed {
        Ok(envelope) => envelope,
        Err(e) => {
            return Err(refuse(ErrorCode::InvalidJson, format!("the body is not a JSON notification: {e}")));
        }
    };
    let (Some(id), Some(topic)) = (envelope.id, envelope.topic) else {
        return Err(refuse(ErrorCode::MissingFields, "the notification has no \"id\" or no \"topic\""));
    };
    if id.is_empty() || topic.is_empty() {
        return Err(refuse(ErrorCode::MissingFields, "the notification's \"id\" or \"topic\" is empty"));
    }
    let now = store::now_millis(inner.clock.as_ref());
    let Some(created_at) = envelope.created_at else {
        // Without it no age can be checked, and the age is the only replay guard once retention
        // has dropped the deduplication key.
        return Err(refuse(
            ErrorCode::MissingFields,
            "the notification has no \"created_at\"; it is required so that a captured request cannot be \
             replayed",
        ));
    };
    let age = (now / 1000).saturating_sub(created_at);
    if age > i64::try_from(inner.max_event_age.as_secs()).unwrap_or(i64::MAX) {
        warn_clock_refusal(inner, app_name, ErrorCode::TooOld, age);
        return Err(refuse(
            ErrorCode::TooOld,
            format!(
                "the notification was created {} ago, beyond webhooks.max_event_age ({}); \
                 refused so that an old captured request cannot be replayed",
                humantime::format_duration(Duration::from_secs(age.unsigned_abs())),
                humantime::format_duration(inner.max_event_age)
            ),
        ));
    }
    // A created_at far ahead would stay "young" for as long as it likes: a replay window of its own.
    if age < 0 && age.unsigned_abs() > inner.max_clock_skew.as_secs() {
        warn_clock_refusal(inner, app_name, ErrorCode::TooNew, age);
        return Err(refuse(
            ErrorCode::TooNew,
            format!(
                "the notification's created_at is {} in the future, beyond webhooks.max_clock_skew ({}); \
                 check this server's clock (NTP)",
                humantime::format_duration(Duration::from_secs(age.unsigned_abs())),
                humantime::format_duration(inner.max_clock_skew)
            ),
        ));
    }
    let event = NewEvent {
        app: app.name.clone(),
        notification_id: id.into_owned(),
        topic: topic.clone().into_owned(),
        destinations: inner.routing.destinations_for(&topic),
        created_at: Some(created_at),
        received_at: now,
        body: body.clone(),
    };
    let topic_label = metric_topic(&topic);
    // The deadline counts from the request's arrival: reading and verifying the body is part of
    // what Intercom waits for.
    let deadline = tokio::time::Instant::from_std(started) + inner.ack_deadline;
    let outcome = tokio::time::timeout_at(deadline, inner.store.insert_event(event)).await;
    let response = match outcome {
        Ok(Ok(InsertOutcome::Stored(_))) => {
            inner.stored.notify_one();
            metrics::counter!(names::WEBHOOKS_INGESTED, "topic" => topic_label, "result" => "stored")
                .increment(1);
            Ok((StatusCode::OK, Json(json!({ "status": "stored" }))).into_response())
        }
        Ok(Ok(InsertOutcome::Duplicate)) => {
            metrics::counter!(names::WEBHOOKS_INGESTED, "topic" => topic_label, "result" => "duplicate")
                .increment(1);
            Ok((StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response())
        }
        Ok(Err(e)) => {
            metrics::counter!(names::WEBHOOKS_INGESTED, "topic" => topic_label, "result" => "store_error")
                .increment(1);
            if let Some(suppressed) = inner.store_errors.admit("store", inner.clock.as_ref()) {
                tracing::error!(
                    error = %e,
                    suppressed,
                    "webhook not stored; answering 503 so Intercom retries (at most one such line every {}; \
                     {suppressed} more since the last one; webhooks_ingested_total{{result=\"store_error\"}} counts them all)",
                    humantime::format_duration(SIGNATURE_WARN_EVERY)
                );
            }
            Err(unavailable("the event store failed; Intercom will retry"))
        }
        Err(_) => {
            metrics::counter!(names::WEBHOOKS_INGESTED, "topic" => topic_label, "result" => "timeout")
                .increment(1);
            if let Some(suppressed) = inner.store_errors.admit("deadline", inner.clock.as_ref()) {
                tracing::error!(
                    deadline = %humantime::format_duration(inner.ack_deadline),
                    suppressed,
                    "webhook commit missed webhooks.ack_deadline; answering 503 so Intercom retries (at most \
                     one such line every {}; {suppressed} more since the last one)",
                    humantime::format_duration(SIGNATURE_WARN_EVERY)
                );
            }
            Err(unavailable("the event store did not commit in time; Intercom will retry"))
        }
    };
    metrics::histogram!(names::WEBHOOK_ACK_SECONDS).record(started.elapsed().as_secs_f64());
    response
}

/// Logs, sampled, a notification refused for its date. Intercom's clock is usually right, so a run
/// of these most often means that this server's clock is off (a `too_new` skew of minutes: ours is
/// behind), and every such webhook is lost once Intercom stops retrying. Names the app, the reason
/// and the skew, never the body.
fn warn_clock_refusal(inner: &IngressInner, app: &str, reason: ErrorCode, age: i64) {
    let reason = reason.as_str();
    if let Some(suppressed) = inner.clock_warnings.admit((app.to_owned(), reason), inner.clock.as_ref()) {
        // How far the notification's created_at is ahead of this server's clock (negative: behind).
        let skew_secs = age.saturating_neg();
        tracing::warn!(
            app,
            reason,
            skew_secs,
            suppressed,
            "webhook refused for its date: created_at is {skew_secs} s from this server's clock \
             (webhooks.max_event_age {}, webhooks.max_clock_skew {}); if this repeats, check this \
             server's clock (NTP). At most one such line per app and reason every {}; {suppressed} more \
             since the last one; webhooks_refused_total counts them all",
            humantime::format_duration(inner.max_event_age),
            humantime::format_duration(inner.max_clock_skew),
            humantime::format_duration(CLOCK_WARN_EVERY)
        );
    }
}

/// The request's `Content-Length`, when it has one that parses.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(axum::http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Whether reading the body failed on the listener's body deadline (`server.body_timeout`), which
/// fails the read with an `io::Error` of kind `TimedOut`.
fn is_timeout(error: &axum::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut) {
            return true;
        }
        current = error.source();
    }
    false
}

/// Topics are signed by Intercom, so they are trusted as labels, but bounded anyway: a label per
/// known prefix keeps the metric's cardinality fixed even if Intercom adds topics.
fn metric_topic(topic: &str) -> String {
    let mut parts = topic.splitn(3, '.');
    match (parts.next(), parts.next()) {
        (Some(first), Some(second)) if first.len() + second.len() < 40 => format!("{first}.{second}"),
        (Some(first), _) if first.len() < 40 => first.to_owned(),
        _ => "other".to_owned(),
    }
}

/// The code of a signature refusal: `signature_` and the verification-failure metric's reason.
fn signature_code(error: SignatureError) -> ErrorCode {
    match error {
        SignatureError::Missing => ErrorCode::SignatureMissing,
        SignatureError::Malformed => ErrorCode::SignatureMalformed,
        SignatureError::Mismatch => ErrorCode::SignatureMismatch,
        SignatureError::Repeated => ErrorCode::SignatureRepeated,
    }
}

/// The one `X-Hub-Signature` of the request. Several are refused rather than one of them picked:
/// a proxy or client that repeats the header is not sending what Intercom sends, and which copy a
/// hop in between reads is anyone's guess.
fn single_signature(headers: &HeaderMap) -> Result<Option<&str>, SignatureError> {
    let mut values = headers.get_all("x-hub-signature").iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        // A comma means a proxy folded several headers into one (RFC 9110 section 5.3): repeated too.
        (Some(value), None) if value.as_bytes().contains(&b',') => Err(SignatureError::Repeated),
        (Some(value), None) => value.to_str().map(Some).map_err(|_| SignatureError::Malformed),
        (Some(_), Some(_)) => Err(SignatureError::Repeated),
    }
}

/// A 400 for a verified but unusable notification, counted under its code.
fn refuse(kind: ErrorCode, message: impl Into<Cow<'static, str>>) -> HttpError {
    let code = kind.as_str();
    metrics::counter!(names::WEBHOOKS_REFUSED, "reason" => code.to_owned()).increment(1);
    HttpError::new(kind, message)
}

/// A 503 that makes Intercom retry: the event was not stored.
fn unavailable(message: &'static str) -> HttpError {
    HttpError::new(ErrorCode::Unavailable, message).retry_after(RETRY_AFTER)
}
