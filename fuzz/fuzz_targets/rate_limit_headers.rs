//! `Retry-After` and `X-RateLimit-*` parsing in the client (crates/intercom-api: error.rs, retry.rs,
//! pacer.rs): an answer's status and headers are classified as the client does, then fed to the
//! retry policy and to a pacer on a virtual clock.
//!
//! Input: the status on the first line, then `name: value` header lines. Checks: the parsed values
//! agree with an independent reading of the headers; a retry never waits longer than the policy's
//! cap; the pacer honours `Retry-After` and an exhausted window, and never counts more requests
//! against a window than its budget. Nothing may panic or overflow on any header value.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use intercom_api::clock::{Clock, ManualClock};
use intercom_api::fuzzing::error_from_response;
use intercom_api::pacer::{Feedback, MAX_RETRY_AFTER, Pacer, PacerConfig, WindowPacer};
use intercom_api::{ErrorKind, RetryPolicy};
use libfuzzer_sys::fuzz_target;

const NOW_MILLIS: u64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let status = lines.next().and_then(|l| l.trim().parse::<u16>().ok()).unwrap_or(429);
    if !(100..=999).contains(&status) {
        return;
    }
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (Ok(name), Ok(value)) = (HeaderName::try_from(name.trim()), HeaderValue::try_from(value.trim()))
        else {
            continue;
        };
        headers.append(name, value);
    }
    let now = SystemTime::UNIX_EPOCH + Duration::from_millis(NOW_MILLIS);
    let error = error_from_response(status, &headers, b"", now);

    // An independent reading of the headers (the first value of each, as HeaderMap::get gives).
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    match error.rate_limit() {
        Some(rl) => {
            assert_eq!(Some(u64::from(rl.limit)), number("x-ratelimit-limit"));
            assert_eq!(Some(u64::from(rl.remaining)), number("x-ratelimit-remaining"));
            assert_eq!(Some(rl.reset), number("x-ratelimit-reset"));
        }
        None => assert!(
            number("x-ratelimit-limit").and_then(|n| u32::try_from(n).ok()).is_none()
                || number("x-ratelimit-remaining").and_then(|n| u32::try_from(n).ok()).is_none()
                || number("x-ratelimit-reset").is_none()
        ),
    }
    if let Some(secs) = number("retry-after") {
        assert_eq!(error.retry_after(), Some(Duration::from_secs(secs)));
    }

    // The retry policy: a rate-limit wait is capped, anything else waits the backoff ceiling.
    let policy = RetryPolicy { jitter: false, reset_jitter: Duration::ZERO, ..RetryPolicy::default() };
    let ceiling = Duration::from_millis(700);
    let delay = policy.delay(&error, Some(ceiling), NOW_MILLIS).expect("a ceiling leaves budget");
    if error.kind() == ErrorKind::RateLimited {
        assert!(delay <= policy.max_reset_wait, "{delay:?}");
    } else {
        assert_eq!(delay, ceiling);
    }

    // The pacer: probe, report this answer, then ask for more permits on virtual time.
    let clock = ManualClock::auto_advancing(NOW_MILLIS);
    let pacer = WindowPacer::with_clock(PacerConfig::default(), Arc::new(clock.clone()));
    let probe = futures::executor::block_on(pacer.acquire());
    let feedback =
        Feedback { status: Some(status), rate_limit: error.rate_limit(), retry_after: error.retry_after() };
    probe.complete(&feedback);
    let reported = clock.now_millis();
    for n in 0..3 {
        let permit = futures::executor::block_on(pacer.acquire());
        let granted = clock.now_millis();
        if n == 0 {
            if let (429, Some(after)) = (status, error.retry_after()) {
                let after = after.min(MAX_RETRY_AFTER).as_millis() as u64;
                assert!(granted >= reported.saturating_add(after), "granted before Retry-After passed");
            }
            // The pacer keeps send times as f64 milliseconds, exact up to 2^53 ms (the year 287,396);
            // a reset beyond that may be granted a few milliseconds early, which is no bug.
            if let Some(rl) = error.rate_limit().filter(|rl| rl.remaining == 0 && rl.reset < (1 << 53) / 1000) {
                assert!(granted >= rl.reset.saturating_mul(1000), "granted in an exhausted window");
            }
        }
        let snapshot = pacer.snapshot();
        if let Some(budget) = snapshot.budget {
            assert!(snapshot.used <= budget, "{snapshot:?}");
        }
        drop(permit);
    }
});
