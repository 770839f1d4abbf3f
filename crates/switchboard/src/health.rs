//! Health: `/livez` (alive), `/readyz` (ready for traffic) and `/health` (the checklist's health
//! check, with Intercom connectivity), plus the Intercom status page monitor.
//!
//! `/health` probes Intercom with `GET /me` at most once per `health.probe_interval`: concurrent
//! and repeated checks share one cached probe, so Kubernetes probes do not spend the rate budget.
//! Its queue figures likewise come from one count at a time, reused for a second: counting a
//! million pending deliveries is real work, and `/readyz` must never wait behind it.
//!
//! Readiness sees the writer as well as the reader: a store whose writer is stuck in a batch past
//! `webhooks.ack_deadline`, has stopped beating, or failed its last batch is not ready, since
//! webhooks are being refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parking_lot::RwLock;
use serde::Serialize;
use serde_json::json;
use switchboard_clock::SharedClock;
use tokio::sync::Mutex;

use crate::config::ServerConfig;
use crate::http_error::{ErrorCode, HttpError};
use crate::intercom::{Intercom, Unavailable};
use crate::store::{QueueStats, Store};
use crate::telemetry::names;

/// How long `/readyz` and `/health` wait for the store before calling it unreachable.
const STORE_PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one batch may run before the writer counts as stuck, unless the service says otherwise
/// (it passes `webhooks.ack_deadline`, whose default this is).
const DEFAULT_WRITER_STALL: Duration = Duration::from_secs(3);
/// How much longer than the stall limit an idle writer may go without a beat (it beats every second).
const BEAT_SLACK: Duration = Duration::from_secs(2);
/// How long `/health` reuses its queue figures: concurrent and repeated checks cost one count.
const QUEUE_FIGURES_TTL: Duration = Duration::from_secs(1);
/// The longest one count of the queue may run before it is interrupted. `/health` waits only
/// [`STORE_PING_TIMEOUT`] for it; a count that finishes later serves the next checks.
const QUEUE_COUNT_LIMIT: Duration = Duration::from_secs(30);

/// Whether the service should receive traffic: the store answers with a current schema, its writer
/// is committing, and shutdown has not begun (so load balancers drain it before the listener closes).
#[derive(Debug, Clone)]
pub struct Readiness {
    shutting_down: Arc<AtomicBool>,
    store: Arc<dyn Store>,
    writer_stall: Duration,
}

impl Readiness {
    /// Readiness backed by `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Readiness {
            shutting_down: Arc::new(AtomicBool::new(false)),
            store,
            writer_stall: DEFAULT_WRITER_STALL,
        }
    }

    /// Counts the writer as stuck once one batch has run longer than `after`: the service passes
    /// `webhooks.ack_deadline`, past which webhooks are refused anyway.
    pub fn writer_stall_after(mut self, after: Duration) -> Self {
        self.writer_stall = after;
        self
    }

    /// Marks the service as shutting down: `/readyz` answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// The `/health` of a deployment named by `url`: the URL as given when it names a path, its
/// `/health` when it is a bare base URL (`http://host:8080`, what operators type for a service).
pub fn health_url_of(mut url: url::Url) -> url::Url {
    // http(s) URLs always parse with at least "/" as their path.
    if url.path() == "/" {
        url.set_path("/health");
    }
    url
}

/// The `/health` of the service `server` configures: on `server.internal_listen` when set (it
/// serves `/health` then), else `server.listen`; 127.0.0.1 when it listens on every interface,
/// https when it terminates TLS itself.
pub fn derived_health_url(server: &ServerConfig) -> Result<url::Url, String> {
    let (key, mut addr) = match server.internal_listen {
        Some(internal) => ("server.internal_listen", internal),
        None => ("server.listen", server.listen),
    };
    if addr.port() == 0 {
        return Err(format!("{key} ({addr}) has port 0, so the deployed /health cannot be derived"));
    }
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let scheme = if server.tls.is_some() { "https" } else { "http" };
    url::Url::parse(&format!("{scheme}://{addr}/health"))
        .map_err(|e| format!("cannot derive the /health URL: {e}"))
}

/// `GET /livez`: the process is alive and serving HTTP.
pub async fn livez() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: ready for traffic, or a 503 error (`shutting_down`, `store_unavailable`).
pub async fn readyz(State(readiness): State<Readiness>) -> Result<Json<serde_json::Value>, HttpError> {
    if readiness.is_shutting_down() {
        return Err(HttpError::new(
            ErrorCode::ShuttingDown,
            "the service is shutting down; send traffic to another instance",
        ));
    }
    match check_store(readiness.store.as_ref(), readiness.writer_stall).await {
        Ok(_) => Ok(Json(json!({ "status": "ready" }))),
        Err(error) => Err(HttpError::new(
            ErrorCode::StoreUnavailable,
            format!("the store is unavailable: {error}; check the store and the service's log"),
        )),
    }
}

/// What is wrong with the store's writer, if anything, when one batch may run for `stall`.
fn writer_problem(store: &dyn Store, stall: Duration) -> Option<String> {
    let writer = store.writer_health()?;
    let secs = |d: Duration| format!("{:.1}s", d.as_secs_f64());
    if let Some(reason) = writer.died {
        return Some(format!("its writer stopped ({reason}); the service exits so that it is restarted"));
    }
    if let Some(busy) = writer.busy_for.filter(|busy| *busy > stall) {
        return Some(format!(
            "its writer has been in one batch for {}, longer than webhooks.ack_deadline ({}), so webhooks are \
             refused; is another process holding the database's write lock, or is the disk stalled?",
            secs(busy),
            secs(stall)
        ));
    }
    if writer.since_beat > stall + BEAT_SLACK {
        return Some(format!("its writer has not finished a batch for {}", secs(writer.since_beat)));
    }
    writer.last_failure.map(|cause| format!("its last write batch failed: {cause}"))
}

/// The store's writer, then a ping of its reader: the ping's latency, or what is wrong.
async fn check_store(store: &dyn Store, stall: Duration) -> Result<Duration, String> {
    match writer_problem(store, stall) {
        Some(problem) => Err(problem),
        None => ping(store).await,
    }
}

async fn ping(store: &dyn Store) -> Result<Duration, String> {
    let started = Instant::now();
    match tokio::time::timeout(STORE_PING_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the store did not answer within 2s".to_owned()),
    }
}

/// A health state, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything works.
    Healthy,
    /// Works, but with a problem to look at (Intercom rate-limits us).
    Degraded,
    /// Calls to Intercom are switched off on purpose (the kill switch).
    Disabled,
    /// Something needed does not work.
    Unhealthy,
}

/// What the Intercom probe found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntercomHealth {
    /// The verdict.
    pub status: Status,
    /// How long `GET /me` took.
    pub latency_ms: Option<u64>,
    /// Whether Intercom accepted the token.
    pub authenticated: bool,
    /// `X-RateLimit-Remaining` of the probe's answer.
    pub rate_limit_remaining: Option<u32>,
    /// `X-RateLimit-Limit` of the probe's answer.
    pub rate_limit_limit: Option<u32>,
    /// The workspace (app id) the token belongs to.
    pub app_id: Option<String>,
    /// The region configured.
    pub region: String,
    /// What is wrong, if anything.
    pub error: Option<String>,
    /// Seconds since the probe ran (0 for a fresh one).
    pub age_seconds: u64,
}

/// The last reading of Intercom's status page.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StatusPageReading {
    /// `none`, `minor`, `major`, `critical`, or `unknown` when it could not be read.
    pub indicator: String,
    /// The page's description ("All Systems Operational").
    pub description: Option<String>,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// Everything `/health` reports on.
#[derive(Debug)]
pub struct Health {
    intercom: Intercom,
    store: Arc<dyn Store>,
    probe_interval: Duration,
    /// The last probe and when it ran (`clock` milliseconds).
    cache: Mutex<Option<(u64, IntercomHealth)>>,
    status_page: Arc<RwLock<Option<StatusPageReading>>>,
    clock: SharedClock,
    figures: Arc<parking_lot::Mutex<FiguresCache>>,
    writer_stall: Duration,
}

/// The queue as `/health` shows it.
#[derive(Debug, Clone)]
struct QueueFigures {
    stats: QueueStats,
    disabled: Vec<String>,
}

type Counted = Option<Result<QueueFigures, String>>;

/// The last queue figures and the count under way, if any: callers share one count (single
/// flight), and a count outlives the callers that stop waiting for it, so its result is not lost.
#[derive(Debug, Default)]
struct FiguresCache {
    last: Option<(Instant, QueueFigures)>,
    counting: Option<tokio::sync::watch::Receiver<Counted>>,
}

impl Health {
    /// Health of `intercom` and `store`, with probes cached for `probe_interval`; queue ages and
    /// the report's timestamp are read from `clock`.
    pub fn new(
        intercom: Intercom,
        store: Arc<dyn Store>,
        probe_interval: Duration,
        clock: SharedClock,
    ) -> Self {
        Health {
            intercom,
            store,
            probe_interval,
            cache: Mutex::new(None),
            status_page: Arc::default(),
            clock,
            figures: Arc::default(),
            writer_stall: DEFAULT_WRITER_STALL,
        }
    }

    /// Counts the store's writer as stuck past `after` (see [`Readiness::writer_stall_after`]).
    pub fn writer_stall_after(mut self, after: Duration) -> Self {
        self.writer_stall = after;
        self
    }

    /// The queue figures: cached ones younger than [`QUEUE_FIGURES_TTL`], else those of the count
    /// under way, else of a new count.
    async fn queue_figures(&self) -> Result<QueueFigures, String> {
        let mut counting =
            {
                let mut cache = self.figures.lock();
                if let Some((at, figures)) = &cache.last
                    && at.elapsed() < QUEUE_FIGURES_TTL
                {
                    return Ok(figures.clone());
                }
                match &cache.counting {
                    Some(counting) => counting.clone(),
                    None => {
                        let (done, counting) = tokio::sync::watch::channel(None);
                        cache.counting = Some(counting.clone());
                        let (store, figures) = (self.store.clone(), self.figures.clone());
                        // The cache lock is held until `counting` is recorded, so the task's own
                        // update always comes after it.
                        tokio::spawn(async move {
                            let result =
                                match tokio::time::timeout(QUEUE_COUNT_LIMIT, count_queue(store.as_ref()))
                                    .await
                                {
                                    Ok(result) => result,
                                    Err(_) => Err(format!(
                                        "counting the queue took longer than {}s and was stopped",
                                        QUEUE_COUNT_LIMIT.as_secs()
                                    )),
                                };
                            let mut cache = figures.lock();
                            cache.counting = None;
                            if let Ok(counted) = &result {
                                cache.last = Some((Instant::now(), counted.clone()));
                            }
                            done.send_replace(Some(result));
                        });
                        counting
                    }
                }
            };
        match counting.wait_for(Option::is_some).await {
            Ok(result) => result.clone().unwrap_or_else(|| Err("the queue count was lost".into())),
            Err(_) => Err("the queue count was lost".into()),
        }
    }

    /// Where the status page monitor writes its readings.
    pub fn status_page(&self) -> Arc<RwLock<Option<StatusPageReading>>> {
        self.status_page.clone()
    }

    /// The Intercom probe's result, from the cache when it is fresh. Concurrent callers wait for
    /// one probe instead of each sending their own.
    pub async fn intercom(&self) -> IntercomHealth {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now_millis();
        // A clock that went backwards (an NTP step) makes the cached probe stale, never fresher.
        if let Some((at, cached)) = cache.as_ref()
            && let Some(age) = now.checked_sub(*at).map(Duration::from_millis)
            && age < self.probe_interval
        {
            let mut cached = cached.clone();
            cached.age_seconds = age.as_secs();
            return cached;
        }
        let fresh = self.probe().await;
        *cache = Some((now, fresh.clone()));
        fresh
    }

    async fn probe(&self) -> IntercomHealth {
        let mut health = IntercomHealth {
            status: Status::Unhealthy,
            latency_ms: None,
            authenticated: false,
            rate_limit_remaining: None,
            rate_limit_limit: None,
            app_id: None,
            region: self.intercom.region.clone(),
            error: None,
            age_seconds: 0,
        };
        let client = match self.intercom.probe_client() {
            Ok(client) => client,
            Err(Unavailable::Disabled) => {
                health.status = Status::Disabled;
                health.error = Some(Unavailable::Disabled.to_string());
                return health;
            }
            Err(other) => {
                health.error = Some(other.to_string());
                return health;
            }
        };
        let started = Instant::now();
        let answer = client.execute(intercom_api::Request::get("/me").template("/me")).await;
        health.latency_ms = Some(started.elapsed().as_millis() as u64);
        match answer {
            Ok(response) => {
                if let Some(limit) = response.rate_limit() {
                    health.rate_limit_remaining = Some(limit.remaining);
                    health.rate_limit_limit = Some(limit.limit);
                    metrics::gauge!(names::INTERCOM_RATE_LIMIT_LIMIT).set(f64::from(limit.limit));
                }
                health.authenticated = true;
                let me: Result<intercom_api::models::admin::Me, _> = serde_json::from_slice(&response.body);
                let app = me.ok().and_then(|me| me.app);
                health.app_id = app.as_ref().and_then(|a| a.id_code.clone());
                match (&self.intercom.expected_app_id, &health.app_id) {
                    (Some(expected), Some(actual)) if expected != actual => {
                        let name = app.and_then(|a| a.name).map(|n| format!(" ({n})")).unwrap_or_default();
                        health.error = Some(format!(
                            "the token belongs to workspace {actual}{name}, not intercom.expected_app_id = {expected}: \
                             a token of another workspace (staging?) is configured"
                        ));
                    }
                    (Some(expected), None) => {
                        health.error = Some(format!(
                            "/me did not say which workspace answered, so intercom.expected_app_id = {expected} cannot \
                             be checked"
                        ));
                    }
                    _ => health.status = Status::Healthy,
                }
            }
            Err(error) => {
                if let Some(limit) = error.rate_limit() {
                    health.rate_limit_remaining = Some(limit.remaining);
                    health.rate_limit_limit = Some(limit.limit);
                }
                use intercom_api::ErrorKind;
                health.authenticated = !matches!(error.kind(), ErrorKind::Unauthorized);
                health.status =
                    if error.kind() == ErrorKind::RateLimited { Status::Degraded } else { Status::Unhealthy };
                // The client's Display never includes the token or bodies.
                health.error = Some(error.to_string());
            }
        }
        health
    }

    /// The whole report and its HTTP status (200 only when healthy).
    pub async fn report(&self) -> (StatusCode, serde_json::Value) {
        let intercom = self.intercom().await;
        let (store_status, store) = match check_store(self.store.as_ref(), self.writer_stall).await {
            Ok(latency) => (
                Status::Healthy,
                json!({ "status": Status::Healthy, "latencyMs": latency.as_millis() as u64 }),
            ),
            Err(error) => (Status::Unhealthy, json!({ "status": Status::Unhealthy, "error": error })),
        };
        let webhooks = match tokio::time::timeout(STORE_PING_TIMEOUT, self.queue_figures()).await {
            Err(_) => {
                json!({ "error": "the store did not count its queue within 2s; a later check shows the count" })
            }
            Ok(Err(e)) => json!({ "error": e }),
            Ok(Ok(QueueFigures { stats, disabled })) => {
                let now = crate::store::now_millis(self.clock.as_ref());
                json!({
                    "queueDepth": stats.pending,
                    "oldestPendingSeconds": stats.oldest_pending_received_at.map(|at| (now - at).max(0) / 1000),
                    "deadLetters": stats.dead,
                    "disabledDestinations": disabled,
                })
            }
        };
        let status = intercom.status.max(store_status);
        let status_page = self.status_page.read().clone();
        let body = json!({
            "status": status,
            "services": {
                "intercom": intercom,
                "store": store,
                "webhooks": webhooks,
                "statusPage": status_page,
            },
            "timestamp": time::OffsetDateTime::from(self.clock.now())
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
        let code = if status == Status::Healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
        (code, body)
    }
}

/// One count of the queue and the disabled destinations.
async fn count_queue(store: &dyn Store) -> Result<QueueFigures, String> {
    let stats = store.stats().await.map_err(|e| e.to_string())?;
    let disabled = store.disabled_destinations().await.map_err(|e| e.to_string())?;
    Ok(QueueFigures { stats, disabled: disabled.into_iter().map(|d| d.name).collect() })
}

/// `GET /health`: 200 when healthy, 503 otherwise, with the report either way.
pub async fn health(State(health): State<Arc<Health>>) -> impl IntoResponse {
    let (code, body) = health.report().await;
    (code, Json(body))
}

/// Watches Intercom's status page: each [`StatusPageMonitor::poll`] reads it once into the
/// `/health` report and the `intercom_status_indicator` gauge (`startup` polls every
/// `status_page.interval`). An unreachable page is reported, never fatal.
#[derive(Debug)]
pub struct StatusPageMonitor {
    http: reqwest::Client,
    url: url::Url,
    into: Arc<RwLock<Option<StatusPageReading>>>,
}

impl StatusPageMonitor {
    /// A monitor of `url` writing its readings to `into` ([`Health::status_page`]); `None`, with
    /// an error logged, when its HTTP client cannot be built.
    pub fn new(url: url::Url, into: Arc<RwLock<Option<StatusPageReading>>>) -> Option<Self> {
        match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
            Ok(http) => Some(StatusPageMonitor { http, url, into }),
            Err(error) => {
                tracing::error!(%error, "cannot build the status page client; the status page is not monitored");
                None
            }
        }
    }

    /// Reads the status page once; logs when the indicator changes.
    pub async fn poll(&self) {
        let reading = read_status_page(&self.http, &self.url).await;
        let level = match reading.indicator.as_str() {
            "none" => 0.0,
            "minor" => 1.0,
            "major" => 2.0,
            "critical" => 3.0,
            _ => -1.0,
        };
        metrics::gauge!(names::INTERCOM_STATUS_INDICATOR).set(level);
        let changed = self.into.read().as_ref().map(|r| &r.indicator) != Some(&reading.indicator);
        if changed {
            match &reading.error {
                Some(error) => tracing::warn!(%error, "Intercom's status page cannot be read"),
                None => {
                    tracing::info!(indicator = %reading.indicator, "Intercom status page indicator changed")
                }
            }
        }
        *self.into.write() = Some(reading);
    }
}

/// Reads a Statuspage `status.json` once; an unreachable or malformed page is an `unknown` reading.
pub async fn read_status_page(http: &reqwest::Client, url: &url::Url) -> StatusPageReading {
    let unknown = |error: String| StatusPageReading {
        indicator: "unknown".into(),
        description: None,
        error: Some(error),
    };
    let response = match http.get(url.clone()).send().await {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => return unknown(format!("{url} answered HTTP {}", response.status().as_u16())),
        Err(e) => return unknown(format!("{url} is unreachable: {e}")),
    };
    match response.json::<serde_json::Value>().await {
        Ok(body) => match body["status"]["indicator"].as_str() {
            Some(indicator) => StatusPageReading {
                indicator: indicator.to_owned(),
                description: body["status"]["description"].as_str().map(str::to_owned),
                error: None,
            },
            None => unknown(format!("{url} has no status.indicator; is it a Statuspage status.json?")),
        },
        Err(e) => unknown(format!("{url} did not answer JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_base_url_means_its_health_and_a_path_is_kept() {
        let url = |text: &str| health_url_of(url::Url::parse(text).unwrap()).to_string();
        assert_eq!(url("http://10.0.0.7:8080"), "http://10.0.0.7:8080/health");
        assert_eq!(url("https://switchboard.internal/"), "https://switchboard.internal/health");
        assert_eq!(url("https://switchboard.internal/ops/health"), "https://switchboard.internal/ops/health");
    }

    #[test]
    fn the_derived_url_follows_server_listen() {
        let mut server = Config::default().server;
        server.listen = "0.0.0.0:9090".parse().unwrap();
        assert_eq!(derived_health_url(&server).unwrap().as_str(), "http://127.0.0.1:9090/health");
        server.listen = "127.0.0.1:0".parse().unwrap();
        let error = derived_health_url(&server).unwrap_err();
        assert!(error.contains("port 0"), "{error}");
        // With an internal listener, /health is there, not on the public one.
        server.internal_listen = Some("10.0.0.7:9091".parse().unwrap());
        assert_eq!(derived_health_url(&server).unwrap().as_str(), "http://10.0.0.7:9091/health");
    }
}
