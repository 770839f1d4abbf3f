//! The admin API under `/admin`: dead letters, replay, and re-enabling destinations. Every request
//! needs `Authorization: Bearer <admin.key>` (the scheme name in any case, as RFC 7235 says);
//! without an `admin.key` the API answers 404. Errors are [`HttpError`]s (docs/errors.md).
//!
//! Failed authentications are throttled per client address: after [`MAX_FAILURES`] within
//! [`FAILURE_WINDOW`], every admin request from that address gets 429 with `Retry-After` until the
//! window ends, without the key being looked at. Addresses elsewhere are not affected. A right key
//! does not clear the count: behind a proxy or NAT every caller shares one address, and a clearing
//! success would give a guesser there a fresh allowance after each call of the real admin. So a
//! guesser there locks the real admin out too until the window ends; `server.internal_listen` is
//! what keeps the admin API off the public path, where strangers share no address with operators.
//! Each attempt is counted before its key is compared (and the count given back if the key was
//! right), so that concurrent requests cannot all slip past the limit before one failure lands.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_clock::SharedClock;
use tokio::sync::Notify;

use crate::http_error::{ErrorCode, HttpError};
use crate::logging::WarnSampler;
use crate::secrets::Secret;
use crate::store::{DeadLetterFilter, Store, StoreError, now_millis};
use crate::telemetry::names;

/// Dead letters listed per request when `limit` is not given.
const DEFAULT_LIST_LIMIT: usize = 1000;
/// Failed authentications from one client address that start its throttling.
pub const MAX_FAILURES: u32 = 10;
/// The window those failures are counted in, and how long the throttling then lasts at most.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Client addresses tracked at once: a bound on the throttle's memory under a distributed attack.
/// Beyond it, new addresses share one overflow window until old windows expire: the throttle fails
/// closed rather than stop counting.
const MAX_TRACKED: usize = 10_000;
/// At most one WARN line about throttled addresses in this long, whatever the number of addresses;
/// `admin_auth_failures_total` counts every failure.
pub const THROTTLE_WARN_EVERY: Duration = Duration::from_secs(60);

/// What the admin API needs.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The bearer key; `None` turns the API off.
    pub key: Option<Secret>,
    /// Wakes the dispatcher after a replay.
    pub wake: Arc<Notify>,
    /// When a replayed dead letter is due (now, on the service's clock).
    pub clock: SharedClock,
}

/// The `/admin` routes, every one behind the bearer key.
pub fn router(state: AdminState) -> Router {
    let guard = Guard {
        state: state.clone(),
        throttle: Arc::new(AuthThrottle::default()),
        warnings: Arc::new(WarnSampler::new(THROTTLE_WARN_EVERY)),
    };
    Router::new()
        .route("/dlq", get(list))
        .route("/dlq/replay", post(replay))
        .route("/destinations", get(destinations))
        .route("/destinations/{name}/enable", post(enable))
        .route_layer(middleware::from_fn_with_state(guard, require_key))
        .with_state(state)
}

/// What the key check needs: the key, the clock, the failures seen per client address, and the
/// sampler of the WARN lines about them (one key: sampled across all addresses).
#[derive(Debug, Clone)]
struct Guard {
    state: AdminState,
    throttle: Arc<AuthThrottle>,
    warnings: Arc<WarnSampler<()>>,
}

async fn require_key(
    State(guard): State<Guard>,
    request: Request,
    next: Next,
) -> Result<Response, HttpError> {
    let Some(key) = &guard.state.key else {
        return Err(HttpError::new(
            ErrorCode::AdminDisabled,
            "the admin API is off; set admin.key to turn it on",
        ));
    };
    // Without the connection's address (a router served without connect info) every caller shares one.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
    let now = guard.state.clock.now_millis();
    let attempt = match guard.throttle.reserve(client, now) {
        Ok(attempt) => attempt,
        Err(wait) => {
            metrics::counter!(names::ADMIN_AUTH_FAILURES, "result" => "throttled").increment(1);
            return Err(throttled(wait));
        }
    };
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    // Hashing both sides first makes the comparison constant-time regardless of length.
    let matches =
        key.with_value(|k| Sha256::digest(k.as_bytes()).ct_eq(&Sha256::digest(presented.as_bytes())));
    if bool::from(matches) {
        // The attempt was no failure; the failures of others on this address still stand.
        guard.throttle.give_back(attempt);
        return Ok(next.run(request).await);
    }
    metrics::counter!(names::ADMIN_AUTH_FAILURES, "result" => "unauthorized").increment(1);
    if attempt.starts_throttling()
        && let Some(suppressed) = guard.warnings.admit((), guard.state.clock.as_ref())
    {
        // The address itself is not logged (personal data); sampled across all addresses, so that
        // a distributed attack cannot turn this into a log flood.
        tracing::warn!(
            failures = MAX_FAILURES,
            window = %humantime::format_duration(FAILURE_WINDOW),
            suppressed,
            "admin authentication keeps failing from a client address; its admin requests get 429 \
             until the window ends (at most one such line every {}; {suppressed} more addresses \
             throttled since the last one; admin_auth_failures_total counts every failure)",
            humantime::format_duration(THROTTLE_WARN_EVERY)
        );
    }
    Err(HttpError::new(
        ErrorCode::Unauthorized,
        "missing or wrong admin key; send Authorization: Bearer <admin.key>",
    ))
}

/// The 429 of an address that has used up its failures.
fn throttled(wait: Duration) -> HttpError {
    HttpError::new(
        ErrorCode::AdminThrottled,
        format!(
            "too many failed admin authentications from this address (at least {MAX_FAILURES} within {}); \
             wait for Retry-After, then send Authorization: Bearer <admin.key>",
            humantime::format_duration(FAILURE_WINDOW)
        ),
    )
    .retry_after(wait)
}

/// The credentials of `Authorization: Bearer <token>`. Auth-scheme names are case-insensitive
/// (RFC 7235 section 2.1), so `bearer` and `BEARER` are the same scheme; one or more spaces separate
/// it from the token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim_start_matches(' '))
}

/// Failed admin authentications per client address, each counted in a fixed window that starts at
/// its first attempt. IPv6 addresses count by /64, the block one host usually gets, so that an
/// attacker cannot rotate through a single allocation.
#[derive(Debug, Default)]
struct AuthThrottle {
    state: Mutex<Throttled>,
}

/// The throttle's state, behind one lock so that checking and counting an attempt is one step.
#[derive(Debug, Default)]
struct Throttled {
    windows: HashMap<IpAddr, FailureWindow>,
    /// Each window's address in the order the windows started, so the expired ones are found at the
    /// front without a scan. An address whose window restarted has a stale entry further ahead; it is
    /// dropped when it reaches the front.
    started: VecDeque<(u64, IpAddr)>,
    /// Shared by the addresses that find the table full.
    overflow: FailureWindow,
}

#[derive(Debug, Clone, Copy, Default)]
struct FailureWindow {
    /// When the first attempt of the window happened (Unix ms).
    started: u64,
    /// Attempts counted in it: failures, and checks still in progress.
    failures: u32,
}

impl FailureWindow {
    fn ends(self) -> u64 {
        self.started.saturating_add(u64::try_from(FAILURE_WINDOW.as_millis()).unwrap_or(u64::MAX))
    }

    /// Whether the window still counts at `now`; a clock stepped backwards ends it too.
    fn open_at(self, now: u64) -> bool {
        now >= self.started && now < self.ends()
    }

    /// Counts an attempt at `now`, or says how long to wait if the failures are used up.
    fn reserve(&mut self, now: u64) -> Result<u32, Duration> {
        if !self.open_at(now) {
            *self = FailureWindow { started: now, failures: 0 };
        }
        if self.failures >= MAX_FAILURES {
            // Retry-After is in whole seconds: round up, so a caller that waits it out is let in.
            return Err(Duration::from_secs((self.ends() - now).div_ceil(1000)));
        }
        self.failures += 1;
        Ok(self.failures)
    }
}

/// Which window an attempt was counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Address(IpAddr),
    Overflow,
}

/// An attempt counted before its key was compared.
#[derive(Debug, Clone, Copy)]
#[must_use = "an attempt is a failure unless given back"]
struct Attempt {
    slot: Slot,
    /// The start of the window it was counted in, so that giving it back cannot touch a later one.
    window: u64,
    /// Its place in the window: the [`MAX_FAILURES`]th starts the throttling if it fails.
    nth: u32,
}

impl Attempt {
    /// Whether this attempt, failed, is the one that starts its address's throttling.
    fn starts_throttling(self) -> bool {
        self.nth == MAX_FAILURES
    }
}

impl AuthThrottle {
    fn state(&self) -> std::sync::MutexGuard<'_, Throttled> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an attempt from `client` before its key is looked at; `Err(wait)` when the address
    /// has used up its failures.
    fn reserve(&self, client: IpAddr, now: u64) -> Result<Attempt, Duration> {
        let mut state = self.state();
        let state = &mut *state;
        state.drop_expired(now);
        let key = bucket(client);
        let slot = if state.windows.contains_key(&key) || state.windows.len() < MAX_TRACKED {
            Slot::Address(key)
        } else {
            Slot::Overflow
        };
        let window = match slot {
            Slot::Address(key) => match state.windows.entry(key) {
                Entry::Occupied(window) => window.into_mut(),
                Entry::Vacant(window) => {
                    state.started.push_back((now, key));
                    window.insert(FailureWindow { started: now, failures: 0 })
                }
            },
            Slot::Overflow => &mut state.overflow,
        };
        let before = window.started;
        let nth = window.reserve(now)?;
        let started = window.started;
        if let Slot::Address(key) = slot
            && started != before
        {
            // The address's old window ended and a new one began: it expires on its own time.
            state.started.push_back((started, key));
        }
        Ok(Attempt { slot, window: started, nth })
    }

    /// Takes back an attempt whose key was right: it is no failure. Others' failures stay.
    fn give_back(&self, attempt: Attempt) {
        let mut state = self.state();
        let window = match attempt.slot {
            Slot::Address(key) => state.windows.get_mut(&key),
            Slot::Overflow => Some(&mut state.overflow),
        };
        if let Some(window) = window
            && window.started == attempt.window
        {
            window.failures = window.failures.saturating_sub(1);
        }
    }
}

impl Throttled {
    /// Forgets the windows that have ended, oldest first; stops at the first that still counts.
    fn drop_expired(&mut self, now: u64) {
        while let Some(&(started, key)) = self.started.front() {
            let first = FailureWindow { started, failures: 0 };
            if first.open_at(now) {
                break;
            }
            self.started.pop_front();
            // Only if the address's window is still the one this entry recorded (not restarted since).
            if self.windows.get(&key).is_some_and(|w| w.started == started) {
                self.windows.remove(&key);
            }
        }
    }
}

/// The key an address is counted under: itself for IPv4, its /64 for IPv6 (an IPv4-mapped IPv6
/// address counts as the IPv4 one).
fn bucket(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V4(_) => client,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(segments))
            }
        },
    }
}

/// A 503 for a store that failed; the store's errors name no secret or personal data.
fn store_unavailable(error: StoreError) -> HttpError {
    HttpError::new(
        ErrorCode::StoreUnavailable,
        format!("{error}; retry, and check the service's log if it persists"),
    )
}

/// Query of `GET /admin/dlq`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    destination: Option<String>,
    /// Unix milliseconds.
    since: Option<i64>,
    limit: Option<usize>,
}

async fn list(
    State(state): State<AdminState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Query(q) = query?;
    // A default page keeps an unbounded dead-letter queue from becoming an unbounded response.
    let limit = Some(q.limit.unwrap_or(DEFAULT_LIST_LIMIT));
    let filter = DeadLetterFilter { destination: q.destination, since: q.since, id: None, limit };
    let dead = state.store.dead_letters(filter).await.map_err(store_unavailable)?;
    Ok(Json(json!({ "dead_letters": dead })))
}

/// Body of `POST /admin/dlq/replay`: `{"id": 42}` or `{"all": true, "since": ms, "destination": "app"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    id: Option<i64>,
    #[serde(default)]
    all: bool,
    since: Option<i64>,
    destination: Option<String>,
}

async fn replay(
    State(state): State<AdminState>,
    body: Result<Option<Json<ReplayRequest>>, JsonRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Some(Json(request)) = body? else {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            "send a JSON body: {\"id\": N} or {\"all\": true}",
        ));
    };
    if request.id.is_some() == request.all {
        return Err(HttpError::new(ErrorCode::BadRequest, "give exactly one of \"id\" or \"all\": true"));
    }
    let filter = DeadLetterFilter {
        destination: request.destination,
        since: request.since,
        id: request.id,
        limit: None,
    };
    let replayed =
        state.store.replay(now_millis(state.clock.as_ref()), filter).await.map_err(store_unavailable)?;
    state.wake.notify_one();
    tracing::info!(replayed, "dead letters replayed through the admin API");
    Ok(Json(json!({ "replayed": replayed })))
}

async fn destinations(State(state): State<AdminState>) -> Result<Json<serde_json::Value>, HttpError> {
    let disabled = state.store.disabled_destinations().await.map_err(store_unavailable)?;
    Ok(Json(json!({ "disabled": disabled })))
}

async fn enable(
    State(state): State<AdminState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Path(name) = name?;
    state.store.set_destination_disabled(&name, None).await.map_err(store_unavailable)?;
    state.wake.notify_one();
    tracing::info!(destination = %name, "destination enabled through the admin API");
    Ok(Json(json!({ "enabled": name })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for header in ["Bearer k-1", "bearer k-1", "BEARER k-1", "bEaReR   k-1"] {
            assert_eq!(bearer_token(header), Some("k-1"), "{header}");
        }
        for header in ["Basic k-1", "Bearerk-1", "k-1", ""] {
            assert_eq!(bearer_token(header), None, "{header}");
        }
    }

    /// `n` attempts from `client` at `now` whose keys were wrong.
    fn fail(throttle: &AuthThrottle, client: IpAddr, now: u64, n: u32) -> Vec<Attempt> {
        (0..n).map(|_| throttle.reserve(client, now).expect("not throttled yet")).collect()
    }

    const T0: u64 = 1_800_000_000_000;

    fn window_ms() -> u64 {
        u64::try_from(FAILURE_WINDOW.as_millis()).unwrap()
    }

    #[test]
    fn failures_are_counted_per_address_in_a_window() {
        let throttle = AuthThrottle::default();
        let (a, b) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        let attempts = fail(&throttle, a, T0, MAX_FAILURES);
        let starting: Vec<bool> = attempts.iter().map(|a| a.starts_throttling()).collect();
        assert_eq!(starting.iter().filter(|s| **s).count(), 1, "only the tenth starts the throttling");
        assert!(starting[9]);
        assert_eq!(throttle.reserve(a, T0 + 100).unwrap_err(), FAILURE_WINDOW, "rounded up to whole seconds");
        assert!(throttle.reserve(b, T0 + 100).is_ok(), "another address is not affected");
        let end = T0 + window_ms();
        assert_eq!(throttle.reserve(a, end - 1).unwrap_err(), Duration::from_secs(1));
        let fresh = throttle.reserve(a, end).expect("the window ends");
        assert_eq!(fresh.nth, 1, "a new window starts from one attempt");
    }

    #[test]
    fn a_right_key_gives_back_its_own_attempt_and_clears_nobody_elses() {
        // Behind a proxy every caller shares an address: the admin's success must not hand the
        // guesser there a fresh allowance.
        let throttle = AuthThrottle::default();
        let shared = IpAddr::from([10, 0, 0, 1]);
        let _ = fail(&throttle, shared, T0, MAX_FAILURES - 1);
        let admin = throttle.reserve(shared, T0).unwrap();
        throttle.give_back(admin);
        let last = throttle.reserve(shared, T0).unwrap();
        assert!(last.starts_throttling(), "the guesser's tenth failure still starts the throttling");
        assert!(throttle.reserve(shared, T0).is_err(), "then everyone there waits for the window");
    }

    #[test]
    fn attempts_in_progress_count_against_the_limit() {
        // Concurrent checks: each is counted before its key is compared, so no more than the limit
        // can be in progress, whatever their number.
        let throttle = AuthThrottle::default();
        let client = IpAddr::from([127, 0, 0, 1]);
        let in_progress: Vec<_> = (0..100).filter_map(|_| throttle.reserve(client, T0).ok()).collect();
        assert_eq!(in_progress.len(), MAX_FAILURES as usize);
        // A give-back from an earlier window leaves the current one alone.
        let later = T0 + window_ms();
        let now_running = throttle.reserve(client, later).unwrap();
        for attempt in in_progress {
            throttle.give_back(attempt);
        }
        let _ = fail(&throttle, client, later, MAX_FAILURES - 1);
        assert!(throttle.reserve(client, later).is_err(), "{now_running:?} still counts");
    }

    #[test]
    fn a_full_table_fails_closed_and_frees_itself_as_windows_end() {
        let throttle = AuthThrottle::default();
        let address = |n: usize| IpAddr::from(u32::try_from(n).unwrap().to_be_bytes());
        for n in 0..MAX_TRACKED {
            let _ = throttle.reserve(address(n), T0 + (n as u64 % 1000));
        }
        // Untracked addresses share one window: together they get the limit, not each of them.
        let t = T0 + 1000;
        for n in 0..MAX_FAILURES {
            let attempt = throttle.reserve(address(MAX_TRACKED + n as usize), t).unwrap();
            assert_eq!(attempt.slot, Slot::Overflow);
        }
        assert!(throttle.reserve(address(MAX_TRACKED + 500), t).is_err(), "the overflow is throttled");
        assert!(throttle.reserve(address(5), t).is_ok(), "tracked addresses keep their own window");
        // Windows ending make room again, oldest first.
        let t = T0 + window_ms() + 10;
        let attempt = throttle.reserve(address(MAX_TRACKED + 600), t).unwrap();
        assert!(matches!(attempt.slot, Slot::Address(_)), "{attempt:?}");
        let state = throttle.state();
        assert!(state.windows.len() < MAX_TRACKED, "{} windows left", state.windows.len());
        assert!(state.started.len() <= state.windows.len() + 1, "{} queued", state.started.len());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_block() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_block: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other_block: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket(one), bucket(same_block));
        assert_ne!(bucket(one), bucket(other_block));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(bucket(mapped), IpAddr::from([192, 0, 2, 7]));
    }
}
