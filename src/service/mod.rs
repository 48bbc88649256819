//! The service: the only place that loads state, decides and appends. It keeps the folded state
//! in memory (tailing the log, so several instances can share one database), hands appends to a
//! batching writer, and answers the public queries. HTTP handlers and CLI commands are thin
//! adapters over it.
//!
//! `Registry` is defined here, made of parts that each own their fields and locks: `log` (the
//! store, the writer, the log folded in memory and `catch_up`), `snapshot` (the derived views of
//! one log size and day), `signing`, `transparency`, `high_water` and `background`'s health;
//! its struct's documentation says the order locks are taken in. Its `impl` blocks live by
//! concern: `writer` (decide and append), `queries` (named reads), `tokens`, `idempotency`,
//! `signing` (credentials, did.json, the status list), `transparency` (tree, proofs,
//! checkpoints), `background` (tailing, expiries, the database's availability), `verification`
//! (a presented credential's checks, with what the registry already knows). `import` and
//! `demo` load whole registers through it; `maintenance` looks after a database with no
//! registry started on it, and `backup` copies one (checked, with a manifest) and puts a copy
//! back.

pub(crate) mod actors;
pub(crate) mod audit;
pub(crate) mod background;
pub(crate) mod backup;
mod credential_texts;
pub(crate) mod dashboard;
pub mod demo;
pub(crate) mod feeds;
pub(crate) mod high_water;
pub(crate) mod idempotency;
pub mod import;
pub(crate) mod import_preview;
pub(crate) mod lists;
mod log;
pub mod maintenance;
pub(crate) mod queries;
pub(crate) mod reentry;
pub(crate) mod register_index;
pub(crate) mod search;
pub mod sessions;
pub mod sign_in;
pub(crate) mod signing;
mod snapshot;
pub mod staff;
pub(crate) mod tokens;
pub(crate) mod transparency;
mod verification;
pub(crate) mod vitals;
mod webhook_delivery;
mod webhook_secrets;
pub mod webhook_targets;
pub mod webhooks;
pub(crate) mod writer;

use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;
use rand::{Rng, RngCore, SeedableRng};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::domain::calendar::Calendar;
use crate::domain::{CertificateNumber, DomainError, Event};
use crate::error_codes::ErrorCode;
use crate::store::{EventStore, Store, StoredEvent};

/// The store's types the service's errors still speak (a store error and the outage it says), so
/// that adapters need not name the store.
pub(crate) use crate::store::{Outage, StoreError};

pub(crate) use background::spawn_background;
pub(crate) use idempotency::{Idempotency, request_hash};
pub use maintenance::{LogReport, LogSummary, Maintenance};
pub use signing::Signing;
pub(crate) use snapshot::Version;
pub(crate) use transparency::check_checkpoints;
pub(crate) use webhook_delivery::{Deliveries, spawn_webhook_deliveries};
pub use writer::{WriterStats, fold_log};

use writer::{Job, writer_loop};

/// Where the time comes from: the system clock in production, a fixed one in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that says what it is told.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(now: DateTime<Utc>) -> FixedClock {
        FixedClock(Mutex::new(now))
    }
    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().expect("the clock's lock is never poisoned") = now;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("the clock's lock is never poisoned")
    }
}

/// The UK calendar day of an instant: statuses flip at local midnight.
pub(crate) fn uk_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// The roles an API token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Reviewer,
}

impl Role {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
        }
    }
    pub(crate) fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "reviewer" => Some(Role::Reviewer),
            _ => None,
        }
    }
}

/// Who did something: recorded with every event they cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `token:ID` for an API token, `cli:USER` for the command line (`cli` when its user is not
    /// known), `system` for the registry itself (`actors.rs`).
    pub(crate) id: String,
    pub(crate) role: Role,
}

impl Actor {
    pub(crate) fn system() -> Actor {
        Actor {
            id: "system".into(),
            role: Role::Admin,
        }
    }
    /// The command line, run by the operating system user the environment names.
    pub fn cli() -> Actor {
        Actor {
            id: actors::command_line_actor(actors::os_user().as_deref()),
            role: Role::Admin,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{message}")]
    Invalid { code: ErrorCode, message: String },
    #[error("someone else changed the same record at the same moment; read it again and retry")]
    Conflict,
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("the token is missing, unknown or revoked")]
    Unauthenticated,
    #[error("this token's role ({0}) may not do this")]
    Forbidden(&'static str),
    /// The database is behind the log this registry published (`high_water`): nothing is
    /// signed or appended, and reads are not answered, until the missing entries are re-entered.
    #[error("the database is behind the published log: {0}")]
    Behind(String),
    /// The database cannot serve anyone right now (`outage` says why): an outage to wait out,
    /// not a fault in the request, so the same request may succeed later unchanged.
    #[error("the database is unavailable ({}): {cause}", outage.as_str())]
    Unavailable { outage: Outage, cause: String },
    #[error(transparent)]
    Store(StoreError),
}

impl ServiceError {
    /// The outage this error reports, if it is one.
    pub(crate) fn outage(&self) -> Option<Outage> {
        match self {
            ServiceError::Unavailable { outage, .. } => Some(*outage),
            _ => None,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => ServiceError::Conflict,
            StoreError::IdempotencyKeyReused => ServiceError::IdempotencyKeyReused,
            StoreError::LogBehind { size, expected } => ServiceError::Behind(format!(
                "the database's log has {size} entries but this registry has read {expected}"
            )),
            StoreError::Unavailable { outage, cause } => {
                ServiceError::Unavailable { outage, cause }
            }
            other => ServiceError::Store(other),
        }
    }
}

/// What an append produced: the stored events and the domain events they carry.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub events: Vec<(StoredEvent, Event)>,
    pub(crate) replayed: bool,
}

impl Outcome {
    /// The certificate numbers of the awards this outcome issued.
    pub(crate) fn issued(&self) -> Vec<CertificateNumber> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::AwardIssued {
                    certificate_number, ..
                } => Some(certificate_number.clone()),
                _ => None,
            })
            .collect()
    }
    pub(crate) fn last_position(&self) -> Option<u64> {
        self.events.last().map(|(s, _)| s.position)
    }
}
/// The registry service: a few parts, each owning its fields and locks, defined (with a
/// paragraph on each lock) in the file that keeps its rules.
///
/// - `log` (`log.rs`): the store, the writer task's queue and its counts, the log as folded in
///   memory and the one catch-up at a time that reads it forward.
/// - `views` (`snapshot.rs`): one immutable snapshot of derived views (the register's search
///   index, the public changes) per log size and UK day, swapped whole when either moves.
/// - `signer` (`signing.rs`): the key in use, the awaited key said once, the signed status list.
/// - `transparency` (`transparency.rs`): the latest checkpoint, and why the last signing of one
///   failed.
/// - `high_water` (`high_water.rs`): the mark outside the database, and the behind state.
/// - `health` (`background.rs`): what the database's last answer said.
/// - `token_uses` (`tokens.rs`): when this server last wrote each token's last use.
/// - `recognition` (`verification.rs`): the keys and status list as last checked, and the
///   canonical hashes of issued credentials, for checking presented credentials.
/// - `clock` and `rng`: where time and randomness come from (`rng` a `Mutex`, held for one draw).
///
/// **Lock order.** A thread takes locks in this order and never takes one it holds again:
/// `log.catch_up_lock` (only `catch_up` and `reload`, held across the log's reads), then
/// `signer.status_list` (held while the list is signed), then `log.cache`, then under the
/// cache's read lock a snapshot's view being built, `signer.signing`, `rng` or the clock; and
/// `high_water.mark` before `high_water.mark_file`. Every other lock is held only to read or
/// replace its value, with no other lock taken under it, and no `std` lock is held across an
/// `.await`.
pub struct Registry {
    log: log::Log,
    views: snapshot::Views,
    signer: signing::Signer,
    transparency: transparency::Transparency,
    high_water: high_water::HighWater,
    health: background::Health,
    token_uses: tokens::TokenUses,
    recognition: verification::Recognition,
    texts: credential_texts::Texts,
    clock: Arc<dyn Clock>,
    rng: Mutex<Box<dyn RngCore + Send>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("store", &self.log.store.kind())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Starts the service on `store`: folds the log into memory and starts the batching writer.
    /// The log is checked against the latest checkpoint and the high-water mark kept in `mark`
    /// (`high_water`), and a registry behind them starts in the behind state. A registry whose
    /// log is empty (and not behind) first records the programme's calendar.
    pub(crate) async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        rng: Box<dyn RngCore + Send>,
        calendar: &Calendar,
        mark: Option<high_water::MarkFile>,
    ) -> Result<Arc<Registry>, ServiceError> {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let stats = Arc::new(WriterStats::default());
        let cache = Arc::new(std::sync::RwLock::new(log::Cache::empty()));
        tokio::spawn(writer_loop(store.clone(), rx, stats.clone(), cache.clone()));
        let registry = Arc::new(Registry {
            log: log::Log::new(store, tx, stats, cache),
            views: snapshot::Views::new(),
            signer: signing::Signer::new(),
            transparency: transparency::Transparency::new(),
            high_water: high_water::HighWater::new(mark),
            health: background::Health::new(),
            token_uses: tokens::TokenUses::default(),
            recognition: verification::Recognition::default(),
            texts: credential_texts::Texts::default(),
            clock,
            rng: Mutex::new(rng),
        });
        match registry.catch_up().await {
            // Started, behind: it says why and serves nothing until the log is whole again.
            Ok(()) | Err(ServiceError::Behind(_)) => {}
            Err(e) => return Err(e),
        }
        registry
            .transparency
            .set_latest(registry.log.store.checkpoints().await?.pop());
        registry.check_against_mark();
        if registry.size() == 0 && registry.behind().is_none() {
            let commands = calendar.commands_on(registry.today());
            if !commands.is_empty() {
                match registry.execute_all(&Actor::system(), commands, None).await {
                    Ok(_) => tracing::info!("new registry: recorded the programme calendar"),
                    // Another instance starting on the same database recorded it first.
                    Err(ServiceError::Conflict) => registry.catch_up().await?,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(registry)
    }

    /// How many catch-ups have begun reading the log, for `crate::testing` only.
    #[cfg(feature = "testing")]
    pub(crate) fn catch_ups_begun(&self) -> u64 {
        self.log.arrived()
    }

    /// The log as memory holds it, for `crate::testing` only (`testing::Memory`).
    #[cfg(feature = "testing")]
    pub(crate) fn memory(&self) -> crate::testing::Memory {
        self.log.read(|cache| cache.memory())
    }

    /// The store under the registry, for `crate::testing` only: everything else reaches the
    /// log through the registry's own methods.
    #[cfg(feature = "testing")]
    pub(crate) fn store(&self) -> &Store {
        &self.log.store
    }

    /// How the writer has batched appends so far.
    pub fn writer_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.log.stats.transactions.load(Relaxed),
            self.log.stats.appends.load(Relaxed),
        )
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today's date in the UK.
    pub fn today(&self) -> NaiveDate {
        uk_date(self.clock.now())
    }

    /// How many events the in-memory state has applied.
    pub fn size(&self) -> u64 {
        self.log.size()
    }

    /// What the derived views answer as of now: the log's size in memory and the UK day.
    pub(crate) fn version(&self) -> Version {
        Version {
            log_size: self.size(),
            day: self.today(),
        }
    }

    /// The snapshot of derived views of the log as it is now.
    fn snapshot(&self) -> Arc<snapshot::Snapshot> {
        self.views.at(self.version())
    }

    fn read_cache<T>(&self, f: impl FnOnce(&log::Cache) -> T) -> T {
        self.log.read(f)
    }

    /// Applies to the in-memory state every event appended since it last looked: afterwards the
    /// state holds at least every event committed before the call. Callers arriving together
    /// share one reading of the log: a catch-up that began after a caller arrived and read to
    /// the end has already seen all that caller asks for.
    pub async fn catch_up(&self) -> Result<(), ServiceError> {
        let arrived = self.log.arrived();
        let _one_at_a_time = self.log.catch_up_lock.lock().await;
        if self.log.read_to_end_since(arrived) {
            return Ok(());
        }
        let ticket = self.log.begin();
        self.read_log_on(ticket).await
    }

    /// Reads the whole log again into a fresh state (while behind, to find whether the database
    /// holds the published log again): the derived views are dropped with the old state.
    pub(crate) async fn reload(&self) -> Result<(), ServiceError> {
        let _one_at_a_time = self.log.catch_up_lock.lock().await;
        let ticket = self.log.begin();
        self.log.reset();
        self.views.clear();
        self.read_log_on(ticket).await
    }

    /// Reads the log past what memory holds (`Log::read_on`); an entry that does not follow
    /// from the ones before it puts the registry behind. Called under `catch_up_lock`.
    async fn read_log_on(&self, ticket: u64) -> Result<(), ServiceError> {
        match self.log.read_on(ticket).await? {
            None => Ok(()),
            Some(broken) => {
                self.fall_behind(broken.clone());
                Err(ServiceError::Behind(broken))
            }
        }
    }

    /// Catches up unless the in-memory state already holds the event at `position` (the last
    /// of an append this instance made): reading one's own write needs no database.
    pub(crate) async fn catch_up_past(&self, position: Option<u64>) -> Result<(), ServiceError> {
        match position {
            Some(p) if self.size() > p => Ok(()),
            _ => self.catch_up().await,
        }
    }

    fn random_uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng
            .lock()
            .expect("the random source's lock is never poisoned")
            .fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// A fresh certificate number (75 random bits).
    pub fn new_certificate_number(&self) -> CertificateNumber {
        let random: u128 = self
            .rng
            .lock()
            .expect("the random source's lock is never poisoned")
            .r#gen();
        CertificateNumber::from_random(random)
    }

    /// A fresh organisation id (a random UUID).
    pub fn new_organisation_id(&self) -> crate::domain::OrganisationId {
        crate::domain::OrganisationId(self.random_uuid())
    }

    /// A fresh application id (a random UUID, written as text).
    pub(crate) fn new_application_id(&self) -> String {
        self.random_uuid().to_string()
    }
}

/// A random source seeded from the operating system.
pub(crate) fn os_rng() -> Box<dyn RngCore + Send> {
    Box::new(rand::rngs::StdRng::from_entropy())
}

/// A random source with a fixed seed, for the demo register and tests.
pub fn seeded_rng(seed: u64) -> Box<dyn RngCore + Send> {
    Box::new(rand::rngs::StdRng::seed_from_u64(seed))
}
