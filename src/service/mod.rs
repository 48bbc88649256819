//! The service: the only place that loads state, decides and appends. It keeps the folded state
//! in memory (tailing the log, so several instances can share one database), hands appends to a
//! batching writer, and answers the public queries. HTTP handlers and CLI commands are thin
//! adapters over it.
//!
//! `Registry` is defined here with what every concern shares (the clock, the random source, the
//! in-memory cache and `catch_up`); its other `impl` blocks live by concern: `writer` (decide and
//! append), `queries` (named reads), `tokens`, `idempotency`, `signing` (credentials, did.json,
//! the status list), `transparency` (tree, proofs, checkpoints), `background` (tailing, expiries,
//! the database's availability). `import` and `demo` load whole registers through it;
//! `maintenance` looks after a database with no registry started on it, and `backup` copies one
//! (checked, with a manifest) and puts a copy back.

pub mod background;
pub mod backup;
pub mod demo;
pub mod feeds;
pub mod high_water;
pub mod idempotency;
pub mod import;
pub mod maintenance;
pub mod queries;
pub mod reentry;
pub mod register_index;
pub mod search;
pub mod signing;
pub mod tokens;
pub mod transparency;
pub mod vitals;
mod webhook_delivery;
mod webhook_secrets;
pub mod webhook_targets;
pub mod webhooks;
pub mod writer;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;
use rand::{Rng, RngCore, SeedableRng};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::domain::calendar::Calendar;
use crate::domain::{CertificateNumber, DomainError, Event, State};
use crate::error_codes::ErrorCode;
use crate::store::{EventStore, Store, StoredEvent};

/// The store's types the service's errors still speak (a store error and the outage it says), so
/// that adapters need not name the store.
pub use crate::store::{Outage, StoreError};

pub use background::spawn_background;
pub use idempotency::{Idempotency, request_hash};
pub use maintenance::{LogReport, LogSummary, Maintenance};
pub use signing::Signing;
pub use transparency::check_checkpoints;
pub use webhook_delivery::{Deliveries, spawn_webhook_deliveries};
pub use writer::{WriterStats, fold_log};

use signing::SignedStatusList;
use writer::{Job, writer_loop};

/// Where the time comes from: the system clock in production, a fixed one in tests.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

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
pub fn uk_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// The roles an API token can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Reviewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
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
    /// `token:ID` for an API token, `cli` for the command line, `system` for the registry itself.
    pub id: String,
    pub role: Role,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            id: "system".into(),
            role: Role::Admin,
        }
    }
    pub fn cli() -> Actor {
        Actor {
            id: "cli".into(),
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
    pub fn outage(&self) -> Option<Outage> {
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
    pub replayed: bool,
}

impl Outcome {
    /// The certificate numbers of the awards this outcome issued.
    pub fn issued(&self) -> Vec<CertificateNumber> {
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
    pub fn last_position(&self) -> Option<u64> {
        self.events.last().map(|(s, _)| s.position)
    }
}

struct Cache {
    state: State,
    versions: HashMap<String, i64>,
    /// The Merkle tree over every event's leaf hash, in position order.
    tree: crate::transparency::merkle::Tree,
    /// When each event was recorded (unix seconds), by position: what the feeds date an entry.
    recorded_at: Vec<i64>,
    /// The chain hash after the last event read, recomputed from the entries.
    chain: Vec<u8>,
    /// Where the stored log stopped following from its entries as it was read (an entry whose
    /// leaf or chain hash is not what its bytes and the entries before it give): nothing after
    /// it is read until the whole log is read again (`reload`).
    broken: Option<String>,
}

impl Cache {
    fn empty() -> Cache {
        Cache {
            state: State::default(),
            versions: HashMap::new(),
            tree: crate::transparency::merkle::Tree::new(),
            recorded_at: Vec::new(),
            chain: crate::store::GENESIS_CHAIN.to_vec(),
            broken: None,
        }
    }
}

/// The registry service.
pub struct Registry {
    store: Store,
    writer: mpsc::Sender<Job>,
    cache: RwLock<Cache>,
    catch_up_lock: tokio::sync::Mutex<()>,
    /// How many catch-ups have begun reading (counted under `catch_up_lock`), and which of them
    /// last read to the end of the log: a caller that waited while a later one ran needs no
    /// read of its own.
    catch_ups_begun: AtomicU64,
    catch_up_done: AtomicU64,
    clock: Arc<dyn Clock>,
    rng: Mutex<Box<dyn RngCore + Send>>,
    stats: Arc<WriterStats>,
    signing: RwLock<Option<Signing>>,
    /// The newly active key last said to be missing from the keys folder (said once a key).
    key_awaited_said: Mutex<Option<String>>,
    status_list_cache: Mutex<Option<SignedStatusList>>,
    /// The latest signed checkpoint known, served from memory so that an auditor gets it while
    /// the database is away.
    latest_checkpoint: RwLock<Option<crate::store::Checkpoint>>,
    /// The register's award rows in the register's order, as of a log size: built from the
    /// state when the log has moved, so that a search needs no database.
    register: Mutex<Option<(u64, Arc<register_index::RegisterIndex>)>>,
    /// Every public change in log order, as of a log size: built when the log has moved, so a
    /// page of the feed is a look-up, not a walk through every award's history.
    changes: Mutex<Option<Arc<feeds::ChangeIndex>>>,
    /// What the database's last answer said: `Some` while it is unavailable (for logs that
    /// say so once, not every second, and for the readiness check).
    outage: Mutex<Option<crate::store::Outage>>,
    /// Where the high-water mark is kept (`None`: nowhere outside the database), and the mark.
    mark_file: RwLock<Option<high_water::MarkFile>>,
    mark: RwLock<Option<high_water::Mark>>,
    /// `Some(reason)` while the database is behind the published log (`high_water`).
    behind: Mutex<Option<String>>,
    /// `Some(why)` while the last attempt to sign a checkpoint failed.
    checkpoint_failure: Mutex<Option<String>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("store", &self.store.kind())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Starts the service on `store`: folds the log into memory and starts the batching writer.
    /// The log is checked against the latest checkpoint and the high-water mark kept in `mark`
    /// (`high_water`), and a registry behind them starts in the behind state. A registry whose
    /// log is empty (and not behind) first records the programme's calendar.
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        rng: Box<dyn RngCore + Send>,
        calendar: &Calendar,
        mark: Option<high_water::MarkFile>,
    ) -> Result<Arc<Registry>, ServiceError> {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(writer_loop(store.clone(), rx, stats.clone()));
        let registry = Arc::new(Registry {
            store,
            writer: tx,
            cache: RwLock::new(Cache::empty()),
            catch_up_lock: tokio::sync::Mutex::new(()),
            catch_ups_begun: AtomicU64::new(0),
            catch_up_done: AtomicU64::new(0),
            clock,
            rng: Mutex::new(rng),
            stats,
            signing: RwLock::new(None),
            key_awaited_said: Mutex::new(None),
            status_list_cache: Mutex::new(None),
            latest_checkpoint: RwLock::new(None),
            register: Mutex::new(None),
            changes: Mutex::new(None),
            outage: Mutex::new(None),
            mark_file: RwLock::new(mark),
            mark: RwLock::new(None),
            behind: Mutex::new(None),
            checkpoint_failure: Mutex::new(None),
        });
        match registry.catch_up().await {
            // Started, behind: it says why and serves nothing until the log is whole again.
            Ok(()) | Err(ServiceError::Behind(_)) => {}
            Err(e) => return Err(e),
        }
        *registry.latest_checkpoint.write().expect("never poisoned") =
            registry.store.checkpoints().await?.pop();
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

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How the writer has batched appends so far.
    pub fn writer_stats(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.stats.transactions.load(Relaxed),
            self.stats.appends.load(Relaxed),
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
        self.read_cache(|c| c.state.size)
    }

    fn read_cache<T>(&self, f: impl FnOnce(&Cache) -> T) -> T {
        f(&self.cache.read().expect("the cache lock is never poisoned"))
    }

    /// Applies to the in-memory state every event appended since it last looked: afterwards the
    /// state holds at least every event committed before the call. Callers arriving together
    /// share one reading of the log: a catch-up that began after a caller arrived and read to
    /// the end has already seen all that caller asks for.
    pub async fn catch_up(&self) -> Result<(), ServiceError> {
        let arrived = self.catch_ups_begun.load(Ordering::SeqCst);
        let _one_at_a_time = self.catch_up_lock.lock().await;
        if self.catch_up_done.load(Ordering::SeqCst) > arrived {
            return Ok(());
        }
        let ticket = self.catch_ups_begun.fetch_add(1, Ordering::SeqCst) + 1;
        self.read_log_on(ticket).await
    }

    /// Reads the whole log again into a fresh state (while behind, to find whether the database
    /// holds the published log again): the derived views are dropped with the old state.
    pub(crate) async fn reload(&self) -> Result<(), ServiceError> {
        let _one_at_a_time = self.catch_up_lock.lock().await;
        let ticket = self.catch_ups_begun.fetch_add(1, Ordering::SeqCst) + 1;
        *self
            .cache
            .write()
            .expect("the cache lock is never poisoned") = Cache::empty();
        *self.register.lock().expect("never poisoned") = None;
        *self.changes.lock().expect("never poisoned") = None;
        self.read_log_on(ticket).await
    }

    /// Reads the log past what memory holds, checking that each entry's leaf and chain hashes
    /// follow from its bytes and the entries before it; the first that does not stops the
    /// reading and puts the registry behind. Called under `catch_up_lock`.
    async fn read_log_on(&self, ticket: u64) -> Result<(), ServiceError> {
        const PAGE: u32 = 2_000;
        loop {
            if let Some(broken) = self.read_cache(|c| c.broken.clone()) {
                self.fall_behind(broken.clone());
                return Err(ServiceError::Behind(broken));
            }
            let from = self.size();
            let page = self.store.read(from, PAGE).await?;
            // Decoded outside the lock; an entry that does not decode is found in turn below.
            let decoded: Vec<_> = page
                .iter()
                .map(|e| (e, e.envelope().map(|env| env.event)))
                .collect();
            let mut cache = self
                .cache
                .write()
                .expect("the cache lock is never poisoned");
            for (stored, event) in decoded {
                let leaf = crate::transparency::merkle::leaf_hash(&stored.payload);
                let chain = crate::store::chain_hash(&cache.chain, &leaf);
                let problem = if stored.position != cache.tree.size() {
                    Some("is not the next position")
                } else if stored.leaf_hash.as_slice() != leaf.as_slice() {
                    Some("does not match its stored leaf hash: the entry was changed")
                } else if stored.chain_hash != chain {
                    Some(
                        "does not follow from the entries before it (its chain hash differs): the log was changed or forked",
                    )
                } else if event.is_err() {
                    Some("does not decode")
                } else {
                    None
                };
                let (None, Ok(event)) = (problem, event) else {
                    let problem = problem.unwrap_or("does not decode");
                    cache.broken = Some(format!("the entry at {} {problem}", stored.position));
                    break;
                };
                cache.chain = chain;
                cache.tree.push(leaf);
                let recorded_at = DateTime::parse_from_rfc3339(&stored.recorded_at)
                    .map_or(DateTime::<Utc>::UNIX_EPOCH, |t| t.with_timezone(&Utc));
                cache.recorded_at.push(recorded_at.timestamp());
                cache.state.apply(stored.position, &event);
                date_undated_amendment(&mut cache.state, &event, uk_date(recorded_at));
                cache
                    .versions
                    .insert(stored.stream_id.clone(), stored.stream_version);
            }
            if cache.broken.is_some() {
                continue;
            }
            drop(cache);
            // A short page is the end of the log as it was when the page was read, which was
            // after this catch-up began.
            if page.len() < PAGE as usize {
                self.catch_up_done.store(ticket, Ordering::SeqCst);
                return Ok(());
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
    pub fn new_application_id(&self) -> String {
        self.random_uuid().to_string()
    }
}

/// Dates an amendment recorded before amendments carried their day by the UK day it was
/// recorded, so that every line of an award's history has a date.
fn date_undated_amendment(state: &mut State, event: &Event, recorded_on: NaiveDate) {
    let Event::AwardAmended {
        certificate_number,
        effective_on: None,
        ..
    } = event
    else {
        return;
    };
    if let Some(entry) = state
        .awards
        .get_mut(certificate_number)
        .map(Arc::make_mut)
        .and_then(|a| a.history.last_mut())
        && let crate::domain::state::AwardChange::Amended { on, .. } = &mut entry.change
        && on.is_none()
    {
        *on = Some(recorded_on);
    }
}

/// A random source seeded from the operating system.
pub fn os_rng() -> Box<dyn RngCore + Send> {
    Box::new(rand::rngs::StdRng::from_entropy())
}

/// A random source with a fixed seed, for the demo register and tests.
pub fn seeded_rng(seed: u64) -> Box<dyn RngCore + Send> {
    Box::new(rand::rngs::StdRng::seed_from_u64(seed))
}
