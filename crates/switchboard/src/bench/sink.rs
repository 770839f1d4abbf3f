//! `switchboard bench sink`: a destination that accepts every delivery (204) and reports how many
//! it received, for load tests of the delivery path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use clap::Args;

/// `switchboard bench sink`
#[derive(Debug, Clone, Args)]
pub struct SinkArgs {
    /// Address to listen on; point a destination's url at http://ADDR/.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:18090")]
    pub listen: String,
    /// How often to print the count received so far.
    #[arg(long, value_name = "D", value_parser = humantime::parse_duration, default_value = "10s")]
    pub every: Duration,
}

/// Serves until Ctrl-C, printing `sink: received=N rate_per_s=R` every `--every`.
pub async fn run(args: SinkArgs) -> std::io::Result<()> {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("sink: listening on http://{}/", listener.local_addr()?);
    let reporter = tokio::spawn(async move {
        let started = Instant::now();
        let mut ticker = tokio::time::interval(args.every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let n = received.load(Ordering::Relaxed);
            println!("sink: received={n} rate_per_s={:.0}", n as f64 / started.elapsed().as_secs_f64());
        }
    });
    let served = axum::serve(listener, app).with_graceful_shutdown(crate::startup::shutdown_signal()).await;
    reporter.abort();
    served
}
