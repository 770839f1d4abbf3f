//! Proactive pacing under Intercom's rate limit.
//!
//! Intercom enforces its per-minute limit in 10-second windows (facts sheet §2) and reports them on
//! every authenticated answer: `X-RateLimit-Limit` (per window), `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (epoch seconds of the window's end). Reacting to 429s wastes requests and
//! stalls every caller at once; the [`WindowPacer`] instead:
//!
//! - learns the limit and the window end from those headers (until then it lets one probe
//!   request through at a time, so a tiny limit is never overrun by a first burst);
//! - keeps to `budget_fraction` of the limit per window (default 0.9, leaving room for the other
//!   apps of the workspace), counting what the server says was used, other clients included;
//! - spreads requests evenly over the window instead of bursting at its start, and stops granting
//!   a short guard before the window ends so no request lands in the next window's count;
//! - when `Remaining` reaches zero or a 429 arrives, waits for the reset instead of sending.
//!
//! The [`Pacer`] trait is the boundary: share one `WindowPacer` between clients of one process,
//! or plug in a budget coordinated across replicas (for example through PostgreSQL) later.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::clock::{SharedClock, SystemClock};
use crate::error::RateLimit;

/// A boxed future returned by [`Pacer::acquire`].
pub type AcquireFuture<'a> = Pin<Box<dyn Future<Output = Permit> + Send + 'a>>;

/// Decides when each request may be sent.
pub trait Pacer: Send + Sync + fmt::Debug + 'static {
    /// Completes when one request may be sent now; the permit reports back what the answer said.
    fn acquire(&self) -> AcquireFuture<'_>;
}

/// What an answer said about the rate limit, reported through [`Permit::complete`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Feedback {
    /// HTTP status, when an answer arrived.
    pub status: Option<u16>,
    /// The rate-limit headers, when present.
    pub rate_limit: Option<RateLimit>,
    /// `Retry-After`, when present.
    pub retry_after: Option<Duration>,
}

type Report = Box<dyn FnOnce(&Feedback) + Send + 'static>;

/// Permission to send one request. Report the answer with [`Permit::complete`]; dropping it
/// reports "no answer".
#[must_use = "complete the permit with the answer's feedback"]
pub struct Permit {
    report: Option<Report>,
}

impl Permit {
    /// A permit that reports to `report`.
    pub fn new(report: impl FnOnce(&Feedback) + Send + 'static) -> Self {
        Self { report: Some(Box::new(report)) }
    }

    /// A permit that reports nowhere (unpaced clients).
    pub fn unmetered() -> Self {
        Self { report: None }
    }

    /// Reports what the answer said.
    pub fn complete(mut self, feedback: &Feedback) {
        if let Some(report) = self.report.take() {
            report(feedback);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(report) = self.report.take() {
            report(&Feedback::default());
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("pending", &self.report.is_some()).finish()
    }
}

/// A pacer that sends everything at once: for tests that need to provoke 429s.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unpaced;

impl Pacer for Unpaced {
    fn acquire(&self) -> AcquireFuture<'_> {
        Box::pin(std::future::ready(Permit::unmetered()))
    }
}

/// The longest `Retry-After` the pacer believes: a longer one (a misbehaving proxy) would stop every
/// caller for days, so after this long a request probes again.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Settings of a [`WindowPacer`].
#[derive(Debug, Clone, PartialEq)]
pub struct PacerConfig {
    /// Share of each window's limit this pacer may use, in (0, 1] (default 0.9).
    pub budget_fraction: f64,
    /// Length of a rate-limit window (Intercom: 10 s).
    pub window: Duration,
    /// No request is granted this close to a window's end, so in-flight requests are counted in
    /// the window they were paced for (default 50 ms).
    pub end_guard: Duration,
}

impl Default for PacerConfig {
    fn default() -> Self {
        Self { budget_fraction: 0.9, window: Duration::from_secs(10), end_guard: Duration::from_millis(50) }
    }
}

/// What a [`WindowPacer`] currently believes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacerSnapshot {
    /// Requests allowed per window, as last reported (`None` until learned).
    pub limit: Option<u32>,
    /// This pacer's share of `limit`.
    pub budget: Option<u32>,
    /// Requests counted against the current window.
    pub used: u32,
    /// Epoch milliseconds at which the current window ends (0 until learned).
    pub window_end_millis: u64,
}

/// The in-process pacer: one per token, shared by every clone of a client (and by several clients
/// if given to each builder).
#[derive(Clone)]
pub struct WindowPacer {
    shared: Arc<Shared>,
}

struct Shared {
    config: PacerConfig,
    clock: SharedClock,
    state: Mutex<State>,
    probe_done: Notify,
}

#[derive(Debug, Default)]
struct State {
    limit: Option<u32>,
    window_end: u64,
    used: u32,
    next_slot: f64,
    blocked_until: u64,
    probing: bool,
}

enum Step {
    Probe,
    WaitForProbe,
    /// Blocked (a 429) before the limit is known: sleep until then, then look again.
    WaitUntil(u64),
    Slot(f64),
}

impl WindowPacer {
    /// A pacer on the system clock.
    pub fn new(config: PacerConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A pacer on a given clock (tests use a manual one).
    pub fn with_clock(mut config: PacerConfig, clock: SharedClock) -> Self {
        if !(config.budget_fraction > 0.0 && config.budget_fraction <= 1.0) {
            config.budget_fraction = PacerConfig::default().budget_fraction;
        }
        if config.window.is_zero() {
            config.window = PacerConfig::default().window;
        }
        config.end_guard = config.end_guard.min(config.window / 10);
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                state: Mutex::new(State::default()),
                probe_done: Notify::new(),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &PacerConfig {
        &self.shared.config
    }

    /// What the pacer currently believes.
    pub fn snapshot(&self) -> PacerSnapshot {
        let s = self.shared.state.lock();
        PacerSnapshot {
            limit: s.limit,
            budget: s.limit.map(|l| self.shared.budget(l)),
            used: s.used,
            window_end_millis: s.window_end,
        }
    }

    fn permit(&self, probe: bool) -> Permit {
        let shared = self.shared.clone();
        Permit::new(move |feedback| shared.observe(feedback, probe))
    }
}

impl Shared {
    fn window_ms(&self) -> u64 {
        self.config.window.as_millis() as u64
    }

    fn guard_ms(&self) -> u64 {
        self.config.end_guard.as_millis() as u64
    }

    fn budget(&self, limit: u32) -> u32 {
        ((f64::from(limit) * self.config.budget_fraction).floor() as u32).max(1)
    }

    /// Reserves the next send time, or says to probe or to wait for the probe.
    fn step(&self, now: u64) -> Step {
        let mut s = self.state.lock();
        let Some(limit) = s.limit else {
            if s.probing {
                return Step::WaitForProbe;
            }
            // A 429 without rate-limit headers still says when to come back.
            if now < s.blocked_until {
                return Step::WaitUntil(s.blocked_until);
            }
            s.probing = true;
            return Step::Probe;
        };
        let budget = self.budget(limit);
        let (window, guard) = (self.window_ms(), self.guard_ms());
        let mut slot = (now as f64).max(s.next_slot).max(s.blocked_until as f64);
        loop {
            // Move the bookkeeping to the window that contains the slot.
            if slot >= s.window_end as f64 {
                let behind = (slot as u64).saturating_sub(s.window_end) / window + 1;
                s.window_end += behind * window;
                s.used = 0;
            }
            let usable_end = s.window_end.saturating_sub(guard) as f64;
            if s.used >= budget || slot >= usable_end {
                slot = slot.max(s.window_end as f64);
                continue;
            }
            let even = (window - guard) as f64 / f64::from(budget);
            let spread = (usable_end - slot) / f64::from(budget - s.used);
            s.used += 1;
            s.next_slot = slot + even.max(spread);
            return Step::Slot(slot);
        }
    }

    fn observe(&self, feedback: &Feedback, probe: bool) {
        let now = self.clock.now_millis();
        {
            let mut s = self.state.lock();
            if probe {
                s.probing = false;
            }
            if let Some(rl) = feedback.rate_limit {
                let reset = rl.reset.saturating_mul(1000);
                let server_used = rl.limit.saturating_sub(rl.remaining);
                match s.limit {
                    // A tighter bucket (e.g. the workspace's) can report a different limit: keep the smaller.
                    Some(old) if reset == s.window_end => s.limit = Some(old.min(rl.limit)),
                    _ => s.limit = Some(rl.limit),
                }
                if reset > s.window_end {
                    // First reading, or the server is already in a later window than we counted.
                    s.window_end = reset;
                    s.used = server_used;
                } else if reset == s.window_end {
                    s.used = s.used.max(server_used);
                }
                if rl.remaining == 0 {
                    s.blocked_until = s.blocked_until.max(reset);
                }
            }
            if feedback.status == Some(429) {
                let until = match (feedback.retry_after, feedback.rate_limit) {
                    (Some(after), _) => now.saturating_add(after.min(MAX_RETRY_AFTER).as_millis() as u64),
                    (None, Some(rl)) => rl.reset.saturating_mul(1000),
                    (None, None) => now + self.window_ms(),
                };
                s.blocked_until = s.blocked_until.max(until);
            }
        }
        if probe {
            self.probe_done.notify_waiters();
        }
    }
}

impl Pacer for WindowPacer {
    fn acquire(&self) -> AcquireFuture<'_> {
        Box::pin(async move {
            loop {
                // Register for the probe's completion before looking, so a wake-up is never missed.
                let probe_done = self.shared.probe_done.notified();
                let now = self.shared.clock.now_millis();
                match self.shared.step(now) {
                    Step::Probe => return self.permit(true),
                    Step::WaitForProbe => probe_done.await,
                    Step::WaitUntil(until) => {
                        self.shared.clock.sleep(Duration::from_millis(until - now)).await;
                    }
                    Step::Slot(slot) => {
                        let wait = slot - now as f64;
                        if wait > 0.0 {
                            let started = now;
                            self.shared.clock.sleep(Duration::from_secs_f64(wait / 1000.0)).await;
                            let waited = self.shared.clock.now_millis().saturating_sub(started);
                            metrics::histogram!(crate::telemetry::PACER_WAIT).record(waited as f64 / 1000.0);
                        }
                        return self.permit(false);
                    }
                }
            }
        })
    }
}

impl fmt::Debug for WindowPacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowPacer")
            .field("config", &self.shared.config)
            .field("state", &self.snapshot())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    const T0: u64 = 1_700_000_000_000; // a window boundary (multiple of 10 s)

    fn pacer(fraction: f64, clock: &ManualClock) -> WindowPacer {
        let config = PacerConfig { budget_fraction: fraction, ..PacerConfig::default() };
        WindowPacer::with_clock(config, Arc::new(clock.clone()))
    }

    fn reading(limit: u32, remaining: u32, reset_ms: u64) -> Feedback {
        Feedback {
            status: Some(200),
            rate_limit: Some(RateLimit { limit, remaining, reset: reset_ms / 1000 }),
            retry_after: None,
        }
    }

    /// Acquires `n` permits one after another on a virtual clock, answering each like a server with
    /// `limit` per epoch-aligned window; returns the send times.
    async fn drive(p: &WindowPacer, clock: &ManualClock, limit: u32, n: usize) -> Vec<u64> {
        let mut counts = std::collections::HashMap::<u64, u32>::new();
        let mut times = Vec::new();
        for _ in 0..n {
            let permit = p.acquire().await;
            let now = clock.now_millis();
            let window_end = (now / 10_000 + 1) * 10_000;
            let used = counts.entry(window_end).or_default();
            *used += 1;
            assert!(*used <= limit, "window ending {window_end} got {used} > {limit}");
            permit.complete(&reading(limit, limit - *used, window_end));
            times.push(now);
        }
        times
    }

    #[tokio::test]
    async fn probes_once_until_the_limit_is_known() {
        let clock = ManualClock::auto_advancing(T0);
        let p = pacer(1.0, &clock);
        let probe = p.acquire().await;
        let second = p.acquire();
        tokio::pin!(second);
        assert!(futures::poll!(second.as_mut()).is_pending(), "a second request waits for the probe");
        probe.complete(&reading(6, 5, T0 + 10_000));
        let permit = second.await;
        drop(permit);
        assert_eq!(p.snapshot().limit, Some(6));
    }

    #[tokio::test]
    async fn spreads_evenly_and_never_exceeds_the_budget() {
        let clock = ManualClock::auto_advancing(T0);
        let p = pacer(1.0, &clock);
        let times = drive(&p, &clock, 10, 41).await;
        // Within a window sends are evenly spaced: (10 s − guard) / 10 apart in a full window,
        // a little wider in the probe's window (its 9 remaining slots share the whole window).
        let gaps: Vec<u64> =
            times[1..].windows(2).filter(|w| w[0] / 10_000 == w[1] / 10_000).map(|w| w[1] - w[0]).collect();
        assert!(gaps.len() >= 30, "{times:?}");
        assert!(gaps.iter().all(|g| (995..=1106).contains(g)), "{gaps:?}");
        // 41 requests at 10 per window need at least four full windows.
        assert!(times[40] - times[0] >= 30_000, "{times:?}");
    }

    #[tokio::test]
    async fn keeps_to_the_budget_fraction() {
        let clock = ManualClock::auto_advancing(T0);
        let p = pacer(0.5, &clock);
        let times = drive(&p, &clock, 20, 31).await;
        let mut per_window = std::collections::BTreeMap::<u64, u32>::new();
        for t in &times {
            *per_window.entry(t / 10_000).or_default() += 1;
        }
        // The probe shares the first window; afterwards at most 10 (= 20 × 0.5) per window.
        assert!(per_window.values().all(|n| *n <= 11), "{per_window:?}");
        assert!(per_window.values().skip(1).all(|n| *n <= 10), "{per_window:?}");
    }

    #[tokio::test]
    async fn waits_for_the_reset_when_remaining_hits_zero() {
        let clock = ManualClock::auto_advancing(T0 + 2_000);
        let p = pacer(1.0, &clock);
        // Another client already used the whole window.
        p.acquire().await.complete(&reading(100, 0, T0 + 10_000));
        let _next = p.acquire().await;
        assert!(clock.now_millis() >= T0 + 10_000, "sent before the reset: {}", clock.now_millis());
    }

    #[tokio::test]
    async fn a_429_blocks_until_retry_after() {
        let clock = ManualClock::auto_advancing(T0);
        let p = pacer(1.0, &clock);
        p.acquire().await.complete(&reading(100, 50, T0 + 10_000));
        let limited =
            Feedback { status: Some(429), rate_limit: None, retry_after: Some(Duration::from_secs(3)) };
        p.acquire().await.complete(&limited);
        let before = clock.now_millis();
        let _next = p.acquire().await;
        assert!(clock.now_millis() >= before + 3_000);
    }

    // Found by the fuzz target rate_limit_headers: a 429 whose answer had no X-RateLimit-* headers
    // (a proxy's, or before the limit was learned) left the pacer probing, and the next probe went
    // out at once, ignoring Retry-After.
    #[tokio::test]
    async fn a_429_before_the_limit_is_known_still_waits_for_retry_after() {
        let clock = ManualClock::auto_advancing(T0);
        let p = pacer(1.0, &clock);
        let limited =
            Feedback { status: Some(429), rate_limit: None, retry_after: Some(Duration::from_secs(5)) };
        p.acquire().await.complete(&limited);
        let _next = p.acquire().await;
        assert!(clock.now_millis() >= T0 + 5_000, "probed again before Retry-After: {}", clock.now_millis());
        assert_eq!(p.snapshot().limit, None, "still unknown: the next answer teaches it");
    }

    // Found by the fuzz target rate_limit_headers: a Retry-After beyond u64 milliseconds wrapped
    // around to a short wait. It is now believed up to MAX_RETRY_AFTER.
    #[tokio::test]
    async fn an_absurd_retry_after_blocks_for_the_cap_not_a_wrapped_value() {
        let clock = ManualClock::auto_advancing(T0);
        let p = pacer(1.0, &clock);
        p.acquire().await.complete(&reading(100, 50, T0 + 10_000));
        let limited = Feedback {
            status: Some(429),
            rate_limit: None,
            retry_after: Some(Duration::from_secs(14_886_589_259_624_741_716)),
        };
        p.acquire().await.complete(&limited);
        let before = clock.now_millis();
        let _next = p.acquire().await;
        let waited = clock.now_millis() - before;
        assert!(waited >= MAX_RETRY_AFTER.as_millis() as u64, "waited only {waited} ms");
        assert!(waited <= MAX_RETRY_AFTER.as_millis() as u64 + 10_000, "waited {waited} ms");
    }

    #[tokio::test]
    async fn a_dropped_probe_lets_the_next_request_probe() {
        let clock = ManualClock::auto_advancing(T0);
        let p = pacer(1.0, &clock);
        drop(p.acquire().await);
        let again = tokio::time::timeout(Duration::from_secs(5), p.acquire()).await;
        assert!(again.is_ok(), "the probe slot must be released when its permit is dropped");
    }
}
