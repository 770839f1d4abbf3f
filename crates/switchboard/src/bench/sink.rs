//! `switchboard bench sink`: a destination that accepts deliveries (204) and reports how many it
//! received, for load tests of the delivery path. It can also misbehave on purpose, as real
//! destinations do (`--fail-rate`, `--stall-every`, `--stall-for`), for the soak (`bench/soak.sh`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use clap::Args;
use rand::Rng;

/// `switchboard bench sink`
#[derive(Debug, Clone, Args)]
pub struct SinkArgs {
    /// Address to listen on; point a destination's url at http://ADDR/.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:18090")]
    pub listen: String,
    /// How often to print the count received so far.
    #[arg(long, value_name = "D", value_parser = humantime::parse_duration, default_value = "10s")]
    pub every: Duration,
    /// Fraction (0 to 1) of deliveries answered 503 instead of 204, chosen at random.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Every Nth delivery waits `--stall-for` before it is answered (0: never).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub stall_every: u64,
    /// How long a stalled delivery waits before its answer.
    #[arg(long, value_name = "D", value_parser = humantime::parse_duration, default_value = "5s")]
    pub stall_for: Duration,
}

/// What a sink has seen so far.
#[derive(Debug, Default)]
pub struct SinkCounts {
    /// Deliveries received.
    pub received: AtomicU64,
    /// Answered 503 (`--fail-rate`).
    pub failed: AtomicU64,
    /// Held for `--stall-for` first (`--stall-every`).
    pub stalled: AtomicU64,
}

/// The sink's routes: every path and method counts as a delivery.
pub fn router(args: &SinkArgs, counts: Arc<SinkCounts>) -> Router {
    let (fail_rate, stall_every, stall_for) = (args.fail_rate, args.stall_every, args.stall_for);
    Router::new().fallback(move || {
        let counts = counts.clone();
        async move {
            let n = counts.received.fetch_add(1, Ordering::Relaxed) + 1;
            if stall_every > 0 && n.is_multiple_of(stall_every) {
                counts.stalled.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(stall_for).await;
            }
            if fail_rate > 0.0 && rand::rng().random_bool(fail_rate) {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                return StatusCode::SERVICE_UNAVAILABLE;
            }
            StatusCode::NO_CONTENT
        }
    })
}

/// Serves until Ctrl-C, printing `sink: received=N failed=F stalled=S rate_per_s=R` every `--every`.
pub async fn run(args: SinkArgs) -> std::io::Result<()> {
    if !(0.0..=1.0).contains(&args.fail_rate) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--fail-rate is a fraction between 0 and 1, e.g. 0.1",
        ));
    }
    let counts = Arc::new(SinkCounts::default());
    let app = router(&args, counts.clone());
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("sink: listening on http://{}/", listener.local_addr()?);
    let reporter = tokio::spawn(async move {
        let started = Instant::now();
        let mut ticker = tokio::time::interval(args.every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let n = counts.received.load(Ordering::Relaxed);
            println!(
                "sink: received={n} failed={} stalled={} rate_per_s={:.0}",
                counts.failed.load(Ordering::Relaxed),
                counts.stalled.load(Ordering::Relaxed),
                n as f64 / started.elapsed().as_secs_f64()
            );
        }
    });
    let served = axum::serve(listener, app).with_graceful_shutdown(crate::startup::shutdown_signal()).await;
    reporter.abort();
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(fail_rate: f64, stall_every: u64, stall_for: Duration) -> SinkArgs {
        SinkArgs {
            listen: "127.0.0.1:0".into(),
            every: Duration::from_secs(10),
            fail_rate,
            stall_every,
            stall_for,
        }
    }

    /// Serves the sink on an ephemeral port and returns its URL.
    async fn serve(args: &SinkArgs, counts: Arc<SinkCounts>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let app = router(args, counts);
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    async fn statuses(url: &str, n: usize) -> Vec<u16> {
        let client = reqwest::Client::new();
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(client.post(url).body("{}").send().await.unwrap().status().as_u16());
        }
        out
    }

    #[tokio::test]
    async fn fail_rate_answers_503_for_that_share_of_deliveries() {
        for (rate, expected) in [(0.0, 204), (1.0, 503)] {
            let counts = Arc::new(SinkCounts::default());
            let url = serve(&args(rate, 0, Duration::ZERO), counts.clone()).await;
            assert_eq!(statuses(&url, 5).await, vec![expected; 5], "--fail-rate {rate}");
            assert_eq!(counts.received.load(Ordering::Relaxed), 5);
            assert_eq!(counts.failed.load(Ordering::Relaxed), if expected == 503 { 5 } else { 0 });
        }
        // A fraction in between fails some and accepts others (400 draws at 0.5: both are certain
        // short of a 2^-400 chance).
        let counts = Arc::new(SinkCounts::default());
        let url = serve(&args(0.5, 0, Duration::ZERO), counts.clone()).await;
        let seen = statuses(&url, 400).await;
        assert!(seen.contains(&503) && seen.contains(&204), "{seen:?}");
        let failed = counts.failed.load(Ordering::Relaxed);
        assert_eq!(failed as usize, seen.iter().filter(|&&s| s == 503).count());
    }

    #[tokio::test]
    async fn every_nth_delivery_stalls_for_the_given_time() {
        let stall = Duration::from_millis(400);
        let counts = Arc::new(SinkCounts::default());
        let url = serve(&args(0.0, 3, stall), counts.clone()).await;
        let client = reqwest::Client::new();
        let mut took = Vec::new();
        for _ in 0..6 {
            let started = Instant::now();
            assert_eq!(client.post(&url).send().await.unwrap().status(), StatusCode::NO_CONTENT);
            took.push(started.elapsed());
        }
        // The 3rd and 6th wait at least the stall; the others are not held (a generous bound).
        for (i, t) in took.iter().enumerate() {
            if (i + 1).is_multiple_of(3) {
                assert!(*t >= stall, "delivery {} took {t:?}", i + 1);
            } else {
                assert!(*t < stall, "delivery {} took {t:?}", i + 1);
            }
        }
        assert_eq!(counts.stalled.load(Ordering::Relaxed), 2);
    }
}
