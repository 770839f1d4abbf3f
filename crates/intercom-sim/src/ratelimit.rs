//! Intercom's rate limiter: a per-minute limit per app and per workspace, each enforced in fixed
//! 10-second windows aligned to the epoch (limit/6 per window, rounded: 1,000/min allows 167).

use parking_lot::Mutex;

/// Length of one rate-limit window in seconds.
pub const WINDOW_SECS: u64 = 10;

/// The number of requests allowed per 10-second window for a per-minute limit (at least 1).
pub fn per_window(limit_per_minute: u32) -> u32 {
    ((f64::from(limit_per_minute) / 6.0).round() as u32).max(1)
}

/// One counter: the requests used in the current window.
#[derive(Debug)]
pub struct Bucket {
    per_window: u32,
    state: Mutex<(u64, u32)>,
}

/// The state of a bucket after a request was counted (or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketReading {
    /// Requests allowed per window.
    pub limit: u32,
    /// Requests left in the current window.
    pub remaining: u32,
    /// Epoch seconds at which the current window ends.
    pub reset: u64,
}

impl Bucket {
    /// A bucket for a per-minute limit.
    pub fn new(limit_per_minute: u32) -> Self {
        Self { per_window: per_window(limit_per_minute), state: Mutex::new((0, 0)) }
    }

    /// Requests allowed per window.
    pub fn limit(&self) -> u32 {
        self.per_window
    }
}

/// The outcome of admitting one request against its app and workspace buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted; the reading is the tighter of the two buckets, for the response headers.
    Allowed(BucketReading),
    /// Refused; the reading is the bucket that is exhausted.
    Limited(BucketReading),
}

/// Counts one request against `app` and `workspace` at `now_secs`: both must have room, and the
/// request is counted in both only when admitted, so refused requests do not eat the quota.
pub fn admit(app: &Bucket, workspace: &Bucket, now_secs: u64) -> Admission {
    let window = now_secs / WINDOW_SECS;
    let reset = (window + 1) * WINDOW_SECS;
    // Locks are always taken app first, then workspace, so two requests can never deadlock.
    let mut a = app.state.lock();
    let mut w = workspace.state.lock();
    for state in [&mut *a, &mut *w] {
        if state.0 != window {
            *state = (window, 0);
        }
    }
    let reading = |bucket: &Bucket, used: u32| BucketReading {
        limit: bucket.per_window,
        remaining: bucket.per_window.saturating_sub(used),
        reset,
    };
    if a.1 >= app.per_window {
        return Admission::Limited(reading(app, a.1));
    }
    if w.1 >= workspace.per_window {
        return Admission::Limited(reading(workspace, w.1));
    }
    a.1 += 1;
    w.1 += 1;
    let (ra, rw) = (reading(app, a.1), reading(workspace, w.1));
    Admission::Allowed(if rw.remaining < ra.remaining { rw } else { ra })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_window_rounds_like_intercom() {
        assert_eq!(per_window(1_000), 167);
        assert_eq!(per_window(10_000), 1_667);
        assert_eq!(per_window(25_000), 4_167);
        assert_eq!(per_window(6), 1);
        assert_eq!(per_window(1), 1);
    }

    #[test]
    fn window_boundaries_are_exact() {
        let app = Bucket::new(12); // 2 per window
        let ws = Bucket::new(25_000);
        let t = 1_700_000_000; // a multiple of 10: the start of a window
        assert!(
            matches!(admit(&app, &ws, t), Admission::Allowed(r) if r.remaining == 1 && r.reset == t + 10)
        );
        assert!(matches!(admit(&app, &ws, t + 9), Admission::Allowed(r) if r.remaining == 0));
        assert!(
            matches!(admit(&app, &ws, t + 9), Admission::Limited(r) if r.limit == 2 && r.reset == t + 10)
        );
        assert!(
            matches!(admit(&app, &ws, t + 10), Admission::Allowed(r) if r.remaining == 1 && r.reset == t + 20)
        );
    }
}
