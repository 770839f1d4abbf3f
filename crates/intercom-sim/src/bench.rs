//! A closed-loop HTTP load generator for `GET /contacts/{id}`: many keep-alive HTTP/1.1
//! connections, each sending its next request as soon as the previous answer is read. Reports
//! requests per second, latency percentiles and non-2xx counts.
//!
//! [`run_self_contained`] starts a simulator in-process (limits raised out of the way), seeds it,
//! and runs the generator beside it: the measurement the project's benchmark records.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::Simulator;
use crate::config::SimConfig;
use crate::errors::SimError;

/// What to load and for how long.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Base URL of the simulator (`http://host:port`).
    pub base_url: String,
    /// Bearer token.
    pub token: String,
    /// Contact ids to fetch, round-robin.
    pub ids: Vec<String>,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Measured duration (after warm-up).
    pub duration: Duration,
    /// Warm-up duration, not measured.
    pub warmup: Duration,
}

impl BenchConfig {
    /// 64 connections, 10 s measured after 1 s of warm-up.
    pub fn new(base_url: impl Into<String>, token: impl Into<String>, ids: Vec<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token: token.into(),
            ids,
            connections: 64,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
        }
    }
}

/// Benchmark results.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Requests answered during the measured period.
    pub requests: u64,
    /// Measured period.
    pub elapsed: Duration,
    /// Throughput.
    pub requests_per_sec: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Slowest request.
    pub max: Duration,
    /// Answers with a status outside 2xx.
    pub non_2xx: u64,
    /// Connection or protocol errors.
    pub errors: u64,
    /// Answers by status.
    pub statuses: BTreeMap<u16, u64>,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} requests in {:.2?}: {:.0} req/s",
            self.requests, self.elapsed, self.requests_per_sec
        )?;
        writeln!(f, "latency p50 {:?}  p99 {:?}  max {:?}", self.p50, self.p99, self.max)?;
        write!(f, "non-2xx {}  errors {}  statuses {:?}", self.non_2xx, self.errors, self.statuses)
    }
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The base URL is not `http://host:port`.
    #[error("invalid base URL {0:?}: expected http://host:port")]
    BaseUrl(String),
    /// No ids to fetch.
    #[error("no contact ids to fetch: seed the simulator (--seed-contacts N) or pass ids")]
    NoIds,
    /// Could not connect.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Target.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The in-process simulator failed to start.
    #[error(transparent)]
    Sim(#[from] SimError),
}

async fn resolve(base_url: &str) -> Result<(SocketAddr, String), BenchError> {
    let rest = base_url.strip_prefix("http://").ok_or_else(|| BenchError::BaseUrl(base_url.into()))?;
    let authority = rest.trim_end_matches('/').to_string();
    if authority.is_empty() || authority.contains('/') {
        return Err(BenchError::BaseUrl(base_url.into()));
    }
    let addr = tokio::net::lookup_host(&authority)
        .await
        .map_err(|source| BenchError::Connect { addr: authority.clone(), source })?
        .next()
        .ok_or_else(|| BenchError::BaseUrl(base_url.into()))?;
    Ok((addr, authority))
}

#[derive(Default)]
struct ConnResult {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
}

/// Runs the closed loop against `GET /contacts/{id}`.
pub async fn run(cfg: BenchConfig) -> Result<BenchReport, BenchError> {
    if cfg.ids.is_empty() {
        return Err(BenchError::NoIds);
    }
    let (addr, authority) = resolve(&cfg.base_url).await?;
    let auth = format!("Bearer {}", cfg.token);
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let stop_at = measure_from + cfg.duration;
    let mut tasks = Vec::with_capacity(cfg.connections);
    for n in 0..cfg.connections.max(1) {
        let ids = cfg.ids.clone();
        let auth = auth.clone();
        let authority = authority.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = ConnResult::default();
            let mut i = n * 7919;
            'reconnect: while Instant::now() < stop_at {
                let stream = match TcpStream::connect(addr).await {
                    Ok(s) => s,
                    Err(_) => {
                        out.errors += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let Ok((mut sender, conn)) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
                else {
                    out.errors += 1;
                    continue;
                };
                tokio::spawn(conn);
                while Instant::now() < stop_at {
                    i = i.wrapping_add(1);
                    let id = &ids[i % ids.len()];
                    let request = Request::get(format!("/contacts/{id}"))
                        .header("host", authority.as_str())
                        .header("authorization", auth.as_str())
                        .header("intercom-version", "2.14")
                        .header("accept", "application/json")
                        .body(Empty::<Bytes>::new());
                    let Ok(request) = request else {
                        out.errors += 1;
                        continue;
                    };
                    if sender.ready().await.is_err() {
                        out.errors += 1;
                        continue 'reconnect;
                    }
                    let sent = Instant::now();
                    let response = match sender.send_request(request).await {
                        Ok(r) => r,
                        Err(_) => {
                            out.errors += 1;
                            continue 'reconnect;
                        }
                    };
                    let status = response.status().as_u16();
                    if response.into_body().collect().await.is_err() {
                        out.errors += 1;
                        continue 'reconnect;
                    }
                    let done = Instant::now();
                    if sent >= measure_from && done <= stop_at {
                        out.latencies_us.push((done - sent).as_micros().min(u128::from(u32::MAX)) as u32);
                        *out.statuses.entry(status).or_default() += 1;
                    }
                }
            }
            out
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses = BTreeMap::new();
    let mut errors = 0;
    for t in tasks {
        // A panicking connection task is counted as one error rather than aborting the run.
        match t.await {
            Ok(r) => {
                latencies.extend(r.latencies_us);
                for (s, n) in r.statuses {
                    *statuses.entry(s).or_default() += n;
                }
                errors += r.errors;
            }
            Err(_) => errors += 1,
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        Duration::from_micros(u64::from(latencies[idx]))
    };
    let requests = latencies.len() as u64;
    let non_2xx = statuses.iter().filter(|(s, _)| !(200..300).contains(*s)).map(|(_, n)| n).sum();
    Ok(BenchReport {
        requests,
        elapsed: cfg.duration,
        requests_per_sec: requests as f64 / cfg.duration.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
        max: latencies.last().map(|l| Duration::from_micros(u64::from(*l))).unwrap_or_default(),
        non_2xx,
        errors,
        statuses,
    })
}

/// Starts a simulator in-process with `contacts` seeded contacts and rate limits raised out of the
/// way, runs the generator beside it, stops the simulator and returns the report.
pub async fn run_self_contained(
    contacts: usize,
    connections: usize,
    duration: Duration,
) -> Result<BenchReport, BenchError> {
    let config = SimConfig::default()
        .seed_contacts(contacts.max(1))
        .rate_limit_per_minute(u32::MAX / 2)
        .workspace_limit_per_minute(u32::MAX / 2);
    let sim = Simulator::start(config).await?;
    let ids = sim.contact_ids(contacts.max(1));
    let mut cfg = BenchConfig::new(sim.base_url(), sim.default_app().token.clone(), ids);
    cfg.connections = connections;
    cfg.duration = duration;
    let report = run(cfg).await;
    sim.shutdown().await;
    report
}
