//! Time source for everything time-dependent in the simulator (rate-limit windows, scroll expiry,
//! timestamps, webhook retry timing), so tests can drive time by hand instead of sleeping.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A boxed future returned by [`Clock::sleep`].
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of wall-clock time in milliseconds since the Unix epoch, plus a matching sleep.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> SleepFuture;

    /// Whole seconds since the Unix epoch, the unit of every Intercom timestamp.
    fn now_secs(&self) -> u64 {
        self.now_millis() / 1000
    }

    /// The manual clock behind this one, if it is one (lets control APIs move time).
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

/// Shared handle to the simulator's clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real system clock; sleeps with tokio timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        // A system clock before 1970 is a broken machine; report the epoch rather than panic.
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when told to: sleepers wake exactly when [`ManualClock::advance`] passes
/// their deadline, so tests are deterministic and never wait for real time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<u64>>,
}

impl ManualClock {
    /// A manual clock starting at `start_millis` since the Unix epoch.
    pub fn new(start_millis: u64) -> Self {
        let (tx, _rx) = watch::channel(start_millis);
        Self { now: Arc::new(tx) }
    }

    /// A manual clock starting at a whole number of seconds, handy for exact window arithmetic.
    pub fn at_secs(secs: u64) -> Self {
        Self::new(secs * 1000)
    }

    /// Moves the clock forward and wakes every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        let by = by.as_millis() as u64;
        self.now.send_modify(|now| *now += by);
    }

    /// Sets the clock to an absolute time; moving backwards is allowed (tests of clock skew).
    pub fn set_millis(&self, millis: u64) {
        self.now.send_replace(millis);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        *self.now.borrow()
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        let mut rx = self.now.subscribe();
        let deadline = *rx.borrow() + duration.as_millis() as u64;
        Box::pin(async move {
            loop {
                if *rx.borrow_and_update() >= deadline {
                    return;
                }
                // The sender lives as long as any clone of the clock; if it is gone nobody can
                // advance time any more, so the sleep can never end: park forever like a real
                // timer that is never polled to completion.
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
        let sleeper = clock.sleep(Duration::from_secs(60));
        let handle = tokio::spawn(sleeper);
        clock.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!handle.is_finished());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .expect("sleeper must wake once the deadline passes")
            .expect("sleeper task must not panic");
        assert_eq!(clock.now_secs(), 1_060);
    }
}
