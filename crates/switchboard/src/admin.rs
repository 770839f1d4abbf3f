//! The admin API under `/admin`: dead letters, replay, and re-enabling destinations. Every request
//! needs `Authorization: Bearer <admin.key>` (the scheme name in any case, as RFC 7235 says);
//! without an `admin.key` the API answers 404. Errors are [`HttpError`]s (docs/errors.md).
//!
//! Failed authentications are throttled per client address: after [`MAX_FAILURES`] within
//! [`FAILURE_WINDOW`], every admin request from that address gets 429 with `Retry-After` until the
//! window ends, without the key being looked at. Addresses elsewhere are not affected.

use std::collections::HashMap;
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
use crate::secrets::Secret;
use crate::store::{DeadLetterFilter, Store, StoreError, now_millis};

/// Dead letters listed per request when `limit` is not given.
const DEFAULT_LIST_LIMIT: usize = 1000;
/// Failed authentications from one client address that start its throttling.
pub const MAX_FAILURES: u32 = 10;
/// The window those failures are counted in, and how long the throttling then lasts at most.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Client addresses tracked at once: a bound on the throttle's memory under a distributed attack.
/// Beyond it, new addresses go untracked until old windows expire (the key's length still holds).
const MAX_TRACKED: usize = 10_000;

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
    let guard = Guard { state: state.clone(), throttle: Arc::new(AuthThrottle::default()) };
    Router::new()
        .route("/dlq", get(list))
        .route("/dlq/replay", post(replay))
        .route("/destinations", get(destinations))
        .route("/destinations/{name}/enable", post(enable))
        .route_layer(middleware::from_fn_with_state(guard, require_key))
        .with_state(state)
}

/// What the key check needs: the key, the clock, and the failures seen per client address.
#[derive(Debug, Clone)]
struct Guard {
    state: AdminState,
    throttle: Arc<AuthThrottle>,
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
    if let Some(wait) = guard.throttle.blocked(client, now) {
        return Err(HttpError::new(
            ErrorCode::AdminThrottled,
            format!(
                "too many failed admin authentications from this address (at least {MAX_FAILURES} within {}); \
                 wait for Retry-After, then send Authorization: Bearer <admin.key>",
                humantime::format_duration(FAILURE_WINDOW)
            ),
        )
        .retry_after(wait));
    }
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
        guard.throttle.succeeded(client);
        Ok(next.run(request).await)
    } else {
        if guard.throttle.failed(client, now) {
            // Once per window and address; the address itself is not logged (personal data).
            tracing::warn!(
                failures = MAX_FAILURES,
                window = %humantime::format_duration(FAILURE_WINDOW),
                "admin authentication keeps failing from one client address; its admin requests get 429 \
                 until the window ends"
            );
        }
        Err(HttpError::new(
            ErrorCode::Unauthorized,
            "missing or wrong admin key; send Authorization: Bearer <admin.key>",
        ))
    }
}

/// The credentials of `Authorization: Bearer <token>`. Auth-scheme names are case-insensitive
/// (RFC 7235 section 2.1), so `bearer` and `BEARER` are the same scheme; one or more spaces separate
/// it from the token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim_start_matches(' '))
}

/// Failed admin authentications per client address, each counted in a fixed window that starts at
/// its first failure. IPv6 addresses count by /64, the block one host usually gets, so that an
/// attacker cannot rotate through a single allocation.
#[derive(Debug, Default)]
struct AuthThrottle {
    windows: Mutex<HashMap<IpAddr, FailureWindow>>,
}

#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    /// When the first failure of the window happened (Unix ms).
    started: u64,
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
}

impl AuthThrottle {
    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, FailureWindow>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long `client` must still wait, if it has used up its failures.
    fn blocked(&self, client: IpAddr, now: u64) -> Option<Duration> {
        let window = *self.windows().get(&bucket(client))?;
        (window.open_at(now) && window.failures >= MAX_FAILURES)
            // Retry-After is in whole seconds: round up, so a caller that waits it out is let in.
            .then(|| Duration::from_secs((window.ends() - now).div_ceil(1000)))
    }

    /// Records a failure; true when it is the one that starts the throttling.
    fn failed(&self, client: IpAddr, now: u64) -> bool {
        let mut windows = self.windows();
        let key = bucket(client);
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&key) {
            windows.retain(|_, w| w.open_at(now));
            if windows.len() >= MAX_TRACKED {
                return false;
            }
        }
        let window = windows.entry(key).or_insert(FailureWindow { started: now, failures: 0 });
        if !window.open_at(now) {
            *window = FailureWindow { started: now, failures: 0 };
        }
        window.failures = window.failures.saturating_add(1);
        window.failures == MAX_FAILURES
    }

    /// A right key clears the address's failures.
    fn succeeded(&self, client: IpAddr) {
        self.windows().remove(&bucket(client));
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

    #[test]
    fn failures_are_counted_per_address_in_a_window() {
        let throttle = AuthThrottle::default();
        let (a, b) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        let t0 = 1_800_000_000_000;
        for n in 1..MAX_FAILURES {
            assert!(!throttle.failed(a, t0 + u64::from(n) - 1));
            assert_eq!(throttle.blocked(a, t0 + u64::from(n)), None);
        }
        assert!(throttle.failed(a, t0 + 100), "the tenth failure starts the throttling");
        assert_eq!(throttle.blocked(a, t0 + 100), Some(FAILURE_WINDOW), "rounded up to whole seconds");
        assert_eq!(throttle.blocked(b, t0 + 100), None, "another address is not affected");
        let end = t0 + u64::try_from(FAILURE_WINDOW.as_millis()).unwrap();
        assert_eq!(throttle.blocked(a, end - 1), Some(Duration::from_secs(1)));
        assert_eq!(throttle.blocked(a, end), None, "the window ends");
        assert!(!throttle.failed(a, end), "a new window starts from one failure");
        throttle.succeeded(a);
        assert!(throttle.windows().is_empty());
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
