//! The embedded SQLite backend: one file in WAL mode, one writer thread with group commit.
//!
//! Every write is a command sent to a single writer thread that owns the write connection (reads
//! use a connection of their own, which WAL lets run beside the writer). The thread takes every
//! command waiting (up to `MAX_BATCH`), runs them in one transaction and commits once with
//! `synchronous = FULL`, which fsyncs the WAL. Concurrent webhooks therefore share one fsync: the
//! cost of durability is paid per batch, not per event. Replies are sent only after the commit, so
//! a caller that gets `Stored` knows the event is on disk. Checkpoints run on a separate thread so
//! a checkpoint's fsync of the database file rarely stalls a commit (see `checkpoint_loop`).
//!
//! A failing command stops its batch and rolls all of it back (no per-command savepoints: they cost
//! a statement journal and two SQL parses each on the hot path); every caller in the batch gets the
//! error, so nothing is half-written and nothing is acknowledged that was not committed. A failed
//! batch is logged at ERROR with its cause.
//!
//! The writer reports on itself for `/readyz` ([`Store::writer_health`]): when the batch under way
//! started, when the last one ended and whether it failed. An idle writer still beats once a second
//! by taking the write lock and releasing it, so a lock held elsewhere shows even without traffic.
//! A writer thread that dies (a panic) is reported through [`Store::writer_lost`]: nothing can be
//! stored any more, so the service exits and its supervisor restarts it.
//!
//! Reads go to a small pool of read-only connections, and `ping` to one of its own, so `/readyz`
//! never waits behind a long read; a read whose caller stops waiting (a timeout) is interrupted, so
//! abandoned work does not hold a connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{Connection, InterruptHandle, OpenFlags, OptionalExtension, params};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use super::{
    AttemptResult, ClaimExclusions, ClaimId, ClaimedDelivery, DeadLetter, DeadLetterFilter,
    DisabledDestination, ErasureRequest, InsertOutcome, Millis, NewEvent, QueueStats, Store, StoreError,
    StoredEvent, WriterHealth,
};

/// Most commands committed in one transaction; bounds the latency a large batch adds.
const MAX_BATCH: usize = 1024;
/// Commands that may wait for the writer; past this, callers wait (and the ingress deadline applies).
const QUEUE_CAPACITY: usize = 65_536;
/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// WAL size (in 4 KiB frames) past which the checkpointer restarts it: 64 MiB.
const WAL_FRAMES_BEFORE_RESTART: i64 = 16_384;
/// Rows one purge or replay command works on, so a large one never holds the writer for long.
const CHUNK_ROWS: i64 = 500;
/// Read-only connections in the pool: `/health`, the queue gauges and the admin API read side by
/// side instead of queueing behind one connection.
const READERS: usize = 4;
/// How long an idle writer waits before it beats (takes the write lock and releases it).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// SQLite's largest `max_page_count`: no cap beyond the file system's own.
const UNCAPPED_PAGES: u64 = 4_294_967_294;

/// The schema, one entry per version; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE events (
        id              INTEGER PRIMARY KEY,
        app             TEXT    NOT NULL,
        notification_id TEXT    NOT NULL,
        topic           TEXT    NOT NULL,
        body            BLOB    NOT NULL,
        created_at      INTEGER,
        received_at     INTEGER NOT NULL,
        UNIQUE (app, notification_id)
    );
    CREATE INDEX events_received_at ON events (received_at);
    CREATE TABLE deliveries (
        id              INTEGER PRIMARY KEY,
        event_id        INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        destination     TEXT    NOT NULL,
        state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        lease_owner     TEXT,
        lease_until     INTEGER,
        last_status     INTEGER,
        last_error      TEXT,
        finished_at     INTEGER,
        UNIQUE (event_id, destination)
    );
    CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
    CREATE INDEX deliveries_dead ON deliveries (finished_at) WHERE state = 'dead';
    CREATE INDEX deliveries_event ON deliveries (event_id);
"#,
    r#"
    CREATE TABLE disabled_destinations (
        name        TEXT PRIMARY KEY,
        disabled_at INTEGER NOT NULL,
        reason      TEXT NOT NULL
    );
    CREATE TABLE erasure_requests (
        id              INTEGER PRIMARY KEY,
        app             TEXT NOT NULL,
        contact_id      TEXT NOT NULL,
        external_id     TEXT,
        notification_id TEXT NOT NULL,
        recorded_at     INTEGER NOT NULL,
        UNIQUE (app, contact_id, notification_id)
    );
"#,
    r#"
    -- Deliveries of a disabled destination are paused: kept out of the due index, so a long
    -- backlog behind a 410 costs nothing per claim.
    ALTER TABLE deliveries ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    UPDATE deliveries SET paused = 1
        WHERE state = 'pending' AND destination IN (SELECT name FROM disabled_destinations);
    DROP INDEX deliveries_due;
    CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending' AND paused = 0;
    CREATE INDEX deliveries_destination_pending ON deliveries (destination) WHERE state = 'pending';
"#,
    r#"
    -- Fencing: each claim stamps its deliveries with a token from this sequence, and only the
    -- holder of the latest token may renew the lease or record a result. Rows claimed before this
    -- migration have no token; their old leases simply expire.
    ALTER TABLE deliveries ADD COLUMN claim_token INTEGER;
    CREATE TABLE claim_sequence (
        only INTEGER PRIMARY KEY CHECK (only = 1),
        last INTEGER NOT NULL
    );
    INSERT INTO claim_sequence (only, last) VALUES (1, 0);
"#,
];

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Writes, executed by the writer thread. Reads use a connection of their own (see
/// [`SqliteStore::read`]): WAL lets them run beside the writer, so a large listing or a queue count
/// never delays a webhook's commit.
enum Command {
    Insert(NewEvent, Reply<InsertOutcome>),
    Claim {
        owner: String,
        now: Millis,
        lease: Duration,
        limit: usize,
        except: ClaimExclusions,
        reply: Reply<Vec<ClaimedDelivery>>,
    },
    Complete {
        owner: String,
        now: Millis,
        results: Vec<(ClaimId, AttemptResult)>,
        reply: Reply<usize>,
    },
    Renew {
        owner: String,
        now: Millis,
        lease: Duration,
        claims: Vec<ClaimId>,
        reply: Reply<usize>,
    },
    Replay {
        now: Millis,
        filter: DeadLetterFilter,
        reply: Reply<u64>,
    },
    Purge {
        before: Millis,
        reply: Reply<u64>,
    },
    SetDisabled {
        name: String,
        disabled: Option<(Millis, String)>,
        reply: Reply<()>,
    },
    RecordErasure(ErasureRequest, Reply<()>),
    MaxPages {
        pages: Option<u64>,
        reply: Reply<u64>,
    },
}

/// A finished command whose reply waits for the commit.
type Pending = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// The SQLite store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    sender: Mutex<Option<mpsc::Sender<Command>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    stop_checkpoints: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    readers: Arc<Readers>,
    /// `ping`'s own connection: readiness never queues behind the pool's reads.
    prober: Arc<Mutex<Connection>>,
    writer: Arc<WriterState>,
    lost: watch::Receiver<Option<String>>,
}

/// The read-only connections; a permit of `permits` entitles its holder to one of `idle`.
#[derive(Debug)]
struct Readers {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

/// What the writer thread reports about itself (see [`WriterHealth`]).
#[derive(Debug)]
struct WriterState {
    beat: Mutex<Beat>,
    lost: watch::Sender<Option<String>>,
}

#[derive(Debug)]
struct Beat {
    last_end: Instant,
    busy_since: Option<Instant>,
    last_failure: Option<String>,
}

impl WriterState {
    fn begin(&self) {
        if let Ok(mut beat) = self.beat.lock() {
            beat.busy_since = Some(Instant::now());
        }
    }

    fn end(&self, result: Result<(), StoreError>) {
        if let Ok(mut beat) = self.beat.lock() {
            beat.busy_since = None;
            beat.last_end = Instant::now();
            beat.last_failure = result.err().map(|e| e.to_string());
        }
    }

    fn health(&self) -> WriterHealth {
        let died = self.lost.borrow().clone();
        match self.beat.lock() {
            Ok(beat) => WriterHealth {
                since_beat: beat.last_end.elapsed(),
                busy_for: beat.busy_since.map(|at| at.elapsed()),
                last_failure: beat.last_failure.clone(),
                died,
            },
            // Poisoned: a panic while holding it, which only the writer thread does.
            Err(_) => WriterHealth {
                died: died.or(Some("the writer thread panicked".into())),
                ..Default::default()
            },
        }
    }
}

/// What a read does when its caller stops waiting: a read not yet started is skipped, one under
/// way is interrupted (SQLite stops it at its next step), one finished is left alone.
enum ReadState {
    Waiting,
    Running(InterruptHandle),
    Done,
    Abandoned,
}

/// Abandons its read when dropped before [`AbandonOnDrop::finished`].
struct AbandonOnDrop(Arc<Mutex<ReadState>>);

impl AbandonOnDrop {
    fn finished(self) {
        if let Ok(mut state) = self.0.lock() {
            *state = ReadState::Done;
        }
    }
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.lock() {
            // Under the lock the read cannot finish meanwhile, so the interrupt hits its own query,
            // never the next user's of the connection.
            if let ReadState::Running(handle) = &*state {
                handle.interrupt();
            }
            if !matches!(*state, ReadState::Done) {
                *state = ReadState::Abandoned;
            }
        }
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Fault injection for the integration tests, in debug builds only (release builds read no such
/// variable): the writer panics when asked to store the notification it names, so that a test can
/// show that a dead writer stops the process.
#[cfg(debug_assertions)]
static PANIC_ON_NOTIFICATION: std::sync::LazyLock<Option<String>> =
    std::sync::LazyLock::new(|| std::env::var("TEST_SWITCHBOARD_WRITER_PANIC_ON").ok());

fn db_error(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let open_error = |reason: String| StoreError::Open { path: path.display().to_string(), reason };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(format!("{e}; check that the directory exists and is writable")))?;
    // busy_timeout lets the CLI (dlq replay) and a running service share the file.
    conn.busy_timeout(Duration::from_secs(5)).map_err(|e| open_error(e.to_string()))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA wal_autocheckpoint = 0;",
    )
    .map_err(|e| open_error(format!("{e}; is it an SQLite database?")))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db_error)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::Open {
            path: path.display().to_string(),
            reason: format!(
                "its schema version {version} is newer than this build knows ({known}); run a newer switchboard"
            ),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(db_error)?;
        tx.execute_batch(sql).map_err(db_error)?;
        tx.pragma_update(None, "user_version", index as i64 + 1).map_err(db_error)?;
        tx.commit().map_err(db_error)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, runs migrations and starts the writer.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                reason: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let mut conn = open_connection(path)?;
        migrate(&mut conn, path)?;
        let checkpoint_conn = open_connection(path)?;
        let read_only = || -> Result<Connection, StoreError> {
            let reader = open_connection(path)?;
            // Readers must never write: the single writer thread is what makes commits safe.
            reader.pragma_update(None, "query_only", true).map_err(db_error)?;
            Ok(reader)
        };
        let readers = Arc::new(Readers {
            idle: Mutex::new((0..READERS).map(|_| read_only()).collect::<Result<_, _>>()?),
            permits: Arc::new(Semaphore::new(READERS)),
        });
        let prober = Arc::new(Mutex::new(read_only()?));

        let (lost_tx, lost) = watch::channel(None);
        let state = Arc::new(WriterState {
            beat: Mutex::new(Beat { last_end: Instant::now(), busy_since: None, last_failure: None }),
            lost: lost_tx,
        });
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer_state = state.clone();
        let writer = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let state = writer_state;
                let run = std::panic::AssertUnwindSafe(|| writer_loop(conn, receiver, &state));
                // The panic itself is logged by the panic hook; here it becomes the reason the
                // service gives for exiting.
                if let Err(panic) = std::panic::catch_unwind(run) {
                    let reason = format!("the writer thread panicked: {}", panic_message(panic.as_ref()));
                    state.lost.send_replace(Some(reason));
                }
            })
            .map_err(|e| StoreError::Open { path: path.display().to_string(), reason: e.to_string() })?;
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let checkpointer = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_conn, stop_rx))
            .map_err(|e| StoreError::Open { path: path.display().to_string(), reason: e.to_string() })?;
        Ok(SqliteStore {
            path: path.to_owned(),
            sender: Mutex::new(Some(sender)),
            threads: Mutex::new(vec![writer, checkpointer]),
            stop_checkpoints: Mutex::new(Some(stop_tx)),
            readers,
            prober,
            writer: state,
            lost,
        })
    }

    /// Runs a read on a pooled reader connection, off the async workers and beside the writer. If
    /// the caller stops waiting (a timeout dropped this future), the read is interrupted, so the
    /// connection returns to the pool instead of finishing work nobody will look at.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        if self.sender.lock().map_err(|_| StoreError::Closed)?.is_none() {
            return Err(StoreError::Closed);
        }
        let permit: OwnedSemaphorePermit =
            self.readers.permits.clone().acquire_owned().await.map_err(|_| StoreError::Closed)?;
        let readers = self.readers.clone();
        let state = Arc::new(Mutex::new(ReadState::Waiting));
        let guard = AbandonOnDrop(state.clone());
        let task = tokio::task::spawn_blocking(move || {
            // The permit guarantees an idle connection; it is released only once the connection
            // is back, so the pool is never over-drawn.
            let _permit = permit;
            let conn =
                readers.idle.lock().map_err(|_| StoreError::Closed)?.pop().ok_or(StoreError::Closed)?;
            let started = match state.lock() {
                Ok(mut state) if matches!(*state, ReadState::Waiting) => {
                    *state = ReadState::Running(conn.get_interrupt_handle());
                    true
                }
                _ => false,
            };
            let result = if started { work(&conn).map_err(db_error) } else { Err(StoreError::Closed) };
            if let Ok(mut state) = state.lock() {
                *state = ReadState::Done;
            }
            if let Ok(mut idle) = readers.idle.lock() {
                idle.push(conn);
            }
            result
        });
        let result = task.await.map_err(|_| StoreError::Closed)?;
        guard.finished();
        result
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Caps the database at `pages` pages (`None` lifts the cap) from the writer's next batch on,
    /// so that writes needing more fail with SQLITE_FULL exactly as on a full disk; returns the cap
    /// in force (never below the file's current size). For the disk-full tests: the service never
    /// calls it.
    pub async fn limit_pages(&self, pages: Option<u64>) -> Result<u64, StoreError> {
        self.call(|reply| Command::MaxPages { pages, reply }).await
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, StoreError> {
        let sender = self.sender.lock().map_err(|_| StoreError::Closed)?.clone().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender.send(make(reply)).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Sends a command that works on at most [`CHUNK_ROWS`] rows until one comes back short, and
    /// sums what they did: a large replay or purge never holds the writer (and the webhooks queued
    /// behind it) for long.
    async fn in_chunks(&self, mut chunk: impl FnMut(Reply<u64>) -> Command) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let done = self.call(&mut chunk).await?;
            total += done;
            if done < CHUNK_ROWS as u64 {
                return Ok(total);
            }
        }
    }
}

fn checkpoint_loop(conn: Connection, stop: std::sync::mpsc::Receiver<()>) {
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                // PASSIVE never blocks the writer, but under continuous writes it never catches up
                // fully, so the WAL would never restart and would grow without bound. Once it is
                // large, a RESTART checkpoint briefly holds the writer back (PASSIVE has already
                // copied nearly everything, so the pause is short) and the next commit starts the
                // WAL from its beginning again; journal_size_limit then trims the file.
                let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
                match frames {
                    Ok(frames) if frames > WAL_FRAMES_BEFORE_RESTART => {
                        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                            tracing::warn!(%error, "WAL restart checkpoint failed; will retry");
                        }
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "WAL checkpoint failed; will retry"),
                }
            }
            _ => {
                let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
                return;
            }
        }
    }
}

fn writer_loop(mut conn: Connection, mut receiver: mpsc::Receiver<Command>, state: &WriterState) {
    // A runtime of the thread's own, only to wait for the next command with a timeout: the channel's
    // senders are async, and an idle writer must still beat.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            state.lost.send_replace(Some(format!("the writer thread cannot wait for commands: {error}")));
            return;
        }
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // Nothing for HEARTBEAT_EVERY: an empty batch, which proves the write lock can be taken.
        // The timer must be made inside the runtime: it registers with the runtime's clock.
        match runtime.block_on(async { tokio::time::timeout(HEARTBEAT_EVERY, receiver.recv()).await }) {
            Ok(Some(first)) => batch.push(first),
            Ok(None) => return,
            Err(_idle) => {}
        }
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        state.begin();
        let result = run_batch(&mut conn, &mut batch);
        state.end(result);
    }
}

fn run_batch(conn: &mut Connection, batch: &mut Vec<Command>) -> Result<(), StoreError> {
    let commands = batch.len();
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            // Typically SQLITE_BUSY: another process held the write lock past busy_timeout.
            let error = db_error(e);
            tracing::error!(%error, commands, "store batch failed: cannot begin a write; none of its writes were saved");
            for command in batch.drain(..) {
                fail(command, error.clone());
            }
            return Err(error);
        }
    };
    // No savepoint per command: they cost a statement journal and two SQL parses each, on the hot
    // path. Instead the first failure stops the batch and rolls all of it back, so nothing can be
    // half-written; every caller then hears of the failure (the ingress answers 503, Intercom retries).
    let mut pending: Vec<Pending> = Vec::with_capacity(batch.len());
    let mut failure: Option<StoreError> = None;
    for command in batch.drain(..) {
        match &failure {
            None => {
                let (reply, error) = execute(&tx, command);
                failure = error;
                pending.push(reply);
            }
            Some(error) => fail(command, rolled_back(error)),
        }
    }
    let batch_error = match failure {
        Some(error) => {
            let _ = tx.rollback();
            Some(rolled_back(&error))
        }
        None => tx.commit().err().map(db_error),
    };
    if let Some(error) = &batch_error {
        tracing::error!(%error, commands, "store batch failed; none of its writes were saved");
    }
    for reply in pending {
        reply(batch_error.as_ref());
    }
    batch_error.map_or(Ok(()), Err)
}

/// The error of a batch rolled back because of `error`: the database's own words, said once.
fn rolled_back(error: &StoreError) -> StoreError {
    let cause = match error {
        StoreError::Database(cause) => cause.clone(),
        other => other.to_string(),
    };
    StoreError::Database(format!("batch rolled back: {cause}"))
}

fn fail(command: Command, error: StoreError) {
    match command {
        Command::Insert(_, r) => drop(r.send(Err(error))),
        Command::Claim { reply, .. } => drop(reply.send(Err(error))),
        Command::Complete { reply, .. } => drop(reply.send(Err(error))),
        Command::Renew { reply, .. } => drop(reply.send(Err(error))),
        Command::Replay { reply, .. } => drop(reply.send(Err(error))),
        Command::Purge { reply, .. } => drop(reply.send(Err(error))),
        Command::SetDisabled { reply, .. } => drop(reply.send(Err(error))),
        Command::RecordErasure(_, r) => drop(r.send(Err(error))),
        Command::MaxPages { reply, .. } => drop(reply.send(Err(error))),
    }
}

/// Runs `work` and returns the reply to send once the batch commits (or fails), plus the error
/// that must stop the batch, if `work` failed.
fn atomically<T: Send + 'static>(
    tx: &rusqlite::Transaction<'_>,
    reply: Reply<T>,
    work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
) -> (Pending, Option<StoreError>) {
    let result = work(tx).map_err(db_error);
    let failure = result.as_ref().err().cloned();
    let pending: Pending = Box::new(move |batch_error| {
        let result = match (result, batch_error) {
            (Ok(_), Some(error)) => Err(error.clone()),
            (result, _) => result,
        };
        let _ = reply.send(result);
    });
    (pending, failure)
}

fn execute(tx: &rusqlite::Transaction<'_>, command: Command) -> (Pending, Option<StoreError>) {
    match command {
        Command::Insert(event, reply) => atomically(tx, reply, |tx| insert(tx, &event)),
        Command::Claim { owner, now, lease, limit, except, reply } => {
            atomically(tx, reply, |tx| claim(tx, &owner, now, lease, limit, &except))
        }
        Command::Complete { owner, now, results, reply } => {
            atomically(tx, reply, |tx| complete(tx, &owner, now, &results))
        }
        Command::Renew { owner, now, lease, claims, reply } => {
            atomically(tx, reply, |tx| renew(tx, &owner, now, lease, &claims))
        }
        Command::Replay { now, filter, reply } => atomically(tx, reply, |tx| replay(tx, now, &filter)),
        Command::Purge { before, reply } => atomically(tx, reply, |tx| purge(tx, before)),
        Command::SetDisabled { name, disabled, reply } => atomically(tx, reply, |tx| {
            let pause = disabled.is_some();
            match disabled {
                Some((at, reason)) => tx.execute(
                    "INSERT INTO disabled_destinations (name, disabled_at, reason) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET disabled_at = excluded.disabled_at, reason = excluded.reason",
                    params![name, at, reason],
                )?,
                None => tx.execute("DELETE FROM disabled_destinations WHERE name = ?1", [&name])?,
            };
            tx.execute(
                "UPDATE deliveries SET paused = ?2 WHERE destination = ?1 AND state = 'pending'",
                params![name, pause],
            )?;
            Ok(())
        }),
        Command::RecordErasure(request, reply) => atomically(tx, reply, |tx| {
            tx.prepare_cached(
                "INSERT INTO erasure_requests (app, contact_id, external_id, notification_id, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                request.app,
                request.contact_id,
                request.external_id,
                request.notification_id,
                request.recorded_at
            ])?;
            Ok(())
        }),
        Command::MaxPages { pages, reply } => atomically(tx, reply, |tx| {
            // A connection setting, not data: it holds whatever the batch's outcome.
            let pages = pages.unwrap_or(UNCAPPED_PAGES);
            tx.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| r.get(0))
        }),
    }
}

fn insert(tx: &rusqlite::Transaction<'_>, event: &NewEvent) -> rusqlite::Result<InsertOutcome> {
    #[cfg(debug_assertions)]
    if PANIC_ON_NOTIFICATION.as_deref() == Some(event.notification_id.as_str()) {
        panic!("TEST_SWITCHBOARD_WRITER_PANIC_ON: injected writer panic");
    }
    let id: Option<i64> = tx
        .prepare_cached(
            "INSERT INTO events (app, notification_id, topic, body, created_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (app, notification_id) DO NOTHING
             RETURNING id",
        )?
        .query_row(
            params![
                event.app,
                event.notification_id,
                event.topic,
                &event.body[..],
                event.created_at,
                event.received_at
            ],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else {
        return Ok(InsertOutcome::Duplicate);
    };
    let mut queue = tx.prepare_cached(
        "INSERT INTO deliveries (event_id, destination, state, next_attempt_at, paused)
         VALUES (?1, ?2, 'pending', ?3, EXISTS (SELECT 1 FROM disabled_destinations WHERE name = ?2))",
    )?;
    for destination in &event.destinations {
        queue.execute(params![id, destination, event.received_at])?;
    }
    Ok(InsertOutcome::Stored(id))
}

/// `now + lease`, saturating.
fn lease_end(now: Millis, lease: Duration) -> Millis {
    now.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

fn claim(
    tx: &rusqlite::Transaction<'_>,
    owner: &str,
    now: Millis,
    lease: Duration,
    limit: usize,
    except: &ClaimExclusions,
) -> rusqlite::Result<Vec<ClaimedDelivery>> {
    // Every delivery of one claim shares its token, the sequence's next value; the sequence moves
    // only when something was claimed, so an idle poll writes nothing (and costs no fsync).
    let mut statement = tx.prepare_cached(
        "UPDATE deliveries SET lease_owner = ?1, lease_until = ?2,
             claim_token = (SELECT last + 1 FROM claim_sequence)
         WHERE id IN (
             SELECT id FROM deliveries
             WHERE state = 'pending' AND paused = 0 AND next_attempt_at <= ?3
               AND (lease_until IS NULL OR lease_until <= ?3)
               AND id NOT IN (SELECT value FROM json_each(?5))
               AND destination NOT IN (SELECT value FROM json_each(?6))
             ORDER BY next_attempt_at, id LIMIT ?4)
         RETURNING id, event_id, destination, attempts, claim_token",
    )?;
    let skip_ids = serde_json::Value::from(except.deliveries.clone()).to_string();
    let skip_destinations = serde_json::Value::from(except.destinations.clone()).to_string();
    let claimed: Vec<(i64, i64, String, u32, i64)> = statement
        .query_map(
            params![owner, lease_end(now, lease), now, limit as i64, skip_ids, skip_destinations],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    if !claimed.is_empty() {
        tx.prepare_cached("UPDATE claim_sequence SET last = last + 1")?.execute([])?;
    }
    let mut event_query =
        tx.prepare_cached("SELECT app, notification_id, topic, body, received_at FROM events WHERE id = ?1")?;
    let mut deliveries = Vec::with_capacity(claimed.len());
    for (id, event_id, destination, attempts, token) in claimed {
        let delivery = event_query.query_row([event_id], |r| {
            Ok(ClaimedDelivery {
                id,
                event_id,
                destination,
                attempts,
                token,
                app: r.get(0)?,
                notification_id: r.get(1)?,
                topic: r.get(2)?,
                body: Bytes::from(r.get::<_, Vec<u8>>(3)?),
                received_at: r.get(4)?,
            })
        })?;
        deliveries.push(delivery);
    }
    // RETURNING gives no order guarantee; workers expect the oldest first.
    deliveries.sort_by_key(|d| (d.received_at, d.id));
    Ok(deliveries)
}

fn complete(
    tx: &rusqlite::Transaction<'_>,
    owner: &str,
    now: Millis,
    results: &[(ClaimId, AttemptResult)],
) -> rusqlite::Result<usize> {
    // Only the latest claim may record a result: one whose lease expired and whose delivery was
    // claimed again (by another worker, or by the same one after a clock jump) must not overwrite
    // or release the newer claim. The token tells them apart where the owner alone cannot.
    let mut update = tx.prepare_cached(
        "UPDATE deliveries SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3, last_status = ?4,
             last_error = ?5, finished_at = ?6, lease_owner = NULL, lease_until = NULL
         WHERE id = ?1 AND state = 'pending' AND lease_owner = ?7 AND claim_token = ?8",
    )?;
    let mut recorded = 0;
    for (claim, result) in results {
        let (id, token) = (claim.delivery, claim.token);
        recorded += match result {
            AttemptResult::Delivered { status } => {
                update.execute(params![id, "delivered", now, status, None::<String>, now, owner, token])?
            }
            AttemptResult::Retry { at, status, error } => {
                update.execute(params![id, "pending", at, status, error, None::<i64>, owner, token])?
            }
            AttemptResult::Dead { status, error } => {
                update.execute(params![id, "dead", now, status, error, now, owner, token])?
            }
        };
    }
    Ok(recorded)
}

fn renew(
    tx: &rusqlite::Transaction<'_>,
    owner: &str,
    now: Millis,
    lease: Duration,
    claims: &[ClaimId],
) -> rusqlite::Result<usize> {
    let mut update = tx.prepare_cached(
        "UPDATE deliveries SET lease_until = ?4
         WHERE id = ?1 AND state = 'pending' AND lease_owner = ?2 AND claim_token = ?3",
    )?;
    let mut renewed = 0;
    for claim in claims {
        renewed += update.execute(params![claim.delivery, owner, claim.token, lease_end(now, lease)])?;
    }
    Ok(renewed)
}

fn dead_filter_sql(filter: &DeadLetterFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = String::from("d.state = 'dead'");
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(destination) = &filter.destination {
        values.push(destination.clone().into());
        sql.push_str(&format!(" AND d.destination = ?{}", values.len()));
    }
    if let Some(since) = filter.since {
        values.push(since.into());
        sql.push_str(&format!(" AND d.finished_at >= ?{}", values.len()));
    }
    if let Some(id) = filter.id {
        values.push(id.into());
        sql.push_str(&format!(" AND d.id = ?{}", values.len()));
    }
    (sql, values)
}

fn dead_letters(conn: &Connection, filter: &DeadLetterFilter) -> rusqlite::Result<Vec<DeadLetter>> {
    let (condition, values) = dead_filter_sql(filter);
    let limit = filter.limit.map(|l| l as i64).unwrap_or(-1);
    let sql = format!(
        "SELECT d.id, d.destination, e.notification_id, e.topic, d.attempts, d.last_status, d.last_error,
                e.received_at, d.finished_at
         FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE {condition} ORDER BY d.finished_at, d.id LIMIT {limit}"
    );
    let mut statement = conn.prepare(&sql)?;
    statement
        .query_map(rusqlite::params_from_iter(values), |r| {
            Ok(DeadLetter {
                id: r.get(0)?,
                destination: r.get(1)?,
                notification_id: r.get(2)?,
                topic: r.get(3)?,
                attempts: r.get(4)?,
                last_status: r.get(5)?,
                last_error: r.get(6)?,
                received_at: r.get(7)?,
                dead_at: r.get(8)?,
            })
        })?
        .collect()
}

/// Replays at most [`CHUNK_ROWS`] dead letters; the caller loops, so a large replay never holds
/// the writer (and the webhooks queued behind it) for long.
fn replay(tx: &rusqlite::Transaction<'_>, now: Millis, filter: &DeadLetterFilter) -> rusqlite::Result<u64> {
    let (condition, mut values) = dead_filter_sql(filter);
    values.push(now.into());
    let sql = format!(
        "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?{n}, finished_at = NULL,
             lease_owner = NULL, lease_until = NULL,
             paused = EXISTS (SELECT 1 FROM disabled_destinations WHERE name = deliveries.destination)
         WHERE id IN (SELECT d.id FROM deliveries d WHERE {condition} LIMIT {CHUNK_ROWS})",
        n = values.len()
    );
    Ok(tx.execute(&sql, rusqlite::params_from_iter(values))? as u64)
}

fn purge(tx: &rusqlite::Transaction<'_>, before: Millis) -> rusqlite::Result<u64> {
    let deleted = tx
        .prepare_cached(
            "DELETE FROM events WHERE id IN (
             SELECT e.id FROM events e
             WHERE e.received_at < ?1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state != 'delivered')
             LIMIT ?2)",
        )?
        .execute(params![before, CHUNK_ROWS])?;
    Ok(deleted as u64)
}

fn stats(conn: &Connection) -> rusqlite::Result<QueueStats> {
    // One scan of the pending-only index, whose entries carry the delivery id, rather than a join
    // of every pending delivery with its event: a tenth of a second at a million pending, where the
    // join took seconds. Delivery ids grow with arrival (an event's deliveries are stored with it),
    // so the lowest pending id belongs to the oldest pending event.
    let (pending, first): (u64, Option<i64>) =
        conn.query_row("SELECT COUNT(*), MIN(id) FROM deliveries WHERE state = 'pending'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let oldest: Option<Millis> = match first {
        None => None,
        Some(id) => conn
            .query_row(
                "SELECT e.received_at FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?,
    };
    let dead: u64 =
        conn.query_row("SELECT COUNT(*) FROM deliveries WHERE state = 'dead'", [], |r| r.get(0))?;
    Ok(QueueStats { pending, oldest_pending_received_at: oldest, dead })
}

fn event(conn: &Connection, app: &str, notification_id: &str) -> rusqlite::Result<Option<StoredEvent>> {
    let found = conn
        .query_row(
            "SELECT id, topic, body FROM events WHERE app = ?1 AND notification_id = ?2",
            params![app, notification_id],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)),
        )
        .optional()?;
    let Some((id, topic, body)) = found else {
        return Ok(None);
    };
    let mut statement = conn.prepare_cached(
        "SELECT destination, state FROM deliveries WHERE event_id = ?1 ORDER BY destination",
    )?;
    let deliveries =
        statement.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok(Some(StoredEvent {
        id,
        app: app.to_owned(),
        notification_id: notification_id.to_owned(),
        topic,
        body: Bytes::from(body),
        deliveries,
    }))
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn insert_event(&self, event: NewEvent) -> Result<InsertOutcome, StoreError> {
        self.call(|reply| Command::Insert(event, reply)).await
    }

    async fn claim_except(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: usize,
        except: &ClaimExclusions,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let (owner, except) = (owner.to_owned(), except.clone());
        self.call(|reply| Command::Claim { owner, now, lease, limit, except, reply }).await
    }

    async fn complete(
        &self,
        owner: &str,
        now: Millis,
        results: Vec<(ClaimId, AttemptResult)>,
    ) -> Result<usize, StoreError> {
        let owner = owner.to_owned();
        self.call(|reply| Command::Complete { owner, now, results, reply }).await
    }

    async fn renew(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        claims: Vec<ClaimId>,
    ) -> Result<usize, StoreError> {
        let owner = owner.to_owned();
        self.call(|reply| Command::Renew { owner, now, lease, claims, reply }).await
    }

    async fn dead_letters(&self, filter: DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        self.read(move |conn| dead_letters(conn, &filter)).await
    }

    async fn replay(&self, now: Millis, filter: DeadLetterFilter) -> Result<u64, StoreError> {
        self.in_chunks(|reply| Command::Replay { now, filter: filter.clone(), reply }).await
    }

    async fn purge_delivered(&self, before: Millis) -> Result<u64, StoreError> {
        self.in_chunks(|reply| Command::Purge { before, reply }).await
    }

    async fn stats(&self) -> Result<QueueStats, StoreError> {
        self.read(stats).await
    }

    async fn event(&self, app: &str, notification_id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let (app, notification_id) = (app.to_owned(), notification_id.to_owned());
        self.read(move |conn| event(conn, &app, &notification_id)).await
    }

    async fn set_destination_disabled(
        &self,
        name: &str,
        disabled: Option<(Millis, String)>,
    ) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.call(|reply| Command::SetDisabled { name, disabled, reply }).await
    }

    async fn disabled_destinations(&self) -> Result<Vec<DisabledDestination>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT name, disabled_at, reason FROM disabled_destinations ORDER BY name",
            )?;
            statement
                .query_map([], |r| {
                    Ok(DisabledDestination { name: r.get(0)?, disabled_at: r.get(1)?, reason: r.get(2)? })
                })?
                .collect()
        })
        .await
    }

    async fn record_erasure(&self, request: ErasureRequest) -> Result<(), StoreError> {
        self.call(|reply| Command::RecordErasure(request, reply)).await
    }

    async fn erasures(&self) -> Result<Vec<ErasureRequest>, StoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT app, contact_id, external_id, notification_id, recorded_at FROM erasure_requests ORDER BY id",
            )?;
            statement
                .query_map([], |r| {
                    Ok(ErasureRequest {
                        app: r.get(0)?,
                        contact_id: r.get(1)?,
                        external_id: r.get(2)?,
                        notification_id: r.get(3)?,
                        recorded_at: r.get(4)?,
                    })
                })?
                .collect()
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.sender.lock().map_err(|_| StoreError::Closed)?.is_none() {
            return Err(StoreError::Closed);
        }
        let prober = self.prober.clone();
        let version = tokio::task::spawn_blocking(move || {
            let conn = prober.lock().map_err(|_| StoreError::Closed)?;
            conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map_err(db_error)
        })
        .await
        .map_err(|_| StoreError::Closed)??;
        if version == MIGRATIONS.len() as i64 {
            Ok(())
        } else {
            Err(StoreError::Database(format!(
                "schema version {version}, expected {}; restart the service to migrate",
                MIGRATIONS.len()
            )))
        }
    }

    fn writer_health(&self) -> Option<WriterHealth> {
        Some(self.writer.health())
    }

    async fn writer_lost(&self) -> String {
        let mut lost = self.lost.clone();
        let reason = lost.wait_for(Option::is_some).await.map(|reason| reason.clone().unwrap_or_default());
        match reason {
            Ok(reason) => reason,
            // The writer's state is gone (the store was dropped): it was not lost.
            Err(_) => std::future::pending().await,
        }
    }

    async fn close(&self) {
        // Dropping the sender lets the writer finish every queued command, then exit.
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        if let Ok(mut stop) = self.stop_checkpoints.lock() {
            stop.take();
        }
        let threads: Vec<JoinHandle<()>> =
            self.threads.lock().map(|mut t| t.drain(..).collect()).unwrap_or_default();
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema version before fencing tokens (migration 4).
    const BEFORE_FENCING: usize = 3;

    /// A database written by a build that knew only the first `BEFORE_FENCING` migrations, holding one
    /// delivery that an old worker claimed and never finished.
    fn old_database(path: &Path) {
        let mut conn = Connection::open(path).unwrap();
        for (index, sql) in MIGRATIONS[..BEFORE_FENCING].iter().enumerate() {
            let tx = conn.transaction().unwrap();
            tx.execute_batch(sql).unwrap();
            tx.pragma_update(None, "user_version", index as i64 + 1).unwrap();
            tx.commit().unwrap();
        }
        conn.execute_batch(
            "INSERT INTO events (id, app, notification_id, topic, body, received_at)
                 VALUES (1, 'default', 'notif_old', 'ping', x'7b7d', 0);
             INSERT INTO deliveries (event_id, destination, state, next_attempt_at, lease_owner, lease_until)
                 VALUES (1, 'app', 'pending', 0, 'old-worker', 30000);",
        )
        .unwrap();
    }

    #[tokio::test]
    async fn a_database_of_the_previous_schema_migrates_and_keeps_its_claims() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        old_database(&path);
        let store = SqliteStore::open(&path).unwrap();
        store.ping().await.unwrap();
        let lease = Duration::from_secs(30);
        assert!(store.claim("new", 29_999, lease, 10).await.unwrap().is_empty(), "the old lease still holds");
        let claimed = store.claim("new", 30_000, lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].notification_id, "notif_old");
        let done = AttemptResult::Delivered { status: Some(200) };
        assert_eq!(store.complete("new", 30_001, vec![(claimed[0].claim(), done)]).await.unwrap(), 1);
        store.close().await;
        // Opening again runs nothing twice.
        let again = SqliteStore::open(&path).unwrap();
        again.ping().await.unwrap();
        let stored = again.event("default", "notif_old").await.unwrap().unwrap();
        assert_eq!(stored.deliveries, [("app".into(), "delivered".into())]);
        again.close().await;
    }
}
