//! One clock for the whole workspace: wall-clock time since the Unix epoch plus a sleep that
//! completes on the same clock, behind a trait so tests drive time by hand instead of waiting for it.
//!
//! - [`SystemClock`]: the machine's wall clock. For times compared with another machine's (an
//!   Intercom `created_at`, `X-RateLimit-Reset`) or stored for another process to read (leases and
//!   timestamps the CLI shares with a running service).
//! - [`MonotonicClock`]: the wall clock read once, then moved forward by the monotonic clock. For
//!   intervals that an NTP step must not shrink or stretch (alert windows).
//! - [`ManualClock`]: moves only when told to, or (in auto-advancing mode) jumps to each sleep's
//!   deadline; for deterministic tests.
//!
//! This crate depends on nothing in the workspace, so the client library and the simulator both
//! use it while staying independent of each other.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// The future returned by [`Clock::sleep`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A clock shared by everything that reads it (a client and its pacer, a simulator, a service).
pub type SharedClock = Arc<dyn Clock>;

/// A source of wall-clock time plus a sleep that completes on the same clock.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep;

    /// Whole seconds since the Unix epoch, the unit of every Intercom timestamp.
    fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }

    /// The current time as a [`SystemTime`].
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.now_millis())
    }

    /// The manual clock behind this one, if it is one (lets a control API move time).
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// Milliseconds since the epoch of `t`; a time before 1970 (a broken machine) reads as the epoch so
/// that arithmetic on it saturates instead of panicking.
fn epoch_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(whole_millis).unwrap_or(0)
}

/// `d` in whole milliseconds, saturating (no sleep or advance is anywhere near 584 million years).
fn whole_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The machine's wall clock; sleeps with tokio timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        epoch_millis(SystemTime::now())
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The wall clock read once, at construction, then moved forward by the monotonic clock: readings
/// never go backwards, and the time between two readings is the time that really passed.
///
/// Why it exists: a wall-clock step (NTP correcting a drifted clock, someone setting the date)
/// would otherwise shrink or stretch every interval measured as the difference of two readings, so
/// the alert engine's windows and `for` durations would fire early, late or not at all. The price
/// is that readings keep whatever offset the wall clock had at construction; times compared with
/// other machines or stored for other processes belong on [`SystemClock`].
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    wall: SystemTime,
    mono: Instant,
}

impl MonotonicClock {
    /// A clock anchored at the current wall time.
    pub fn new() -> Self {
        MonotonicClock { wall: SystemTime::now(), mono: Instant::now() }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        MonotonicClock::new()
    }
}

impl Clock for MonotonicClock {
    fn now_millis(&self) -> u64 {
        epoch_millis(self.now())
    }

    fn now(&self) -> SystemTime {
        self.wall + self.mono.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        // tokio's timers already run on the monotonic clock.
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to; clones share one time.
///
/// By default a sleeper wakes when [`ManualClock::advance`] or [`ManualClock::set_millis`] moves
/// time past its deadline. In *auto-advancing* mode ([`ManualClock::auto_advancing`]) every sleep
/// moves the clock to its own deadline and completes at once: virtual time for single-task tests of
/// waits and backoff.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<u64>>,
    auto: bool,
}

impl ManualClock {
    /// A clock stopped at `start_millis` since the Unix epoch.
    pub fn new(start_millis: u64) -> Self {
        let (tx, _rx) = watch::channel(start_millis);
        ManualClock { now: Arc::new(tx), auto: false }
    }

    /// A clock stopped at a whole number of seconds since the epoch (handy for exact window arithmetic).
    pub fn at_secs(secs: u64) -> Self {
        ManualClock::new(secs.saturating_mul(1000))
    }

    /// A clock stopped at `start`.
    pub fn at(start: SystemTime) -> Self {
        ManualClock::new(epoch_millis(start))
    }

    /// A clock at `start_millis` whose sleeps jump time forward to their deadline immediately.
    pub fn auto_advancing(start_millis: u64) -> Self {
        ManualClock { auto: true, ..ManualClock::new(start_millis) }
    }

    /// Moves the clock forward, waking every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        let by = whole_millis(by);
        self.now.send_modify(|now| *now = now.saturating_add(by));
    }

    /// Sets the clock to `millis` since the epoch; moving backwards is allowed (tests of clock skew).
    pub fn set_millis(&self, millis: u64) {
        self.now.send_replace(millis);
    }

    /// Sets the clock to `at`; moving backwards is allowed.
    pub fn set(&self, at: SystemTime) {
        self.set_millis(epoch_millis(at));
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        *self.now.borrow()
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let mut rx = self.now.subscribe();
        let deadline = rx.borrow().saturating_add(whole_millis(duration));
        if self.auto {
            self.now.send_modify(|now| *now = (*now).max(deadline));
            return Box::pin(std::future::ready(()));
        }
        Box::pin(async move {
            loop {
                if *rx.borrow_and_update() >= deadline {
                    return;
                }
                // The sender lives as long as any clone of the clock; once it is gone time can never
                // move again, so park like a timer that is never polled to completion.
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_sleep_wakes_only_after_advance() {
        let clock = ManualClock::at_secs(1_000);
        let handle = tokio::spawn(clock.sleep(Duration::from_secs(60)));
        clock.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!handle.is_finished());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("the sleeper wakes once the deadline passes")
            .expect("the sleeper does not panic");
        assert_eq!(clock.now_secs(), 1_060);
    }

    #[tokio::test]
    async fn auto_advancing_sleep_moves_time_to_each_deadline() {
        let clock = ManualClock::auto_advancing(0);
        clock.sleep(Duration::from_secs(3)).await;
        clock.sleep(Duration::from_millis(250)).await;
        assert_eq!(clock.now_millis(), 3_250);
    }

    #[tokio::test]
    async fn setting_time_backwards_makes_sleepers_wait_for_their_deadline_again() {
        let clock = ManualClock::new(10_000);
        let handle = tokio::spawn(clock.sleep(Duration::from_millis(500)));
        clock.set_millis(5_000);
        tokio::task::yield_now().await;
        assert_eq!(clock.now_millis(), 5_000);
        assert!(!handle.is_finished());
        clock.set(UNIX_EPOCH + Duration::from_millis(10_500));
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("the sleeper wakes at its original deadline")
            .expect("the sleeper does not panic");
    }

    #[test]
    fn every_view_of_a_manual_clock_agrees() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = ManualClock::at(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.now_secs(), 1_700_000_000);
        assert_eq!(clock.now_millis(), 1_700_000_000_000);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now().duration_since(start).expect("forward"), Duration::from_millis(1_500));
        assert_eq!(clock.now_secs(), 1_700_000_001);
    }

    #[test]
    fn clones_share_one_time_and_a_shared_clock_can_be_moved_through_as_manual() {
        let clock = ManualClock::at_secs(100);
        let shared: SharedClock = Arc::new(clock.clone());
        shared.as_manual().expect("a manual clock").advance(Duration::from_secs(5));
        assert_eq!(clock.now_secs(), 105);
        assert!(SystemClock.as_manual().is_none());
        assert!(MonotonicClock::new().as_manual().is_none());
    }

    #[test]
    fn the_monotonic_clock_starts_at_the_wall_clock_and_never_goes_backwards() {
        let before = SystemTime::now();
        let clock = MonotonicClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(a >= before);
        assert!(b >= a);
        assert!(clock.now_millis() >= epoch_millis(a));
    }

    #[tokio::test(start_paused = true)]
    async fn system_sleeps_run_on_tokio_time() {
        // Paused tokio time jumps to the next timer, so an hour passes without waiting for it.
        let started = tokio::time::Instant::now();
        SystemClock.sleep(Duration::from_secs(3600)).await;
        MonotonicClock::new().sleep(Duration::from_secs(60)).await;
        assert!(started.elapsed() >= Duration::from_secs(3660));
    }

    #[test]
    fn times_before_the_epoch_read_as_the_epoch() {
        let clock = ManualClock::at(UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(clock.now_millis(), 0);
    }
}
