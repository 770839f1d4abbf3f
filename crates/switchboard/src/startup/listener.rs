//! Serving a router on a bound socket, plain or TLS, with what a listener on the public internet
//! needs against slow and greedy clients (docs/reliability.md, "Slow clients and connection limits"):
//!
//! - a header timeout: a client that does not finish a request's headers (or its TLS handshake)
//!   within `server.header_timeout` is disconnected; it also ends idle keep-alive connections;
//! - a body timeout: a request's body must arrive within `server.body_timeout` of its headers,
//!   else reading it fails, and the webhook ingress answers 408 without storing anything;
//! - a write timeout: a connection whose writes make no progress for `server.write_timeout` (a
//!   client that sends requests but never reads the answers) is closed. hyper's own timer only runs
//!   while it waits for a request head, so without this such a client would hold its slot forever;
//! - a request timeout: a request not answered within `server.request_timeout` of its headers
//!   (body included) is answered `503 timeout`, whatever its handler is waiting for;
//! - a connection cap: at most `server.max_connections` connections are served at once. Beyond it
//!   a few more are answered `503 overloaded` with `Retry-After` and closed, and the rest are closed
//!   at once, so that neither memory nor tasks grow with the number of clients;
//! - a body budget: request bodies in flight in the whole process reserve at most
//!   `server.max_inflight_body` bytes ([`BodyBudget`]); a request it cannot cover gets `503
//!   overloaded` at once, so memory held by bodies is bounded whatever the connection cap.
//!
//! Connections speak HTTP/1.1 only (TLS offers no `h2` in ALPN), one request at a time each.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use bytes::Bytes;
use hyper::body::{Body as _, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::Service as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::http_error::{self, ErrorCode, HttpError};
use crate::telemetry::names;

/// What a shed client is told to wait before it tries again.
const SHED_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Most connections being answered 503 at once; beyond, connections are closed unanswered. Each
/// costs a task and a small read buffer until its headers arrive or `header_timeout` passes.
const MAX_SHEDDING: usize = 64;
/// The read buffer of a connection being shed: enough for any sane request head.
const SHED_BUFFER: usize = 16 * 1024;

/// The slow-client limits of one listener (`[server]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `server.header_timeout`.
    pub(crate) header_timeout: Duration,
    /// `server.body_timeout`.
    pub(crate) body_timeout: Duration,
    /// `server.write_timeout`.
    pub(crate) write_timeout: Duration,
    /// `server.request_timeout`.
    pub(crate) request_timeout: Duration,
    /// `server.max_connections`.
    pub(crate) max_connections: usize,
}

/// Only HTTP/1.1 in ALPN, so a TLS client never negotiates HTTP/2 (see the module docs).
pub(crate) fn http1_only(tls: &RustlsConfig) -> RustlsConfig {
    let mut config = (*tls.get_inner()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    RustlsConfig::from_config(Arc::new(config))
}

/// How often, at most, shedding is logged: the counter has the exact figures, and a flood of
/// clients must not become a flood of log lines.
const SHED_LOG_EVERY: Duration = Duration::from_secs(60);

/// Serves `router` on `listener` (TLS when `tls` is set) under `limits` until `stop` turns true;
/// then stops accepting, lets each connection finish its request in flight, and returns once all
/// have closed. Dropping the future closes every connection at once. `name` labels its metrics.
pub(crate) async fn serve(
    name: &'static str,
    listener: TcpListener,
    tls: Option<RustlsConfig>,
    router: Router,
    limits: Limits,
    budget: BodyBudget,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tls.map(|tls| RustlsAcceptor::new(tls).handshake_timeout(limits.header_timeout));
    // Inside a (second) request-id layer, so that a timeout's envelope carries the request's id.
    let app = TowerToHyperService::new(http_error::with_request_ids(
        router.layer(axum::middleware::from_fn_with_state((limits, budget), request_limits)),
    ));
    let shed = TowerToHyperService::new(http_error::with_request_ids(Router::new().fallback(overloaded)));
    let serving = Arc::new(Semaphore::new(limits.max_connections));
    let shedding = Arc::new(Semaphore::new(MAX_SHEDDING));
    // Owned here, so that dropping this future (the shutdown timeout) aborts every connection.
    let mut connections = JoinSet::new();
    let mut last_warned: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = stopped(&mut stop) => break,
        };
        let acceptor = acceptor.clone();
        let stop = stop.clone();
        if let Ok(permit) = serving.clone().try_acquire_owned() {
            let app = app.clone();
            // The peer's address, where axum's `ConnectInfo` extractor finds it: the admin API
            // throttles failed authentications by it.
            let app = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.call(request)
            });
            connections.spawn(async move {
                let _permit = permit;
                let mut http = http1::Builder::new();
                http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
                connection(stream, acceptor, http, limits.write_timeout, app, stop).await;
            });
            continue;
        }
        if last_warned.is_none_or(|at| at.elapsed() >= SHED_LOG_EVERY) {
            last_warned = Some(Instant::now());
            tracing::warn!(
                listener = name,
                max_connections = limits.max_connections,
                "shedding connections over server.max_connections with 503; see http_connections_shed_total"
            );
        }
        if let Ok(permit) = shedding.clone().try_acquire_owned() {
            metrics::counter!(names::HTTP_CONNECTIONS_SHED, "listener" => name, "action" => "answered")
                .increment(1);
            let shed = shed.clone();
            connections.spawn(async move {
                let _permit = permit;
                let mut http = http1::Builder::new();
                http.timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .keep_alive(false)
                    .max_buf_size(SHED_BUFFER);
                connection(stream, acceptor, http, limits.write_timeout, shed, stop).await;
            });
        } else {
            // Over both bounds: closing at once is the only answer that costs nothing.
            metrics::counter!(names::HTTP_CONNECTIONS_SHED, "listener" => name, "action" => "closed")
                .increment(1);
            drop(stream);
        }
    }
    // No new connections from here on: the socket closes, and callers are refused by the OS.
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// One connection: the TLS handshake (within the header timeout) if any, then HTTP/1.1 until the
/// client or the server closes it, or its writes stall for `write_timeout`; on `stop`, the request
/// in flight finishes and the connection closes.
async fn connection<S>(
    stream: TcpStream,
    tls: Option<RustlsAcceptor>,
    http: http1::Builder,
    write_timeout: Duration,
    service: S,
    stop: watch::Receiver<bool>,
) where
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    // Below TLS, so that the handshake's writes and every encrypted record are watched too.
    let stream = Watchdog::new(stream, write_timeout);
    match tls {
        None => drive(stream, http, service, stop).await,
        Some(acceptor) => {
            // The acceptor gives up after `header_timeout` itself: a silent TLS client is a slow one.
            if let Ok((stream, ())) = acceptor.accept(stream, ()).await {
                drive(stream, http, service, stop).await;
            }
        }
    }
}

async fn drive<I, S>(io: I, http: http1::Builder, service: S, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let connection = http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    // Errors are the client's doing (a timeout, a reset, a malformed request); the connection
    // closes either way, and there is nobody to tell.
    tokio::select! {
        _ = connection.as_mut() => return,
        () = stopped(&mut stop) => connection.as_mut().graceful_shutdown(),
    }
    let _ = connection.await;
}

/// Accept errors are mostly the client's (reset before accept) or a momentary lack of file
/// descriptors; pausing on the latter keeps the loop from spinning, as axum's own server does.
async fn accept_failed(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The answer of every connection over `server.max_connections`.
async fn overloaded() -> HttpError {
    HttpError::new(
        ErrorCode::Overloaded,
        "the service is at server.max_connections and sheds this connection; retry after Retry-After",
    )
    .retry_after(SHED_RETRY_AFTER)
}

/// Gives the request its deadlines, from now, when its headers are in: `server.body_timeout` for
/// its body, and `server.request_timeout` for its answer.
async fn request_limits(
    State((limits, budget)): State<(Limits, BodyBudget)>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    // Most requests have no body (GETs, probes): no body deadline, no budget, and no timer, for those.
    let (request, _reserved) = if request.body().is_end_stream() {
        (request, None)
    } else {
        let Some(reserved) = budget.reserve(&request) else {
            let mut refused = HttpError::new(
                ErrorCode::Overloaded,
                "the service holds server.max_inflight_body of request bodies already and sheds this one; retry after Retry-After",
            )
            .retry_after(SHED_RETRY_AFTER)
            .into_response();
            // The unread body makes the connection unusable anyway; say so.
            refused.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return refused;
        };
        (request.map(|body| Body::new(Deadline::new(body, limits.body_timeout))), Some(reserved))
    };
    // Dropping the handler's future on timeout cancels what it awaits (the store's acknowledgement
    // of a webhook may still land: Intercom's retry of it is deduplicated).
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => HttpError::new(
            ErrorCode::Timeout,
            "the request was not answered within server.request_timeout; retry it (a webhook retried is deduplicated)",
        )
        .into_response(),
    }
}

/// The error a body read fails with once `server.body_timeout` has passed: an [`io::Error`] of kind
/// [`io::ErrorKind::TimedOut`], which is how the webhook ingress tells it from a body too large
/// (it must not know this module, so the kind is the contract).
fn body_timeout_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the request body did not arrive within server.body_timeout")
}

/// A body that fails with [`body_timeout_error`] if it has not ended by its deadline.
struct Deadline {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Deadline {
    fn new(inner: Body, timeout: Duration) -> Self {
        Deadline { inner, sleep: Box::pin(tokio::time::sleep(timeout)) }
    }
}

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(body_timeout_error().into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The process's budget of request-body bytes in flight (`server.max_inflight_body`), shared by
/// every listener: each request with a body reserves its declared length (or `webhooks.max_body`
/// when it declares none) for as long as it is handled, and is refused with 503 at once when the
/// budget cannot cover it. Refusing rather than waiting keeps a flood of slow uploads from
/// queueing, and bounds the memory bodies hold whatever `server.max_connections` is.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget {
    bytes: Arc<Semaphore>,
    /// What one request may reserve at most: `webhooks.max_body`, and never more than the whole
    /// budget (else a large body could never be admitted).
    most: usize,
}

impl BodyBudget {
    /// A budget of `total` bytes, where no request reserves more than `max_body`.
    pub(crate) fn new(total: usize, max_body: usize) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        BodyBudget { bytes: Arc::new(Semaphore::new(total)), most: max_body.min(total) }
    }

    /// Reserves what `request`'s body may take, or `None` when the budget cannot cover it now.
    fn reserve(&self, request: &Request) -> Option<OwnedSemaphorePermit> {
        // A declared length over `webhooks.max_body` is refused with 413 before it is read, so
        // the reservation never needs to exceed that.
        let declared = request.body().size_hint().exact().and_then(|n| usize::try_from(n).ok());
        let bytes = declared.unwrap_or(self.most).min(self.most);
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        self.bytes.clone().try_acquire_many_owned(bytes).ok()
    }
}

/// What a connection's writes fail with once they made no progress for `server.write_timeout`.
fn write_timeout_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client read nothing within server.write_timeout")
}

/// A connection's IO whose writes fail with [`write_timeout_error`] once they have been stalled
/// (pending, not one byte taken) for `timeout`: a client that stops reading ends its connection,
/// and frees its slot, instead of parking it in a flush forever. Any progress resets the clock.
struct Watchdog<I> {
    io: I,
    timeout: Duration,
    /// Running while the writes are stalled; `None` while they make progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<I> Watchdog<I> {
    fn new(io: I, timeout: Duration) -> Self {
        Watchdog { io, timeout, stalled: None }
    }

    /// Passes a write's (or flush's) result through, starting the clock when it is pending and
    /// failing it once the clock runs out. Only a write that takes bytes (`progress`) stops the
    /// clock: a flush that is ready at once (a plain socket's always is) proves nothing.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
        progress: impl FnOnce(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        match &polled {
            Poll::Ready(Ok(value)) if progress(value) => {
                self.stalled = None;
                return polled;
            }
            Poll::Ready(_) => return polled,
            Poll::Pending => {}
        }
        let timeout = self.timeout;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(write_timeout_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watchdog<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Reads have their own bounds: the header and body timeouts.
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watchdog<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        this.watch(cx, polled, |n| *n > 0)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.watch(cx, polled, |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_flush(cx);
        this.watch(cx, polled, |()| false)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_shutdown(cx);
        this.watch(cx, polled, |()| false)
    }
}
