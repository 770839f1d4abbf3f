//! The harness: an in-process simulator, a client wired to it with short delays, a virtual clock
//! shared by both, and a canned-response server for statuses the simulator does not produce.

use std::sync::Arc;
use std::time::Duration;

use intercom_api::{Client, ClientBuilder, RetryPolicy};
use intercom_sim::{ManualClock, SimConfig, SimHandle, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A window-aligned start time (epoch seconds, a multiple of 10).
pub const T0: u64 = 1_700_000_000;

/// A simulator plus what tests need around it.
pub struct TestSim {
    pub sim: SimHandle,
    /// The virtual clock of [`TestSim::manual`], shared by the simulator and every client of
    /// [`TestSim::client`].
    pub clock: Option<ManualClock>,
}

impl TestSim {
    /// A simulator on the system clock.
    pub async fn start(config: SimConfig) -> Self {
        let sim = Simulator::start(config).await.expect("simulator starts");
        Self { sim, clock: None }
    }

    /// A simulator on a virtual clock starting at [`T0`], shared with the clients built by
    /// [`TestSim::client`]: every client sleep (pacer, backoff, rate-limit wait) jumps time forward
    /// to its end at once, so windows reset and fault windows close without the test waiting in
    /// real time. The simulator's own sleeps (webhook retries, unused here) jump the same way.
    pub async fn manual(config: SimConfig) -> Self {
        let clock = ManualClock::auto_advancing(T0 * 1000);
        let sim = Simulator::start(config.clock(Arc::new(clock.clone()))).await.expect("simulator starts");
        Self { sim, clock: Some(clock) }
    }

    /// The default app's token.
    pub fn token(&self) -> String {
        self.sim.default_app().token.clone()
    }

    /// A client builder for this simulator: short, jitter-free retry delays and the shared clock.
    pub fn client(&self) -> ClientBuilder {
        let mut builder = Client::builder()
            .base_url(self.sim.base_url())
            .token(self.token())
            .timeout(Duration::from_secs(10))
            .retry(fast_retry());
        if let Some(clock) = &self.clock {
            builder = builder.clock(Arc::new(clock.clone()));
        }
        builder
    }

    /// Requests the simulator counted for an endpoint template and status.
    pub fn count(&self, endpoint: &str, status: u16) -> u64 {
        self.sim.stats().count(endpoint, status)
    }

    /// Requests the simulator counted for an endpoint template, any status.
    pub fn count_all(&self, endpoint: &str) -> u64 {
        self.sim.stats().requests.get(endpoint).map(|m| m.values().sum()).unwrap_or(0)
    }
}

/// Four attempts, 1 s backoff ceilings without jitter (deterministic on a virtual clock; on the
/// system clock use [`tiny_retry`]).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(1),
        max_reset_wait: Duration::from_secs(60),
        jitter: false,
        reset_jitter: Duration::from_millis(100),
    }
}

/// Four attempts with millisecond waits, for tests on the system clock.
pub fn tiny_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_reset_wait: Duration::from_secs(60),
        jitter: true,
        reset_jitter: Duration::from_millis(1),
    }
}

/// A server that answers every request with one canned HTTP response, for answers the
/// simulator does not give (403, 410 with a `Link` header). Returns its base URL.
pub async fn canned_server(
    status_line: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                // Read until the end of the request headers (these requests carry no body).
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let mut response = format!(
                    "HTTP/1.1 {status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    response.push_str(&format!("{k}: {v}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(body);
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}
