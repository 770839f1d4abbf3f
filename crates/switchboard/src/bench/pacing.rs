//! `switchboard bench pacing`: how close the `intercom-api` pacer runs to the rate limit without
//! crossing it.
//!
//! The job is N contact upserts (create; update on conflict) sent by a fixed pool of concurrent
//! workers through one client, against an in-process simulator with the given limit, or against
//! `--base-url` (a simulator started elsewhere, so other clients can run the same job beside it).
//! It ends with one line:
//!
//! ```text
//! pacing: allowed_per_s=166.67 achieved_per_s=165.90 ratio=0.995 rate_limited=0 failed=0
//! ```
//!
//! `allowed_per_s` is the limit times the budget fraction, per second; `achieved_per_s` is the
//! upserts completed per second of wall time; `rate_limited` counts 429 answers the client saw
//! (retried or not); `failed` counts upserts that did not succeed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use intercom_api::{Client, NewContact};
use intercom_sim::{SimConfig, Simulator};

/// Concurrent workers: enough to keep the pacer's schedule full at 10,000/min with millisecond
/// latencies, few enough that a client without pacing is not simply flooding the server.
const WORKERS: usize = 32;

/// `switchboard bench pacing`
#[derive(Debug, Clone, clap::Args)]
pub struct PacingArgs {
    /// Number of contact upserts in the job (each one request when the contact is new).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub contacts: usize,
    /// The Intercom rate limit in requests per minute (enforced per 10-second window); the
    /// in-process simulator is started with it, and allowed_per_s is computed from it.
    #[arg(long, value_name = "L", default_value_t = 10_000)]
    pub limit_per_minute: u32,
    /// Share of the limit the client may use, in (0, 1]; 1.0 runs right at the limit.
    #[arg(long, value_name = "F", default_value_t = 0.9)]
    pub budget_fraction: f64,
    /// Base URL of a running Intercom API or simulator (e.g. http://127.0.0.1:4010); when omitted
    /// a simulator is started in-process.
    #[arg(long, value_name = "URL", requires = "token")]
    pub base_url: Option<String>,
    /// Access token for --base-url (a test token; it is never printed).
    #[arg(long, value_name = "T", requires = "base_url")]
    pub token: Option<String>,
}

/// The figures of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingReport {
    /// Limit × budget fraction, per second.
    pub allowed_per_s: f64,
    /// Successful upserts per second of wall time.
    pub achieved_per_s: f64,
    /// `achieved_per_s / allowed_per_s`.
    pub ratio: f64,
    /// 429 answers the client received.
    pub rate_limited: u64,
    /// Upserts that failed.
    pub failed: u64,
    /// Upserts that succeeded.
    pub upserts: u64,
    /// Requests sent (attempts, retries included).
    pub requests: u64,
    /// Wall time of the job.
    pub elapsed: Duration,
}

impl PacingReport {
    /// The one-line summary.
    pub fn line(&self) -> String {
        format!(
            "pacing: allowed_per_s={:.2} achieved_per_s={:.2} ratio={:.3} rate_limited={} failed={}",
            self.allowed_per_s, self.achieved_per_s, self.ratio, self.rate_limited, self.failed
        )
    }
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum PacingError {
    /// A flag is out of range.
    #[error("invalid pacing benchmark arguments: {0}")]
    Args(String),
    /// The in-process simulator did not start.
    #[error("cannot start the in-process simulator: {0}")]
    Simulator(#[from] intercom_sim::SimError),
    /// The client could not be built.
    #[error("cannot build the Intercom client: {0}")]
    Client(#[from] intercom_api::BuildError),
}

/// Runs the job, prints the summary line and returns the figures.
pub async fn run(args: PacingArgs) -> Result<PacingReport, PacingError> {
    if args.contacts == 0 {
        return Err(PacingError::Args("--contacts must be at least 1".into()));
    }
    if args.limit_per_minute < 6 {
        return Err(PacingError::Args(
            "--limit-per-minute must be at least 6 (one request per window)".into(),
        ));
    }
    if !(args.budget_fraction > 0.0 && args.budget_fraction <= 1.0) {
        return Err(PacingError::Args(format!(
            "--budget-fraction must be in (0, 1], got {}",
            args.budget_fraction
        )));
    }
    let (base_url, token, sim) = match (args.base_url.clone(), args.token.clone()) {
        (Some(url), Some(token)) => (url, token, None),
        _ => {
            let config = SimConfig::default()
                .rate_limit_per_minute(args.limit_per_minute)
                .workspace_limit_per_minute(args.limit_per_minute.saturating_mul(4).max(25_000));
            let sim = Simulator::start(config).await?;
            (sim.base_url(), sim.default_app().token.clone(), Some(sim))
        }
    };
    let client =
        Client::builder().base_url(base_url).token(token).budget_fraction(args.budget_fraction).build()?;
    let report = job(&client, &args).await;
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    println!("{}", report.line());
    Ok(report)
}

async fn job(client: &Client, args: &PacingArgs) -> PacingReport {
    // A per-run prefix keeps external ids unique when the same simulator serves several runs.
    let run_id = format!("{:08x}", rand::random::<u32>());
    let next = Arc::new(AtomicUsize::new(0));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS.min(args.contacts) {
        let (client, next, ok, failed, run_id) =
            (client.clone(), next.clone(), ok.clone(), failed.clone(), run_id.clone());
        let total = args.contacts;
        workers.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let contact = NewContact::user(format!("pacing-{run_id}-{n:06}"))
                    .email(format!("pacing-{run_id}-{n:06}@example.com"))
                    .name(format!("Pacing {n}"));
                match client.contacts().upsert(&contact).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "pacing benchmark upsert failed");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let stats = client.stats();
    let upserts = ok.load(Ordering::Relaxed);
    let allowed_per_s = f64::from(args.limit_per_minute) * args.budget_fraction / 60.0;
    let achieved_per_s = upserts as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    PacingReport {
        allowed_per_s,
        achieved_per_s,
        ratio: achieved_per_s / allowed_per_s,
        rate_limited: stats.rate_limited,
        failed: failed.load(Ordering::Relaxed),
        upserts,
        requests: stats.requests,
        elapsed,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        pacing: PacingArgs,
    }

    #[test]
    fn flags_parse_and_url_requires_token() {
        let cli = Cli::parse_from([
            "x",
            "--contacts",
            "50",
            "--limit-per-minute",
            "600",
            "--budget-fraction",
            "1.0",
        ]);
        assert_eq!((cli.pacing.contacts, cli.pacing.limit_per_minute), (50, 600));
        assert!(
            Cli::try_parse_from(["x", "--base-url", "http://127.0.0.1:1"]).is_err(),
            "--base-url needs --token"
        );
    }

    #[test]
    fn the_line_has_every_figure() {
        let report = PacingReport {
            allowed_per_s: 166.666,
            achieved_per_s: 165.0,
            ratio: 0.99,
            rate_limited: 0,
            failed: 0,
            upserts: 10,
            requests: 10,
            elapsed: Duration::from_secs(1),
        };
        assert_eq!(
            report.line(),
            "pacing: allowed_per_s=166.67 achieved_per_s=165.00 ratio=0.990 rate_limited=0 failed=0"
        );
    }

    #[tokio::test]
    async fn a_short_job_against_the_in_process_simulator() {
        // 120 upserts at 6,000/min (1,000 per window): well inside one window, so it is quick.
        let args = PacingArgs {
            contacts: 120,
            limit_per_minute: 6_000,
            budget_fraction: 1.0,
            base_url: None,
            token: None,
        };
        let report = run(args).await.expect("runs");
        assert_eq!((report.upserts, report.failed, report.rate_limited), (120, 0, 0));
    }

    #[tokio::test]
    async fn rejects_bad_arguments() {
        let args = PacingArgs {
            contacts: 10,
            limit_per_minute: 600,
            budget_fraction: 1.5,
            base_url: None,
            token: None,
        };
        assert!(matches!(run(args).await, Err(PacingError::Args(_))));
    }
}
