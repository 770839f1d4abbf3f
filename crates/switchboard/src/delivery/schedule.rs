//! When to try a failed delivery again.

use std::time::Duration;

use rand::Rng;

/// Delays between attempts, with ±20% jitter so that many failed deliveries do not retry in step.
#[derive(Debug, Clone)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    /// A schedule with these delays; after `delays.len()` retries a delivery is dead-lettered.
    pub fn new(delays: Vec<Duration>) -> Self {
        RetrySchedule { delays }
    }

    /// The delay before the next attempt after `attempts_made` failed attempts, or `None` when the
    /// schedule is exhausted. A destination's `Retry-After` is honoured within bounds: never sooner
    /// than the schedule says, never later than its last step.
    pub fn next_delay(&self, attempts_made: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let base = *self.delays.get(attempts_made.saturating_sub(1) as usize)?;
        let jittered = base.mul_f64(rand::rng().random_range(0.8..=1.2));
        let ceiling = self.delays.iter().max().copied().unwrap_or(base);
        Some(match retry_after {
            Some(asked) => asked.clamp(jittered, ceiling.max(jittered)),
            None => jittered,
        })
    }

    /// How many attempts a delivery gets in all.
    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    httpdate::parse_http_date(value).ok().map(|at| at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule::new(vec![Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(120)])
    }

    #[test]
    fn delays_follow_the_schedule_with_jitter_then_stop() {
        let s = schedule();
        for _ in 0..200 {
            let first = s.next_delay(1, None).unwrap();
            assert!(first >= Duration::from_secs(4) && first <= Duration::from_secs(6), "{first:?}");
            let third = s.next_delay(3, None).unwrap();
            assert!(third >= Duration::from_secs(96) && third <= Duration::from_secs(144), "{third:?}");
        }
        assert_eq!(s.next_delay(4, None), None, "three retries, then dead");
        assert_eq!(s.max_attempts(), 4);
    }

    #[test]
    fn retry_after_is_honoured_within_bounds() {
        let s = schedule();
        let asked = s.next_delay(1, Some(Duration::from_secs(60))).unwrap();
        assert_eq!(asked, Duration::from_secs(60), "a longer wait is honoured");
        let too_soon = s.next_delay(2, Some(Duration::from_secs(1))).unwrap();
        assert!(too_soon >= Duration::from_secs(24), "never sooner than the schedule: {too_soon:?}");
        let too_late = s.next_delay(1, Some(Duration::from_secs(86_400))).unwrap();
        assert_eq!(too_late, Duration::from_secs(120), "never later than the last step");
    }

    #[test]
    fn parses_both_retry_after_forms() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:29:30 GMT", now), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
