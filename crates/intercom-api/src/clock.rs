//! Time for the pacer and the retry loop: wall-clock milliseconds since the epoch (the unit of
//! `X-RateLimit-Reset`) and a matching sleep, behind a trait so tests drive time by hand instead of
//! waiting for it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// The future returned by [`Clock::sleep`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of wall-clock time plus a sleep that completes on the same clock.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> u64;

    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// A clock shared by a client, its clones and its pacer.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock, sleeping with tokio timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        // A clock before 1970 is a broken machine; the epoch keeps arithmetic saturating, not panicking.
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to, for deterministic tests.
///
/// In the default mode a sleeper wakes when [`ManualClock::advance`] passes its deadline. In
/// *auto-advance* mode ([`ManualClock::auto_advancing`]) every sleep moves the clock to its own
/// deadline and completes at once: virtual time for single-task tests of waits and backoff.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<u64>>,
    auto: bool,
}

impl ManualClock {
    /// A manual clock at `start_millis` since the epoch; sleepers wait for [`ManualClock::advance`].
    pub fn new(start_millis: u64) -> Self {
        let (tx, _rx) = watch::channel(start_millis);
        Self { now: Arc::new(tx), auto: false }
    }

    /// A clock at `start_millis` whose sleeps jump time forward to their deadline immediately.
    pub fn auto_advancing(start_millis: u64) -> Self {
        Self { auto: true, ..Self::new(start_millis) }
    }

    /// Moves the clock forward, waking every sleeper whose deadline has passed.
    pub fn advance(&self, by: Duration) {
        let by = by.as_millis() as u64;
        self.now.send_modify(|now| *now += by);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        *self.now.borrow()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let deadline = self.now_millis() + duration.as_millis() as u64;
        if self.auto {
            self.now.send_modify(|now| *now = (*now).max(deadline));
            return Box::pin(std::future::ready(()));
        }
        let mut rx = self.now.subscribe();
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
        let clock = ManualClock::new(1_000);
        let handle = tokio::spawn(clock.sleep(Duration::from_millis(500)));
        clock.advance(Duration::from_millis(499));
        tokio::task::yield_now().await;
        assert!(!handle.is_finished());
        clock.advance(Duration::from_millis(1));
        handle.await.expect("sleeper completes");
        assert_eq!(clock.now_millis(), 1_500);
    }

    #[tokio::test]
    async fn auto_advancing_sleep_moves_time() {
        let clock = ManualClock::auto_advancing(0);
        clock.sleep(Duration::from_secs(3)).await;
        clock.sleep(Duration::from_millis(250)).await;
        assert_eq!(clock.now_millis(), 3_250);
    }
}
