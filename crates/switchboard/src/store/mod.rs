//! Durable storage of webhook events and their deliveries.
//!
//! One [`Store`] trait, one backend per database: SQLite now (embedded, one file), PostgreSQL next
//! (several replicas). Both must pass the contract tests in `tests/it/store.rs`. The store owns its
//! settings ([`StoreConfig`], [`StoreUrl`]: `[store]`) and opens the backend they name ([`open`],
//! [`open_existing`]), so it needs nothing from `config`.
//!
//! Model: an *event* is one Intercom notification, unique per `(app, notification id)` (the
//! deduplication key). At ingest it fans out into one *delivery* per destination whose topic
//! patterns match (plus the built-in handlers), all in the same transaction, so an acknowledged
//! event always has its deliveries queued. Deliveries are a queue with leases: a worker claims a
//! batch until `lease_until`; a crashed worker's claims return to the queue when the lease expires.
//! Every claim also gets a fencing token, greater than any given before; a result or a renewal counts
//! only with the token of the claim that holds the delivery now, so an attempt whose lease expired
//! (a stall, a wall-clock jump) can never record its result over a newer claim, even its own worker's.

mod settings;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchboard_clock::Clock;

pub use settings::{StoreConfig, StoreUrl};
pub use sqlite::SqliteStore;

/// Opens the store that `config` names, creating it (and its directory) and migrating its schema
/// as needed: what `serve` does at startup.
pub fn open(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    match &config.url {
        StoreUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path)?)),
    }
}

/// Opens the store that `config` names only if it exists: for commands that work on a service's
/// store (`dlq`, `destinations`), where creating an empty one would hide a wrong `store.url`.
pub fn open_existing(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    match &config.url {
        StoreUrl::Sqlite(path) if !path.exists() => Err(StoreError::Open {
            path: path.display().to_string(),
            reason: "no store there yet; check store.url (run from the service's directory or pass --config)"
                .into(),
        }),
        StoreUrl::Sqlite(_) => open(config),
    }
}

/// Milliseconds since the Unix epoch; the store's only notion of time, passed in by callers so
/// tests control it.
pub type Millis = i64;

/// `clock`'s current time as [`Millis`].
pub fn now_millis(clock: &dyn Clock) -> Millis {
    // i64 milliseconds reach the year 292 million; saturate rather than wrap on a broken clock.
    Millis::try_from(clock.now_millis()).unwrap_or(Millis::MAX)
}

/// An event to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The Intercom app (ingress path) it arrived on.
    pub app: String,
    /// Intercom's notification id (`notif_…`): the deduplication key within the app.
    pub notification_id: String,
    /// The topic (`contact.user.created`).
    pub topic: String,
    /// The raw body as received (and as signed).
    pub body: Bytes,
    /// Intercom's `created_at`, in seconds, when present.
    pub created_at: Option<i64>,
    /// When it was received.
    pub received_at: Millis,
    /// The destinations it goes to (names; built-in handlers start with `@`).
    pub destinations: Vec<String>,
}

/// What happened to an insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Newly stored, durably, with this id.
    Stored(i64),
    /// Already stored earlier (Intercom's retry or a replay); nothing was changed.
    Duplicate,
}

/// A delivery handed to a worker until its lease expires.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery's id.
    pub id: i64,
    /// The event's id.
    pub event_id: i64,
    /// The destination's name.
    pub destination: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The app the event arrived on.
    pub app: String,
    /// Intercom's notification id.
    pub notification_id: String,
    /// The topic.
    pub topic: String,
    /// The raw body.
    pub body: Bytes,
    /// When the event was received.
    pub received_at: Millis,
    /// The fencing token of this claim: results and renewals must present it.
    pub token: i64,
}

impl ClaimedDelivery {
    /// Which claim this is, for [`Store::complete`] and [`Store::renew`].
    pub fn claim(&self) -> ClaimId {
        ClaimId { delivery: self.id, token: self.token }
    }
}

/// One claim of one delivery: the delivery's id and the fencing token its claim got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimId {
    /// The delivery's id.
    pub delivery: i64,
    /// The claim's fencing token ([`ClaimedDelivery::token`]).
    pub token: i64,
}

/// Deliveries a claim must pass over, though due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimExclusions {
    /// Deliveries the worker is still attempting: after a wall-clock jump their leases may look
    /// expired, and claiming them again would send them twice at once.
    pub deliveries: Vec<i64>,
    /// Destinations that already have their share of the worker's attempts in flight, so one that
    /// hangs cannot take every slot from the others.
    pub destinations: Vec<String>,
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// Delivered (2xx).
    Delivered {
        /// The HTTP status, if the destination is HTTP.
        status: Option<u16>,
    },
    /// Failed; try again at `at`.
    Retry {
        /// When the next attempt is due.
        at: Millis,
        /// The HTTP status, if any answer came.
        status: Option<u16>,
        /// What went wrong (no body content, no secrets).
        error: String,
    },
    /// Failed for good: moved to the dead-letter queue.
    Dead {
        /// The HTTP status, if any answer came.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// A delivery in the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    /// The delivery's id (what `dlq replay --id` takes).
    pub id: i64,
    /// The destination's name.
    pub destination: String,
    /// Intercom's notification id.
    pub notification_id: String,
    /// The topic.
    pub topic: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last HTTP status, if any.
    pub last_status: Option<u16>,
    /// The last error.
    pub last_error: Option<String>,
    /// When the event was received.
    pub received_at: Millis,
    /// When it was dead-lettered.
    pub dead_at: Millis,
}

/// Which dead letters to list or replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Only this destination.
    pub destination: Option<String>,
    /// Only those dead-lettered at or after this time.
    pub since: Option<Millis>,
    /// Only this delivery.
    pub id: Option<i64>,
    /// At most this many (listing only).
    pub limit: Option<usize>,
}

/// Queue depths for health and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    /// Deliveries waiting (including ones being attempted).
    pub pending: u64,
    /// When the oldest pending delivery's event was received.
    pub oldest_pending_received_at: Option<Millis>,
    /// Deliveries in the dead-letter queue.
    pub dead: u64,
}

/// A stored event with the state of each of its deliveries (for inspection and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event's id.
    pub id: i64,
    /// The app.
    pub app: String,
    /// Intercom's notification id.
    pub notification_id: String,
    /// The topic.
    pub topic: String,
    /// The raw body.
    pub body: Bytes,
    /// `(destination, state)` pairs; state is `pending`, `delivered` or `dead`.
    pub deliveries: Vec<(String, String)>,
}

/// A destination switched off because it answered 410 Gone; its deliveries wait until it is enabled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DisabledDestination {
    /// The destination's name.
    pub name: String,
    /// When it was disabled.
    pub disabled_at: Millis,
    /// Why.
    pub reason: String,
}

/// A contact deleted in Intercom (`contact.deleted`), recorded for the GDPR purge of local copies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErasureRequest {
    /// The app the notification came from.
    pub app: String,
    /// Intercom's contact id.
    pub contact_id: String,
    /// The contact's `external_id`, when the notification carried one.
    pub external_id: Option<String>,
    /// The notification that reported the deletion.
    pub notification_id: String,
    /// When it was recorded.
    pub recorded_at: Millis,
}

/// What the store's single writer is doing, for `/readyz`: backends that write through one thread
/// of their own (SQLite) report it, so that readiness sees a writer that is stuck or failing, which
/// a read-only ping cannot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterHealth {
    /// How long ago the writer last finished a batch; an idle writer beats about once a second
    /// (it takes the write lock and releases it), so a large value means it is not looping.
    pub since_beat: Duration,
    /// How long the batch under way has been running, if one is.
    pub busy_for: Option<Duration>,
    /// Why the last batch failed, if it did; cleared by the next batch that commits.
    pub last_failure: Option<String>,
    /// Why the writer stopped for good, if it did (a panic): the process cannot store anything more.
    pub died: Option<String>,
}

/// Why a store operation failed. Callers answer 503 to Intercom on any of these.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the operation.
    #[error("store error: {0}")]
    Database(String),
    /// The store is shutting down or its writer stopped.
    #[error("the store is closed")]
    Closed,
    /// The store could not be opened.
    #[error("cannot open the store at {path}: {reason}")]
    Open {
        /// Where.
        path: String,
        /// Why, and what to do.
        reason: String,
    },
}

/// Durable storage for events, deliveries and dead letters.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Stores an event and queues its deliveries, durably, unless its key is already stored.
    async fn insert_event(&self, event: NewEvent) -> Result<InsertOutcome, StoreError>;

    /// Leases up to `limit` due deliveries to `owner` until `now + lease`, each with a new fencing token.
    async fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.claim_except(owner, now, lease, limit, &ClaimExclusions::default()).await
    }

    /// [`Store::claim`], passing over the deliveries and destinations in `except`.
    async fn claim_except(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: usize,
        except: &ClaimExclusions,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records the results of attempts on deliveries claimed by `owner`, and returns how many were
    /// recorded: a result whose claim is no longer the delivery's latest (its lease expired and the
    /// delivery was claimed again, by any worker) is refused.
    async fn complete(
        &self,
        owner: &str,
        now: Millis,
        results: Vec<(ClaimId, AttemptResult)>,
    ) -> Result<usize, StoreError>;

    /// Extends the leases of `claims`, still being attempted by `owner`, to `now + lease`; returns
    /// how many it extended (a claim that lost its delivery to a newer one is not).
    async fn renew(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        claims: Vec<ClaimId>,
    ) -> Result<usize, StoreError>;

    /// Lists dead letters, oldest first.
    async fn dead_letters(&self, filter: DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError>;

    /// Moves matching dead letters back to the queue, due at `now`; returns how many.
    async fn replay(&self, now: Millis, filter: DeadLetterFilter) -> Result<u64, StoreError>;

    /// Deletes events received before `before` whose deliveries are all delivered; returns how many.
    async fn purge_delivered(&self, before: Millis) -> Result<u64, StoreError>;

    /// Queue depths.
    async fn stats(&self) -> Result<QueueStats, StoreError>;

    /// One event by its key, with its deliveries' states.
    async fn event(&self, app: &str, notification_id: &str) -> Result<Option<StoredEvent>, StoreError>;

    /// Disables a destination (`Some`) or enables it again (`None`). Deliveries of a disabled
    /// destination stay queued but are not claimed.
    async fn set_destination_disabled(
        &self,
        name: &str,
        disabled: Option<(Millis, String)>,
    ) -> Result<(), StoreError>;

    /// Destinations currently disabled.
    async fn disabled_destinations(&self) -> Result<Vec<DisabledDestination>, StoreError>;

    /// Records a contact deletion for the GDPR purge (idempotent per contact and notification).
    async fn record_erasure(&self, request: ErasureRequest) -> Result<(), StoreError>;

    /// Recorded contact deletions, oldest first.
    async fn erasures(&self) -> Result<Vec<ErasureRequest>, StoreError>;

    /// Checks that the store answers and its schema is current (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// The writer's state, for backends with a writer of their own; `None` for those without one,
    /// whose [`Store::ping`] already covers writing.
    fn writer_health(&self) -> Option<WriterHealth> {
        None
    }

    /// Resolves, with the reason, if the writer stops for good while the store is open (never for
    /// a backend without a writer of its own, nor on [`Store::close`]): the service must then exit
    /// so that its supervisor restarts it, rather than answer 503 forever.
    async fn writer_lost(&self) -> String {
        std::future::pending().await
    }

    /// Finishes pending writes and closes; later calls fail with [`StoreError::Closed`].
    async fn close(&self);
}
