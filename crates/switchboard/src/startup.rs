//! `switchboard serve`: builds the service from its configuration, binds it and runs it until
//! shutdown, failing with a [`ServeError`]. The one place that composes modules which must not know
//! each other: the metrics recorder stack and the alert tap ([`install_metrics`]), the ingress and
//! the delivery routing table, the request ids and the request's tracing span.
//!
//! Shutdown order matters for invariant 1: stop accepting connections and let in-flight webhook
//! requests finish (each either committed and answered 200, or answered 503), then stop the
//! dispatcher (its unfinished leases return to the queue), then flush and close the store. With
//! `server.internal_listen` set there are two listeners, and both drain before the dispatcher stops.

mod listener;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use switchboard_clock::{Clock, MonotonicClock, SharedClock, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::admin::{self, AdminState};
use crate::alerts::{AlertEngine, AlertTapLayer};
use crate::config::{Config, ConfigError, LoadedSecrets};
use crate::delivery::{Builtin, DispatchSettings, Dispatcher, RetrySchedule, Route, Routing};
use crate::health::{self, Health, Readiness, StatusPageMonitor};
use crate::http_error;
use crate::intercom::Intercom;
use crate::secrets::Secrets;
use crate::store::{self, Store, StoreError, now_millis};
use crate::telemetry::{self, TelemetryError, names};
use crate::webhooks::ingress::{self, DEFAULT_APP, Ingress, IngressApp, IngressLimits};

/// How often delivered events past `store.retention` are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often the queue gauges (depth, oldest pending, dead letters) are refreshed.
const QUEUE_GAUGES_EVERY: Duration = Duration::from_secs(5);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; free the port or choose another with --listen (port 0 picks a free one)"
    )]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client for deliveries could not be built.
    #[error("cannot build the delivery HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The metrics recorder could not be installed.
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    /// The alert engine could not be built.
    #[error(transparent)]
    Alerts(#[from] crate::alerts::AlertsError),
    /// The internal listen address could not be bound.
    #[error(
        "cannot listen on {addr} (server.internal_listen): {source}; free the port or choose another in server.internal_listen"
    )]
    BindInternal {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// TLS could not be set up.
    #[error(
        "cannot load the TLS certificate or key: {0}; check server.tls_cert and server.tls_key (PEM files)"
    )]
    Tls(std::io::Error),
    /// The store's writer stopped while serving: nothing more could be stored.
    #[error(
        "the store's writer stopped ({0}); exiting so that the service is restarted (see the log above for the cause)"
    )]
    WriterLost(String),
}

/// Why `serve` (configured or `--sandbox`) stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration or a secret is invalid (exit 2).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Startup or serving failed (exit 1).
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The in-process simulator failed to start (sandbox only).
    #[error("the sandbox simulator failed to start: {0}")]
    Simulator(String),
}

/// `switchboard serve`: resolves the secrets, builds the service and serves until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let secrets = config.load_secrets().await?;
    let app = Application::build(&config, secrets).await?;
    tracing::info!(
        listen = %app.local_addr(),
        internal_listen = app.internal_addr().map(tracing::field::display),
        environment = %config.environment,
        "switchboard is serving"
    );
    app.run_until(shutdown_signal()).await?;
    Ok(())
}

/// A bound, ready-to-run service.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `server.internal_listen` bound, and what it serves.
    internal: Option<(TcpListener, Router)>,
    readiness: Readiness,
    secrets: Secrets,
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    config: Config,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    health: Arc<Health>,
    alerts: AlertEngine,
    clock: SharedClock,
}

impl Application {
    /// Opens the store, binds `config.server.listen` and assembles routes and workers, on the
    /// system clock.
    pub async fn build(config: &Config, secrets: LoadedSecrets) -> Result<Self, StartupError> {
        // Everything compared with other machines or shared with other processes (notification
        // ages, store timestamps and leases the CLI also reads) follows the wall clock; the alert
        // engine measures windows, which an NTP step must not shrink or stretch, so it gets a clock
        // anchored to the monotonic one.
        Self::assemble(config, secrets, Arc::new(SystemClock), Arc::new(MonotonicClock::new()), None).await
    }

    /// [`Application::build`] with every time-dependent part on `clock`: the ingress age check,
    /// store timestamps and leases, delivery retries, the retention purge, health and alerts. Tests
    /// pass a [`switchboard_clock::ManualClock`] to move time instead of waiting for it.
    pub async fn build_with(
        config: &Config,
        secrets: LoadedSecrets,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        Self::assemble(config, secrets, clock.clone(), clock, None).await
    }

    /// [`Application::build`] over `store`, opened by the caller instead of from `config.store`,
    /// so that a test can hold the concrete store (a [`store::SqliteStore`], to make its disk look
    /// full) while the service runs on it.
    pub async fn build_on(
        config: &Config,
        secrets: LoadedSecrets,
        store: Arc<dyn Store>,
    ) -> Result<Self, StartupError> {
        Self::assemble(config, secrets, Arc::new(SystemClock), Arc::new(MonotonicClock::new()), Some(store))
            .await
    }

    async fn assemble(
        config: &Config,
        secrets: LoadedSecrets,
        clock: SharedClock,
        alert_clock: SharedClock,
        store: Option<Arc<dyn Store>>,
    ) -> Result<Self, StartupError> {
        // Load TLS first: a bad certificate should stop startup before anything else is opened.
        let tls = match &config.server.tls {
            Some(files) => Some(listener::http1_only(
                &axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(StartupError::Tls)?,
            )),
            None => None,
        };
        let store = match store {
            Some(store) => store,
            None => store::open(&config.store)?,
        };
        let addr = config.server.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr, source })?;
        let internal_listener = match config.server.internal_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::BindInternal { addr, source })?,
            ),
            None => None,
        };
        let wake = Arc::new(Notify::new());

        let mut apps =
            vec![IngressApp { name: DEFAULT_APP.into(), client_secrets: secrets.client_secrets.clone() }];
        apps.extend(
            secrets
                .app_secrets
                .iter()
                .map(|(name, s)| IngressApp { name: name.clone(), client_secrets: s.clone() }),
        );
        let routing = Routing::new(
            config
                .destinations
                .iter()
                .map(|d| Route { destination: d.name.clone(), topics: d.topics.clone() })
                .collect(),
        );
        let limits = IngressLimits {
            max_body: config.webhooks.max_body,
            max_event_age: config.webhooks.max_event_age,
            max_clock_skew: config.webhooks.max_clock_skew,
            ack_deadline: config.webhooks.ack_deadline,
        };
        let ingress = Ingress::new(apps, routing, store.clone(), limits, wake.clone(), clock.clone());

        let destinations = config
            .destinations
            .iter()
            .map(|d| crate::delivery::Destination {
                name: d.name.clone(),
                url: d.url.clone(),
                secret: secrets.destination(&d.name),
                timeout: d.timeout,
            })
            .collect();
        let settings = DispatchSettings {
            schedule: RetrySchedule::new(config.delivery.retry_schedule.clone()),
            lease: config.delivery.lease,
            concurrency: config.delivery.concurrency,
            poll_interval: config.delivery.poll_interval,
        };
        let dispatcher = Dispatcher::new(
            store.clone(),
            destinations,
            Builtin::new(store.clone()),
            settings,
            wake.clone(),
            clock.clone(),
        )?;

        let metrics = install_metrics()?;
        let alerts = AlertEngine::new(config.alerts.clone(), alert_clock, metrics.tap())?
            .with_channel_secrets(&secrets.alert_secrets);
        // A writer stuck past the ack deadline means webhooks are being refused: not ready.
        let stall = config.webhooks.ack_deadline;
        let readiness = Readiness::new(store.clone()).writer_stall_after(stall);
        let intercom = Intercom::new(config, secrets.intercom_token.as_ref());
        let health = Arc::new(
            Health::new(intercom, store.clone(), config.health.probe_interval, clock.clone())
                .writer_stall_after(stall),
        );
        let webhooks = ingress::routes(&config.webhooks.path, ingress);
        let admin = admin::router(AdminState {
            store: store.clone(),
            key: secrets.admin_key.clone(),
            wake,
            clock: clock.clone(),
        });
        // Probes answer on every listener: orchestrators check whichever port they reach.
        let probes = Router::new()
            .route("/livez", get(health::livez))
            .route("/readyz", get(health::readyz))
            .with_state(readiness.clone());
        let operations = Router::new()
            .route("/health", get(health::health).with_state(health.clone()))
            .merge(telemetry::metrics_router(metrics.handle()))
            .merge(crate::alerts::router(alerts.clone()))
            .nest("/admin", admin);
        // What Intercom reaches serves only what Intercom needs once an internal listener takes the
        // rest: `/health` names the app and the destinations, `/metrics` the traffic, `/admin` acts.
        let (router, internal) = match internal_listener {
            None => (probes.merge(webhooks).merge(operations), None),
            Some(internal) => {
                (probes.clone().merge(webhooks), Some((internal, finish(probes.merge(operations)))))
            }
        };
        Ok(Application {
            listener,
            router: finish(router),
            internal,
            readiness,
            secrets: Secrets::new(secrets.all()),
            store,
            dispatcher,
            config: config.clone(),
            tls,
            health,
            alerts,
            clock,
        })
    }

    /// The address actually bound (the port is real even when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        // A bound listener always has a local address; fall back to the unspecified one defensively.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The address the internal listener actually bound, when `server.internal_listen` is set.
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        // As in `local_addr`: a bound listener has an address; the fallback is only defensive.
        self.internal.as_ref().map(|(listener, _)| {
            listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
        })
    }

    /// The store the service writes to.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The clock the service reads wall time from (what notification ages are checked against).
    pub fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// Serves until `shutdown` resolves, then drains and closes in order (see the module docs).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut background = tokio::task::JoinSet::new();
        let secrets = self.secrets.clone();
        let interval = self.config.secrets.refresh_interval;
        let mut refresh_stop = stop_rx.clone();
        background.spawn(async move {
            secrets.refresh_until(interval, async move { stopped(&mut refresh_stop).await }).await;
        });
        let (store, clock, retention) = (self.store.clone(), self.clock.clone(), self.config.store.retention);
        background.spawn(every(PURGE_EVERY, stop_rx.clone(), async move || {
            purge(store.as_ref(), retention, clock.as_ref()).await
        }));
        let (store, clock) = (self.store.clone(), self.clock.clone());
        background.spawn(every(QUEUE_GAUGES_EVERY, stop_rx.clone(), async move || {
            queue_gauges(store.as_ref(), clock.as_ref()).await
        }));
        let status_page = &self.config.status_page;
        if status_page.enabled
            && let Some(monitor) = StatusPageMonitor::new(status_page.url.clone(), self.health.status_page())
        {
            background
                .spawn(every(status_page.interval, stop_rx.clone(), async move || monitor.poll().await));
        }
        if self.config.alerts.enabled {
            let mut alerts_stop = stop_rx.clone();
            background.spawn(self.alerts.clone().run(async move { stopped(&mut alerts_stop).await }));
        }
        let (dispatcher_stop_tx, dispatcher_stop_rx) = watch::channel(false);
        let dispatcher = tokio::spawn(self.dispatcher.clone().run(dispatcher_stop_rx));

        let readiness = self.readiness.clone();
        let mut drain_started = stop_rx.clone();
        let delay = self.config.server.shutdown_delay;
        let signal = async move {
            shutdown.await;
            readiness.begin_shutdown();
            if !delay.is_zero() {
                // Keep serving while load balancers notice /readyz and stop sending traffic here.
                tracing::info!(delay = %humantime::format_duration(delay), "shutting down: draining first");
                tokio::time::sleep(delay).await;
            }
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
            let _ = stop_tx.send(true);
        };
        let drain_timeout = self.config.server.shutdown_timeout;
        let server = &self.config.server;
        let limits = listener::Limits {
            header_timeout: server.header_timeout,
            body_timeout: server.body_timeout,
            write_timeout: server.write_timeout,
            request_timeout: server.request_timeout,
            max_connections: server.max_connections,
        };
        // One budget for the whole process, so that a second listener does not double it.
        let budget = listener::BodyBudget::new(server.max_inflight_body, self.config.webhooks.max_body);
        let public = listener::serve(
            "public",
            self.listener,
            self.tls.clone(),
            self.router,
            limits,
            budget.clone(),
            stop_rx.clone(),
        );
        let (tls, internal_stop, internal) = (self.tls.clone(), stop_rx.clone(), self.internal);
        let internal = async move {
            if let Some((listener, router)) = internal {
                listener::serve("internal", listener, tls, router, limits, budget, internal_stop).await;
            }
        };
        // Both listeners drain together, within the one shutdown timeout, before the dispatcher stops.
        let served = async move {
            tokio::join!(signal, public, internal);
        };
        let drained = async move {
            stopped(&mut drain_started).await;
            tokio::time::sleep(drain_timeout).await;
        };
        let store = self.store.clone();
        let outcome = tokio::select! {
            () = served => Ok(()),
            // Fatal: every webhook would get 503 for as long as the process lives. Exiting lets the
            // supervisor restart it with a fresh writer; in-flight requests are cut off, and none of
            // them was acknowledged without a commit.
            reason = store.writer_lost() => {
                tracing::error!(%reason, "the store's writer stopped; exiting so that the service is restarted");
                Err(StartupError::WriterLost(reason))
            }
            () = drained => {
                tracing::warn!(
                    timeout = %humantime::format_duration(drain_timeout),
                    "in-flight requests did not finish in time; closing them"
                );
                Ok(())
            }
        };
        let _ = dispatcher_stop_tx.send(true);
        let _ = dispatcher.await;
        background.shutdown().await;
        self.store.close().await;
        tracing::info!("stopped");
        outcome
    }
}

/// The process's metrics pipeline, `PrefixLayer → AlertTapLayer → Prometheus`: the exporter's
/// handle and the alert tap, shared by cheap clones.
#[derive(Debug, Clone)]
pub struct MetricsPipeline {
    handle: PrometheusHandle,
    tap: AlertTapLayer,
}

impl MetricsPipeline {
    /// The Prometheus handle, for [`telemetry::metrics_router`].
    pub fn handle(&self) -> PrometheusHandle {
        self.handle.clone()
    }

    /// The alert tap the recorder feeds, for [`AlertEngine::new`].
    pub fn tap(&self) -> &AlertTapLayer {
        &self.tap
    }
}

static INSTALLED: Mutex<Option<MetricsPipeline>> = Mutex::new(None);

/// Installs the process-wide recorder with the alert tap in it, once: later calls return the first
/// installation, so tests that start several services in one process share one pipeline (metrics
/// are process-wide). Here, because `telemetry` builds the stack and `alerts` owns the tap, and
/// neither may know the other.
pub fn install_metrics() -> Result<MetricsPipeline, TelemetryError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pipeline) = installed.as_ref() {
        return Ok(pipeline.clone());
    }
    let tap = AlertTapLayer::new();
    let (recorder, handle) = telemetry::build_recorder(&tap);
    telemetry::install_global(recorder, &handle)?;
    let pipeline = MetricsPipeline { handle, tap };
    *installed = Some(pipeline.clone());
    Ok(pipeline)
}

/// Completes a listener's router: the error envelope for unknown paths and methods, then request
/// ids and tracing around everything.
fn finish(router: Router) -> Router {
    // Last, so that they reach every route above; both answer the error envelope.
    traced(router.fallback(http_error::not_found).method_not_allowed_fallback(http_error::method_not_allowed))
}

/// Wraps the whole router: a request id for every request (`X-Request-Id`, error bodies), then a
/// tracing span per request that carries the same id, so every log line of a request can be found
/// from the id a caller quotes.
fn traced(router: Router) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(request_span)
        // 5xx answers are expected states (/health unhealthy, a webhook refused with 503), each
        // logged with its reason by its handler; the layer's own report of them is debug noise.
        .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG));
    // Outermost last: the ids are set before the span is made.
    http_error::with_request_ids(router.layer(trace))
}

/// The span of one HTTP request. At ERROR, the one level no filter turns off, so that its id is on
/// every line of the request whatever `logging.level` is (the WARN and ERROR lines are the ones
/// people look up); the URI only when DEBUG is on, since URLs can carry personal data.
fn request_span(request: &axum::extract::Request) -> tracing::Span {
    let span = tracing::error_span!(
        "request",
        method = %request.method(),
        request_id = http_error::request_id(request).unwrap_or_default(),
        uri = tracing::field::Empty,
    );
    if tracing::enabled!(tracing::Level::DEBUG) {
        span.record("uri", tracing::field::display(request.uri()));
    }
    span
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Runs `task` every `period`, the first time at once, until `stop` turns true. The stop is seen
/// between runs; a run under way when the service shuts down ends with the background tasks.
async fn every(period: Duration, mut stop: watch::Receiver<bool>, mut task: impl AsyncFnMut()) {
    let mut ticker = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = ticker.tick() => task().await,
            () = stopped(&mut stop) => return,
        }
    }
}

/// Publishes the queue's state as gauges: `webhook_queue_depth`, `webhook_oldest_pending_seconds`,
/// `dead_letter_depth` and `disabled_destinations`.
async fn queue_gauges(store: &dyn Store, clock: &dyn Clock) {
    match store.stats().await {
        Ok(stats) => {
            metrics::gauge!(names::WEBHOOK_QUEUE_DEPTH).set(stats.pending as f64);
            metrics::gauge!(names::DEAD_LETTER_DEPTH).set(stats.dead as f64);
            let now = now_millis(clock);
            let oldest = stats.oldest_pending_received_at.map(|at| (now - at).max(0) as f64 / 1000.0);
            metrics::gauge!(names::WEBHOOK_OLDEST_PENDING_SECONDS).set(oldest.unwrap_or(0.0));
        }
        Err(error) => tracing::warn!(%error, "cannot read queue depths for metrics"),
    }
    if let Ok(disabled) = store.disabled_destinations().await {
        metrics::gauge!(names::DISABLED_DESTINATIONS).set(disabled.len() as f64);
    }
}

async fn purge(store: &dyn Store, retention: Duration, clock: &dyn Clock) {
    let retention = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let before = now_millis(clock).saturating_sub(retention).max(0);
    match store.purge_delivered(before).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "purged delivered events past store.retention"),
        Err(error) => tracing::error!(%error, "retention purge failed; will retry"),
    }
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes and systemd send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::routing::get;
    use serde_json::Value;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::http_error::{ErrorCode, HttpError};
    use crate::logging::{LogFormat, RedactingLayer, Redactor};

    async fn refuse() -> HttpError {
        tracing::warn!("refusing the request");
        HttpError::new(ErrorCode::BadRequest, "refused")
    }

    /// The `request` span of the handler's log line whose answer carried `id`.
    fn request_span_of(log: &std::path::Path, id: &str) -> Value {
        let text = std::fs::read_to_string(log).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let line = lines
            .iter()
            .find(|l| l["message"] == "refusing the request" && l["spans"][0]["request_id"] == id)
            .unwrap_or_else(|| panic!("no handler line with request_id {id} in {text}"));
        line["spans"][0].clone()
    }

    // Current-thread runtime: the server's tasks run on this thread, under the thread's subscriber.
    #[tokio::test]
    async fn every_log_line_of_a_request_carries_the_id_its_answer_names() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("switchboard.log");
        let writer = Arc::new(std::fs::File::create(&log).unwrap());
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(RedactingLayer::new(Redactor::new(&[]), LogFormat::Json, writer));
        let _guard = tracing::subscriber::set_default(subscriber);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/refuse?email=jane.doe@example.com", listener.local_addr().unwrap());
        let router = traced(Router::new().route("/refuse", get(refuse)));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let http = reqwest::Client::new();

        // A caller's id is kept; a fresh one is made otherwise. Either way the body, the header and
        // the handler's log line name the same id.
        for sent in [Some("lb-req-7f3a"), None] {
            let mut request = http.get(&url);
            if let Some(id) = sent {
                request = request.header("x-request-id", id);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 400);
            let header = response.headers()["x-request-id"].to_str().unwrap().to_owned();
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["request_id"], header.as_str());
            if let Some(id) = sent {
                assert_eq!(header, id);
            }
            let span = request_span_of(&log, &header);
            assert_eq!(span["name"], "request");
            assert_eq!(span["method"], "GET");
            // The URI (with whatever personal data it holds) only at DEBUG.
            assert!(span.get("uri").is_none(), "{span}");
        }
    }
}
