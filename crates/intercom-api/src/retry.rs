//! When to retry and how long to wait.
//!
//! - 429: wait until `X-RateLimit-Reset` plus a little jitter (so clients sharing a limit do not
//!   all return at once); `Retry-After` wins when present.
//! - 408, 500, 502, 503, 504, timeouts and connection failures: exponential backoff with full
//!   jitter (a random wait between zero and `min(cap, base × 2^n)`).
//! - Non-idempotent writes (create contact, data event, reply, merge) are retried only when the
//!   failure proves the request did not take effect (429, 503, no connection); otherwise the error
//!   becomes [`crate::ErrorKind::OutcomeUnknown`].
//!
//! The exponential ceiling comes from `backon`'s [`ExponentialBuilder`]; this module adjusts each
//! delay for full jitter and for rate-limit resets, which `backon` cannot express on its own.

use std::time::Duration;

use backon::ExponentialBuilder;
use rand::Rng;

use crate::error::{Error, ErrorKind};

/// Whether sending a request twice can do harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, updates, deletes, upserts keyed by your id, searches: safe to resend.
    Idempotent,
    /// Creates that Intercom does not deduplicate: resent only when provably not applied.
    NonIdempotent,
}

/// How often and how patiently to retry. Every delay is configurable so tests can shrink them.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 4). 1 disables retries.
    pub max_attempts: u32,
    /// First backoff ceiling (default 500 ms); doubles per retry.
    pub base_delay: Duration,
    /// Cap of the backoff ceilings (default 60 s).
    pub max_delay: Duration,
    /// Longest wait for a rate-limit reset or a `Retry-After` (default 60 s).
    pub max_reset_wait: Duration,
    /// Full jitter on backoff (default on); off gives the bare ceiling, for deterministic tests.
    pub jitter: bool,
    /// Upper bound of the random extra wait after a rate-limit reset (default 1 s).
    pub reset_jitter: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_reset_wait: Duration::from_secs(60),
            jitter: true,
            reset_jitter: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The backoff ceilings (base × 2^n, capped), one per allowed retry.
    pub(crate) fn schedule(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
    }

    /// Whether `error` should be retried for a request of this idempotency.
    pub fn should_retry(&self, error: &Error, idempotency: Idempotency) -> bool {
        match idempotency {
            Idempotency::Idempotent => error.is_transient(),
            Idempotency::NonIdempotent => error.is_transient() && error.provably_not_applied(),
        }
    }

    /// The wait before the next attempt, given the schedule's ceiling (`None`: budget spent).
    pub fn delay(&self, error: &Error, ceiling: Option<Duration>, now_millis: u64) -> Option<Duration> {
        let ceiling = ceiling?;
        if error.kind() == ErrorKind::RateLimited {
            if let Some(after) = error.retry_after() {
                return Some(after.min(self.max_reset_wait));
            }
            if let Some(rl) = error.rate_limit() {
                let until_reset = (rl.reset * 1000).saturating_sub(now_millis);
                let wait = Duration::from_millis(until_reset) + self.random_upto(self.reset_jitter);
                return Some(wait.min(self.max_reset_wait));
            }
        }
        Some(if self.jitter { self.random_upto(ceiling) } else { ceiling })
    }

    fn random_upto(&self, max: Duration) -> Duration {
        if max.is_zero() {
            return Duration::ZERO;
        }
        Duration::from_micros(rand::rng().random_range(0..=max.as_micros() as u64))
    }
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;
    use http::{HeaderMap, HeaderValue};

    use super::*;

    fn error(status: u16, headers: &[(&'static str, &str)]) -> Error {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_str(v).expect("valid"));
        }
        Error::from_response(status, &h, b"", std::time::SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn ceilings_double_up_to_the_cap_and_stop_at_the_budget() {
        let policy = RetryPolicy { max_delay: Duration::from_secs(2), ..RetryPolicy::default() };
        let ceilings: Vec<Duration> = policy.schedule().build().collect();
        assert_eq!(
            ceilings,
            vec![Duration::from_millis(500), Duration::from_secs(1), Duration::from_secs(2)]
        );
    }

    #[test]
    fn full_jitter_stays_under_the_ceiling() {
        let policy = RetryPolicy::default();
        let e = error(503, &[]);
        for _ in 0..200 {
            let d = policy.delay(&e, Some(Duration::from_secs(4)), 0).expect("budget left");
            assert!(d <= Duration::from_secs(4));
        }
        assert_eq!(policy.delay(&e, None, 0), None, "no ceiling means the budget is spent");
    }

    #[test]
    fn rate_limits_wait_for_the_reset_and_retry_after_wins() {
        let policy = RetryPolicy { reset_jitter: Duration::ZERO, ..RetryPolicy::default() };
        let reset =
            [("x-ratelimit-limit", "10"), ("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1000")];
        let e = error(429, &reset);
        assert_eq!(
            policy.delay(&e, Some(Duration::from_millis(1)), 997_250),
            Some(Duration::from_millis(2_750))
        );
        let e = error(429, &[reset[0], reset[1], reset[2], ("retry-after", "3")]);
        assert_eq!(policy.delay(&e, Some(Duration::from_millis(1)), 997_250), Some(Duration::from_secs(3)));
        let far = error(429, &[reset[0], reset[1], ("x-ratelimit-reset", "99999")]);
        assert_eq!(
            policy.delay(&far, Some(Duration::from_millis(1)), 0),
            Some(Duration::from_secs(60)),
            "capped"
        );
    }

    #[test]
    fn non_idempotent_writes_retry_only_when_not_applied() {
        let p = RetryPolicy::default();
        for (status, idempotent, non_idempotent) in [
            (429, true, true),
            (503, true, true),
            (500, true, false),
            (502, true, false),
            (504, true, false),
            (408, true, false),
            (400, false, false),
        ] {
            let e = error(status, &[]);
            assert_eq!(p.should_retry(&e, Idempotency::Idempotent), idempotent, "{status} idempotent");
            assert_eq!(
                p.should_retry(&e, Idempotency::NonIdempotent),
                non_idempotent,
                "{status} non-idempotent"
            );
        }
    }
}
