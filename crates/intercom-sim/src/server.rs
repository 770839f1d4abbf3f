//! The HTTP server: a hyper accept loop (so a fault can really drop a connection, and shutdown is
//! graceful), `/_sim/*` control routes through axum, and the Intercom API pipeline:
//! faults → route → auth → rate limit → version → handler → webhooks.
//!
//! Injected 502 and 504 answers carry a small HTML body, as a load balancer in front of Intercom
//! would send, so clients are tested against non-JSON error bodies too; 500 and 503 carry Intercom's
//! `error.list`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use bytes::Bytes;
use futures::stream;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tower::ServiceExt;

use crate::api::{Ctx, Version};
use crate::errors::ApiError;
use crate::faults::{self, FaultAction};
use crate::ratelimit::{self, Admission, BucketReading};
use crate::routes;
use crate::state::SimState;
use crate::webhooks;

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How long a graceful shutdown waits for open connections before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Lets a request handler close its own connection (the `drop` fault).
#[derive(Debug, Clone)]
pub struct ConnControl {
    drop: Arc<Notify>,
}

/// Runs the accept loop until `shutdown` flips, then drains connections.
pub async fn serve(
    listener: TcpListener,
    sim: Arc<SimState>,
    control: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, _peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and similar: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small responses on keep-alive connections must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let sim = sim.clone();
        let control = control.clone();
        let mut shutdown = shutdown.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            let ctrl = ConnControl { drop: Arc::new(Notify::new()) };
            let dropper = ctrl.drop.clone();
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                let sim = sim.clone();
                let control = control.clone();
                req.extensions_mut().insert(ctrl.clone());
                async move {
                    let response = if req.uri().path().starts_with("/_sim") {
                        match control.oneshot(req.map(Body::new)).await {
                            Ok(r) => r,
                            Err(never) => match never {},
                        }
                    } else {
                        handle_api(sim, req).await
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let mut draining = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    // Dropping the connection future closes the socket with no answer.
                    _ = dropper.notified() => break,
                    // A closed channel means the simulator is gone: drain just the same.
                    _ = shutdown.changed(), if !draining => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(done);
        });
    }
    drop(listener);
    drop(done_tx);
    // Every connection task holds a sender; recv() yields None once all of them have finished.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, done_rx.recv()).await;
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

fn error_response(err: &ApiError, request_id: &str) -> Response<Body> {
    let body = serde_json::to_vec(&err.body(request_id)).unwrap_or_default();
    let mut r = json_response(err.status, body);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        r.headers_mut().insert("x-request-id", v);
    }
    for (name, value) in &err.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            r.headers_mut().insert(*name, v);
        }
    }
    r
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn rate_headers(headers: &mut HeaderMap, r: BucketReading) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(r.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(r.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(r.reset));
}

/// Parses an `Intercom-Version` value into a known version.
pub fn parse_version(raw: &str) -> Option<Version> {
    match raw.trim() {
        "Preview" | "Unstable" => Some((2, u16::MAX)),
        v => {
            let (major, minor) = v.split_once('.')?;
            let version = (major.parse().ok()?, minor.parse().ok()?);
            match version {
                (1, 0..=4) | (2, 0..=17) => Some(version),
                _ => None,
            }
        }
    }
}

fn injected_failure(status: u16, request_id: &str) -> Response<Body> {
    match status {
        502 | 504 => {
            let (code, text) = if status == 502 { (502, "Bad Gateway") } else { (504, "Gateway Time-out") };
            let mut r = Response::new(Body::from(format!(
                "<html><head><title>{code} {text}</title></head><body><center><h1>{code} {text}</h1></center></body></html>\n"
            )));
            *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            r.headers_mut().insert("content-type", HeaderValue::from_static("text/html"));
            r
        }
        503 => error_response(
            &ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "Service Unavailable"),
            request_id,
        ),
        _ => error_response(
            &ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Server Error"),
            request_id,
        ),
    }
}

/// Answers with the headers and half the body, then fails the body so the connection is cut.
async fn truncate(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.insert("content-length", HeaderValue::from(bytes.len()));
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        vec![Ok(half), Err(std::io::Error::other("simulated truncated body"))];
    Response::from_parts(parts, Body::from_stream(stream::iter(chunks)))
}

fn accepts_json(headers: &HeaderMap) -> bool {
    match headers.get("accept").and_then(|v| v.to_str().ok()) {
        None => true,
        Some(accept) => accept.split(',').any(|t| {
            let t = t.split(';').next().unwrap_or("").trim();
            t.is_empty() || t == "*/*" || t == "application/*" || t == "application/json"
        }),
    }
}

/// The Intercom API pipeline for one request.
pub async fn handle_api(sim: Arc<SimState>, req: Request<Incoming>) -> Response<Body> {
    let resolved = routes::resolve(req.method(), req.uri().path());
    let template = resolved.as_ref().map(|r| r.0).unwrap_or("unmatched");

    // Faults come first: a failing front end answers before it knows who is asking.
    let header_actions = match req.headers().get("x-sim-fault").map(|v| v.to_str().unwrap_or("")) {
        None => Vec::new(),
        Some(value) => match faults::parse_header(value) {
            Ok(actions) => actions,
            Err(e) => {
                let err = ApiError::invalid(format!("X-Sim-Fault: {e}"));
                sim.stats.record(template, 400);
                return error_response(&err, &new_request_id());
            }
        },
    };
    let decision = sim.faults.decide(sim.clock.now_millis(), &header_actions);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let mut truncate_body = false;
    match decision.failure {
        Some(FaultAction::Status(status)) => {
            sim.stats.record(template, status);
            return injected_failure(status, &new_request_id());
        }
        Some(FaultAction::Drop) => {
            sim.stats.record(template, 0);
            if let Some(ctrl) = req.extensions().get::<ConnControl>() {
                ctrl.drop.notify_one();
            }
            // The connection task drops this future together with the connection.
            return std::future::pending().await;
        }
        Some(FaultAction::Truncate) => truncate_body = true,
        Some(FaultAction::Latency { .. }) | None => {}
    }

    let response = authenticated(&sim, req, resolved, template).await;
    if truncate_body { truncate(response).await } else { response }
}

async fn authenticated(
    sim: &Arc<SimState>,
    req: Request<Incoming>,
    resolved: Option<(&'static str, routes::Route)>,
    template: &'static str,
) -> Response<Body> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let Some(app) = token.and_then(|t| sim.apps_by_token.get(t)) else {
        sim.stats.record(template, 401);
        return error_response(&ApiError::unauthorized(), &new_request_id());
    };
    let app = app.clone();

    let now_secs = sim.clock.now_secs();
    let reading = match ratelimit::admit(&app.bucket, &app.workspace.bucket, now_secs) {
        Admission::Allowed(r) => r,
        Admission::Limited(r) => {
            sim.stats.record(template, 429);
            let err = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                format!("Exceeded rate limit of {} in 10_seconds", r.limit),
            );
            let mut resp = error_response(&err, &new_request_id());
            rate_headers(resp.headers_mut(), BucketReading { remaining: 0, ..r });
            return resp;
        }
    };

    let result = pipeline(sim, &app, req, resolved).await;
    let mut resp = match result {
        Ok(resp) => resp,
        Err(err) => error_response(&err, &new_request_id()),
    };
    sim.stats.record(template, resp.status().as_u16());
    rate_headers(resp.headers_mut(), reading);
    resp
}

async fn pipeline(
    sim: &Arc<SimState>,
    app: &Arc<crate::state::App>,
    req: Request<Incoming>,
    resolved: Option<(&'static str, routes::Route)>,
) -> Result<Response<Body>, ApiError> {
    let version = match req.headers().get("intercom-version") {
        None => parse_version(&sim.default_version).unwrap_or((2, 14)),
        Some(v) => {
            let raw = v.to_str().unwrap_or("");
            parse_version(raw).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "intercom_version_invalid",
                    format!(
                        "Intercom-Version '{raw}' is not a valid API version: use 2.0 to 2.17, or Preview"
                    ),
                )
            })?
        }
    };
    if !accepts_json(req.headers()) {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "unsupported",
            "The Accept header must allow application/json",
        ));
    }
    let Some((_, route)) = resolved else {
        return Err(ApiError::resource_not_found());
    };
    if version.0 < 2 && !routes::available_in_v1(&route) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "intercom_version_invalid",
            "Requested resource is not available in current API version",
        ));
    }
    let query = crate::input::parse_query(req.uri().query());
    let needs_body = matches!(*req.method(), Method::POST | Method::PUT);
    let body = if needs_body {
        Limited::new(req.into_body(), MAX_BODY_BYTES).collect().await.map(|c| c.to_bytes()).map_err(|_| {
            ApiError::invalid(format!("The request body is unreadable or larger than {MAX_BODY_BYTES} bytes"))
        })?
    } else {
        Bytes::new()
    };
    let mut ctx = Ctx {
        sim,
        app,
        now: sim.clock.now_secs() as i64,
        version,
        query,
        body: &body,
        wants_webhooks: sim.webhooks.has_subscribers(&app.workspace.id),
        notifications: Vec::new(),
    };
    let reply = routes::call(&route, &mut ctx)?;
    for (topic, item) in std::mem::take(&mut ctx.notifications) {
        webhooks::dispatch(sim, &app.workspace.id, None, &topic, item);
    }
    if reply.status == StatusCode::ACCEPTED && reply.body.is_empty() {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::ACCEPTED;
        return Ok(r);
    }
    Ok(json_response(reply.status, reply.body))
}
