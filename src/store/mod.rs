//! The event store: one append-only, hash-chained log and the projections derived from it, behind
//! one trait with a SQLite and a PostgreSQL implementation. Invariants: positions are dense and
//! assigned by the writer under the log-head lock, so commit order is position order; an append
//! (events, stream versions, idempotency record, projections, log head) is one transaction.

/// Runs `$call` on the store's implementation, whichever it is (`Store` and its webhook rows).
macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Store::Sqlite($s) => $call.await,
            Store::Postgres($s) => $call.await,
        }
    };
}

mod append;
mod append_rows;
mod envelope;
mod log_check;
pub(crate) mod migrations;
mod postgres;
mod rows;
mod sessions;
mod sql;
mod sqlite;
mod tokens;
pub mod webhooks;

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub(crate) use append::Opened;
pub use log_check::{LogCheck, check_log};
pub(crate) use postgres::PostgresStore;
pub use rows::{AwardRow, OrganisationRow, RegisterQuery, TokenRow, Write, register_order};
pub(crate) use rows::{Searched, searched_order};
pub(crate) use sessions::{SessionRow, SignInRow};
pub(crate) use sqlite::{SqliteStore, lock_exclusively, lock_path, sqlite_file};

/// Questions about a PostgreSQL database as a whole, asked without migrating it (backups and
/// restores).
pub(crate) mod postgres_database {
    pub(crate) use super::postgres::{create_database, drop_database, log_size, other_sessions};
}

use crate::domain::{Event, SCHEMA_VERSION, Visibility};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream} is at version {actual:?}, not the expected {expected:?}")]
    Conflict {
        stream: String,
        expected: Option<i64>,
        actual: Option<i64>,
    },
    #[error("this idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// The database cannot serve anyone right now (down, unreachable, out of space, read-only):
    /// an outage to wait out, not a fault in the request.
    #[error("the database is unavailable ({}): {cause}", outage.as_str())]
    Unavailable { outage: Outage, cause: String },
    #[error("database error: {0}")]
    Backend(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database's schema is not one this release runs on (`migrations`).
    #[error("{0}")]
    Schema(#[from] migrations::SchemaError),
    #[error("the stored log is inconsistent: {0}")]
    Corrupt(String),
    /// The log is shorter than an append requires (`AppendRequest::log_at_least`): the
    /// database lost entries its writer had read. Nothing was appended.
    #[error("the log has {size} entries, fewer than the {expected} this append follows")]
    LogBehind { size: u64, expected: u64 },
}

/// Database errors counted since the process started, for the metrics (`service::vitals`): every
/// sqlx error becomes a `StoreError` here, so this is where they are counted.
#[derive(Debug, Default)]
pub(crate) struct DatabaseErrors {
    /// A connection not had from the pool within its acquire timeout.
    pub(crate) pool_timeouts: std::sync::atomic::AtomicU64,
    /// Answers that said the database was unavailable (unreachable, full, read-only, I/O).
    pub(crate) unavailable: std::sync::atomic::AtomicU64,
}

/// The process's count of database errors.
pub(crate) static DATABASE_ERRORS: DatabaseErrors = DatabaseErrors {
    pool_timeouts: std::sync::atomic::AtomicU64::new(0),
    unavailable: std::sync::atomic::AtomicU64::new(0),
};

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        if matches!(e, sqlx::Error::PoolTimedOut) {
            DATABASE_ERRORS.pool_timeouts.fetch_add(1, Relaxed);
        }
        let outage = Outage::of(&e);
        if outage.is_some() {
            DATABASE_ERRORS.unavailable.fetch_add(1, Relaxed);
        }
        match outage {
            Some(outage) => {
                if !matches!(outage, Outage::Unreachable | Outage::Tls) {
                    sqlite::note_file_fault();
                }
                StoreError::Unavailable {
                    outage,
                    cause: e.to_string(),
                }
            }
            None => StoreError::Backend(e),
        }
    }
}

impl StoreError {
    /// The outage this error reports, if it is one.
    pub(crate) fn outage(&self) -> Option<Outage> {
        match self {
            StoreError::Unavailable { outage, .. } => Some(*outage),
            _ => None,
        }
    }
}

/// Why the database cannot be used at the moment. Each is a state of the database or its
/// disk, not of a request, so the same request may succeed later unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// No connection: the server is down, restarting, or out of reach (or no connection could
    /// be had within the pool's timeout).
    Unreachable,
    /// The disk (or the database's size limit) is full.
    Full,
    /// The database or its disk takes no writes (a read-only file or filesystem, a standby).
    ReadOnly,
    /// The disk failed a read or write.
    Io,
    /// No secure connection: the server offers no TLS where the URL requires it, or its
    /// certificate is not signed by a trusted authority, or not for the host name (`sslmode`,
    /// `sslrootcert`). A configuration fault rather than a passing state, reported apart from
    /// `Unreachable` so that nobody waits for it to pass.
    Tls,
}

impl Outage {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outage::Unreachable => "unreachable",
            Outage::Full => "full",
            Outage::ReadOnly => "read_only",
            Outage::Io => "io_error",
            Outage::Tls => "tls",
        }
    }

    /// The outage behind a driver error, if it is one (a constraint or syntax error is not).
    pub(crate) fn of(e: &sqlx::Error) -> Option<Outage> {
        match e {
            sqlx::Error::Tls(_) => Some(Outage::Tls),
            // rustls reports a failed handshake (an unknown authority, a wrong host name, an
            // alert from the server) as an I/O error carrying its own error.
            sqlx::Error::Io(io) if tls_failure(io) => Some(Outage::Tls),
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Some(Outage::Unreachable),
            sqlx::Error::Database(db) => {
                if let Some(sqlite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                    // SQLite reports extended result codes; the primary code is the low byte.
                    let code = sqlx::error::DatabaseError::code(sqlite)
                        .and_then(|c| c.parse::<i32>().ok())?;
                    return match code & 0xff {
                        13 => Some(Outage::Full),    // SQLITE_FULL
                        8 => Some(Outage::ReadOnly), // SQLITE_READONLY
                        10 | 14 => Some(Outage::Io), // SQLITE_IOERR, SQLITE_CANTOPEN
                        _ => None,
                    };
                }
                let code = db.code()?;
                match code.as_ref() {
                    // connection exceptions; shutting down, crashed, starting up; too many
                    // connections
                    c if c.starts_with("08") => Some(Outage::Unreachable),
                    "57P01" | "57P02" | "57P03" | "53300" => Some(Outage::Unreachable),
                    "53100" => Some(Outage::Full),
                    // a hot standby, or default_transaction_read_only
                    "25006" => Some(Outage::ReadOnly),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Whether `io` is a TLS handshake's failure rather than the network's.
fn tls_failure(io: &std::io::Error) -> bool {
    io.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// How a process uses its database connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pooling {
    /// At most this many connections to PostgreSQL.
    pub max_connections: u32,
    /// How long a query waits for a connection (including making one) before it gives up.
    pub acquire_timeout: Duration,
}

impl Pooling {
    /// The server: no request may hang on a database that has gone, and a healthy one hands a
    /// connection over in far less than a second.
    pub(crate) const SERVER: Pooling = Pooling {
        max_connections: 16,
        acquire_timeout: Duration::from_secs(1),
    };
    /// A command: one person waits for it, and would rather wait a few seconds for a database
    /// that is starting than be refused.
    pub const COMMAND: Pooling = Pooling {
        max_connections: 16,
        acquire_timeout: Duration::from_secs(5),
    };
}

/// The canonical form of an event as stored and hashed: JCS (RFC 8785) bytes of this envelope.
/// Read by its own `Deserialize` (`store/envelope.rs`) rather than serde's `flatten`, which
/// would buffer the whole payload as a tree before reading the event from it.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub(crate) event_id: Uuid,
    pub(crate) stream_id: String,
    pub(crate) schema_version: i32,
    pub(crate) recorded_at: String,
    pub(crate) actor: String,
    pub(crate) visibility: Visibility,
    #[serde(flatten)]
    pub event: Event,
}

/// An event ready to append: its canonical payload bytes are fixed before it reaches the store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub(crate) stream_id: String,
    pub(crate) event_type: String,
    pub(crate) schema_version: i32,
    pub(crate) payload: Vec<u8>,
    pub(crate) recorded_at: String,
    pub(crate) actor: String,
    pub(crate) visibility: Visibility,
}

impl NewEvent {
    pub fn new(event: Event, event_id: Uuid, recorded_at: String, actor: String) -> NewEvent {
        let envelope = Envelope {
            event_id,
            stream_id: event.stream(),
            schema_version: SCHEMA_VERSION,
            recorded_at,
            actor,
            visibility: event.visibility(),
            event,
        };
        let mut payload = crate::canonical::to_vec(&envelope);
        // Grown by doubling as it was written: an import holds hundreds of thousands.
        payload.shrink_to_fit();
        NewEvent {
            event_id,
            stream_id: envelope.stream_id,
            event_type: envelope.event.event_type().to_owned(),
            schema_version: SCHEMA_VERSION,
            payload,
            recorded_at: envelope.recorded_at,
            actor: envelope.actor,
            visibility: envelope.visibility,
        }
    }
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub position: u64,
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Vec<u8>,
    pub recorded_at: String,
    pub actor: String,
    pub visibility: Visibility,
    pub leaf_hash: Vec<u8>,
    pub chain_hash: Vec<u8>,
}

impl StoredEvent {
    /// Decodes the payload (upcasting older schema versions, of which there are none yet).
    pub fn envelope(&self) -> Result<Envelope, StoreError> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            StoreError::Corrupt(format!(
                "event at position {} does not decode: {e}",
                self.position
            ))
        })
    }
}

/// One command's append: its events, the stream versions its decision was based on, and the
/// projection and credential writes that go with it.
#[derive(Debug, Clone, Default)]
pub struct AppendRequest {
    pub events: Vec<NewEvent>,
    /// Each stream the decision read or writes, with the version it had then (`None`: no events).
    pub expected: Vec<(String, Option<i64>)>,
    pub idempotency: Option<IdempotencyRecord>,
    pub writes: Vec<Write>,
    /// The log must hold at least this many entries when the append takes the head's lock (the
    /// entries its writer decided on), or the whole batch is refused (`StoreError::LogBehind`):
    /// an append never lands on a log that shrank under its writer.
    pub log_at_least: u64,
}

#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    /// Who used the key (keys are scoped to their user).
    pub scope: String,
    pub key: String,
    /// A hash of the request, to refuse the same key reused for another request.
    pub request_hash: String,
}

#[derive(Debug, Clone)]
pub struct Appended {
    pub events: Vec<StoredEvent>,
    /// True when the append had happened before and this is its first result again.
    pub replayed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogHead {
    pub size: u64,
    pub chain_hash: Vec<u8>,
}

/// What the log's leaves are: SHA-256(0x00 ‖ payload), the RFC 9162 leaf hash.
pub fn leaf_hash(payload: &[u8]) -> Vec<u8> {
    crate::transparency::merkle::leaf_hash(payload).to_vec()
}

/// The running hash chain: SHA-256(previous chain hash ‖ leaf hash), from 32 zero bytes.
pub(crate) fn chain_hash(previous: &[u8], leaf: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(leaf);
    h.finalize().to_vec()
}

pub(crate) const GENESIS_CHAIN: [u8; 32] = [0u8; 32];

/// The contract both databases meet; one test suite checks it on each.
#[allow(async_fn_in_trait)]
pub trait EventStore {
    /// Applies the migrations that are not yet applied.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Appends each request in order in one transaction. A request whose expected versions are
    /// stale is refused alone (`Conflict`); one whose first event id is already stored is answered
    /// with the stored events (`replayed`). A backend failure fails the whole batch.
    async fn append_batch(
        &self,
        batch: Vec<AppendRequest>,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError>;
    /// Up to `limit` events from `from` on, in position order.
    async fn read(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;
    async fn head(&self) -> Result<LogHead, StoreError>;
    /// The events an earlier use of an idempotency key appended, and its request hash.
    async fn idempotent(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<(String, Vec<StoredEvent>)>, StoreError>;
    /// Replaces the projections with these rows in one transaction.
    async fn replace_projections(
        &self,
        organisations: Vec<OrganisationRow>,
        awards: Vec<AwardRow>,
    ) -> Result<(), StoreError>;
    /// Every projection row, in key order.
    async fn projections(&self) -> Result<(Vec<OrganisationRow>, Vec<AwardRow>), StoreError>;
    /// One page of the public register and the number of matches.
    async fn search(&self, query: &RegisterQuery) -> Result<(Vec<AwardRow>, u64), StoreError>;
    async fn token(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError>;
    async fn ready(&self) -> Result<(), StoreError>;
    /// Keeps a signed checkpoint (a size is signed once; a second save of it changes nothing).
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;
    /// Every checkpoint, smallest first.
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// The stored Merkle hashes of one level, by index.
    async fn tree_hashes(&self, level: u32) -> Result<Vec<Vec<u8>>, StoreError>;
}

/// A signed checkpoint of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub size: u64,
    pub(crate) root: Vec<u8>,
    pub note: String,
    pub(crate) signed_at: String,
}

/// The store the process runs on: one of the two implementations.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// Opens `url` (`sqlite://…` or `postgres://…`) for a command and applies the migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_pooled(url, Pooling::COMMAND).await
    }

    /// Opens `url` with the given pooling and applies the migrations.
    pub async fn open_pooled(url: &str, pooling: Pooling) -> Result<Store, StoreError> {
        Store::open_for(url, pooling, migrations::Migrations::Apply).await
    }

    /// Opens `url` with the given pooling, applying the migrations or only checking that the
    /// schema is current, as `migrations` says.
    pub(crate) async fn open_for(
        url: &str,
        pooling: Pooling,
        migrations: migrations::Migrations,
    ) -> Result<Store, StoreError> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(PostgresStore::connect_pooled(url, pooling).await?)
        } else {
            Store::Sqlite(SqliteStore::open(url).await?)
        };
        // Checking only, nothing is written: what `migrate` also does after the migrations
        // (tree hashes recomputed for a log older than them) is left to `wexqs migrate`.
        match migrations {
            migrations::Migrations::Apply => store.migrate().await?,
            migrations::Migrations::CheckOnly => match &store {
                Store::Sqlite(s) => s.run_migrations(migrations).await?,
                Store::Postgres(s) => s.run_migrations(migrations).await?,
            },
        }
        Ok(store)
    }

    /// Opens an append written in pieces within one transaction (`OpenAppend`), with `first`
    /// as its first piece: the streams it states, its idempotency key and its first events.
    /// Until it is committed or dropped it holds the log head's lock: no other append lands.
    pub(crate) async fn open_append(
        &self,
        first: AppendRequest,
    ) -> Result<Opened<OpenAppend>, StoreError> {
        use sql::Sql;
        Ok(match self {
            Store::Sqlite(s) => match Sql::open_append(s.pool(), first).await? {
                Opened::Open(open, appended) => Opened::Open(OpenAppend::Sqlite(open), appended),
                Opened::Answered(answer) => Opened::Answered(answer),
            },
            Store::Postgres(s) => match Sql::open_append(s.pool(), first).await? {
                Opened::Open(open, appended) => Opened::Open(OpenAppend::Postgres(open), appended),
                Opened::Answered(answer) => Opened::Answered(answer),
            },
        })
    }

    /// Closes every connection and waits until they are closed.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.pool().close().await,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// The connection pool as it is now: (connections open, of them idle, the most it opens).
    pub(crate) fn pool_state(&self) -> (u32, usize, u32) {
        fn of<D: sqlx::Database>(pool: &sqlx::Pool<D>) -> (u32, usize, u32) {
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        match self {
            Store::Sqlite(s) => of(s.pool()),
            Store::Postgres(s) => of(s.pool()),
        }
    }
}

/// An append being written in pieces within one transaction (`Store::open_append`): each piece
/// is written as it comes, and all land together at `commit`, or none if it is dropped.
pub(crate) enum OpenAppend {
    Sqlite(append::Open<sqlx::Sqlite>),
    Postgres(append::Open<sqlx::Postgres>),
}

impl OpenAppend {
    /// Writes the next piece: its events after those before, and its projection rows.
    pub(crate) async fn push(
        &mut self,
        events: Vec<NewEvent>,
        writes: Vec<Write>,
    ) -> Result<Appended, StoreError> {
        use sql::Sql;
        match self {
            OpenAppend::Sqlite(open) => Sql::append_piece(open, events, writes).await,
            OpenAppend::Postgres(open) => Sql::append_piece(open, events, writes).await,
        }
    }

    /// Commits every piece at once.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        use sql::Sql;
        match self {
            OpenAppend::Sqlite(open) => Sql::commit_open(open).await,
            OpenAppend::Postgres(open) => Sql::commit_open(open).await,
        }
    }
}

impl EventStore for Store {
    async fn migrate(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.migrate())
    }
    async fn append_batch(
        &self,
        batch: Vec<AppendRequest>,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        delegate!(self, s => s.append_batch(batch))
    }
    async fn read(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        delegate!(self, s => s.read(from, limit))
    }
    async fn head(&self) -> Result<LogHead, StoreError> {
        delegate!(self, s => s.head())
    }
    async fn idempotent(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<(String, Vec<StoredEvent>)>, StoreError> {
        delegate!(self, s => s.idempotent(scope, key))
    }
    async fn replace_projections(
        &self,
        organisations: Vec<OrganisationRow>,
        awards: Vec<AwardRow>,
    ) -> Result<(), StoreError> {
        delegate!(self, s => s.replace_projections(organisations, awards))
    }
    async fn projections(&self) -> Result<(Vec<OrganisationRow>, Vec<AwardRow>), StoreError> {
        delegate!(self, s => s.projections())
    }
    async fn search(&self, query: &RegisterQuery) -> Result<(Vec<AwardRow>, u64), StoreError> {
        delegate!(self, s => s.search(query))
    }
    async fn token(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError> {
        delegate!(self, s => s.token(token_id))
    }
    async fn ready(&self) -> Result<(), StoreError> {
        delegate!(self, s => s.ready())
    }
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        delegate!(self, s => s.save_checkpoint(checkpoint))
    }
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        delegate!(self, s => s.checkpoints())
    }
    async fn tree_hashes(&self, level: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        delegate!(self, s => s.tree_hashes(level))
    }
}

/// Reads the whole log in pages, calling `each` on every event in order. Memory holds two pages
/// at most: the next page is asked for before the current one is handed to `each`, and the work
/// gives way every few events so that the database reads it meanwhile.
pub async fn scan<S, F>(store: &S, from: u64, mut each: F) -> Result<u64, StoreError>
where
    S: EventStore,
    F: FnMut(&StoredEvent) -> Result<(), StoreError>,
{
    const PAGE: u32 = 2_000;
    const GIVE_WAY_EVERY: usize = 64;
    let mut next = from;
    let mut page = store.read(next, PAGE).await?;
    loop {
        let last_page = page.len() < PAGE as usize;
        let after = page.last().map_or(next, |e| e.position + 1);
        let work = async {
            for (i, event) in page.iter().enumerate() {
                each(event)?;
                if i % GIVE_WAY_EVERY == GIVE_WAY_EVERY - 1 && !last_page {
                    tokio::task::yield_now().await;
                }
            }
            Ok::<_, StoreError>(after)
        };
        if last_page {
            return work.await;
        }
        let (following, done) = futures_util::future::join(store.read(after, PAGE), work).await;
        next = done?;
        page = following?;
    }
}
