//! Time for the alert engine, injectable so tests drive windows and hysteresis without sleeping.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Where the alert engine reads the time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time. Successive calls never go backwards.
    fn now(&self) -> SystemTime;
}

/// The system clock, made monotonic: a wall-clock step (NTP) must not shrink or stretch windows.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    wall: SystemTime,
    mono: Instant,
}

impl SystemClock {
    /// A clock anchored at the current wall time.
    pub fn new() -> Self {
        SystemClock { wall: SystemTime::now(), mono: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        self.wall + self.mono.elapsed()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn at(start: SystemTime) -> Self {
        ManualClock { now: Mutex::new(start) }
    }

    /// A clock stopped at `secs` seconds after the Unix epoch.
    pub fn at_secs(secs: u64) -> Self {
        ManualClock::at(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::at_secs(1_700_000_000);
        let t0 = clock.now();
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now().duration_since(t0).unwrap(), Duration::from_secs(61));
    }

    #[test]
    fn system_clock_does_not_go_backwards() {
        let clock = SystemClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
    }
}
