//! The service: the only place that loads state, decides and appends. It keeps the folded state
//! in memory (tailing the log, so several instances can share one database), hands appends to a
//! batching writer, and answers the public queries. HTTP handlers and CLI commands are thin
//! adapters over it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Europe::London;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::domain::calendar::Calendar;
use crate::domain::{
    Award, CertificateNumber, Command, Context, DomainError, Event, Programme, State, Status,
    Verdict, decide, status_as_of, streams_read,
};
use crate::projection::{all_rows, scratch_for, writes_for};
use crate::store::{
    AppendRequest, Appended, AwardRow, EventStore, IdempotencyRecord, NewEvent, RegisterQuery,
    Store, StoreError, StoredEvent, TokenRow, Write,
};

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
    Invalid { code: &'static str, message: String },
    #[error("row {line}: {message}")]
    Row {
        line: usize,
        code: &'static str,
        message: String,
    },
    #[error("someone else changed the same record at the same moment; read it again and retry")]
    Conflict,
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("the token is missing, unknown or revoked")]
    Unauthenticated,
    #[error("this token's role ({0}) may not do this")]
    Forbidden(&'static str),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { .. } => ServiceError::Conflict,
            StoreError::IdempotencyKeyReused => ServiceError::IdempotencyKeyReused,
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

/// An Idempotency-Key and a hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

struct Cache {
    state: State,
    versions: HashMap<String, i64>,
    /// The Merkle tree over every event's leaf hash, in position order.
    tree: crate::transparency::merkle::Tree,
}

type Job = (AppendRequest, oneshot::Sender<Result<Appended, StoreError>>);

/// How the batching writer has grouped appends: transactions committed and appends in them.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub transactions: std::sync::atomic::AtomicU64,
    pub appends: std::sync::atomic::AtomicU64,
}

/// The key the registry signs with, and the names it signs under.
#[derive(Clone)]
pub struct Signing {
    pub key_id: String,
    pub key: ed25519_dalek::SigningKey,
    /// The base URL credentials name (ids, status list, achievements).
    pub public_url: String,
    /// The issuer's did:web.
    pub did: String,
    /// Where the keys live, to load the next active key after a rotation by another process.
    pub keys_dir: Option<std::path::PathBuf>,
}

impl fmt::Debug for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        f.debug_struct("Signing")
            .field("key_id", &self.key_id)
            .field("did", &self.did)
            .finish_non_exhaustive()
    }
}

/// The signed status list as last built: (log size, key id, JSON bytes).
type SignedStatusList = (u64, String, Arc<Vec<u8>>);

/// The registry service.
pub struct Registry {
    store: Store,
    writer: mpsc::Sender<Job>,
    cache: RwLock<Cache>,
    catch_up_lock: tokio::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
    rng: Mutex<Box<dyn RngCore + Send>>,
    stats: Arc<WriterStats>,
    signing: RwLock<Option<Signing>>,
    status_list_cache: Mutex<Option<SignedStatusList>>,
    /// The latest signed checkpoint known, served from memory so that an auditor gets it while
    /// the database is away.
    latest_checkpoint: RwLock<Option<crate::store::Checkpoint>>,
    /// The register's award rows in the register's order, as of a log size: built from the
    /// state when the log has moved, so that a search needs no database.
    register: Mutex<Option<(u64, Arc<Vec<AwardRow>>)>>,
    /// What the database's last answer said: `Some` while it is unavailable (for logs that
    /// say so once, not every second, and for the readiness check).
    outage: Mutex<Option<crate::store::Outage>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("store", &self.store.kind())
            .finish_non_exhaustive()
    }
}

/// The most appends the writer puts in one transaction.
const MAX_BATCH: usize = 256;

impl Registry {
    /// Starts the service on `store`: replays the log into memory and starts the batching writer.
    /// A registry whose log is empty first records the programme's calendar.
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        rng: Box<dyn RngCore + Send>,
        calendar: &Calendar,
    ) -> Result<Arc<Registry>, ServiceError> {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let stats = Arc::new(WriterStats::default());
        tokio::spawn(writer_loop(store.clone(), rx, stats.clone()));
        let registry = Arc::new(Registry {
            store,
            writer: tx,
            cache: RwLock::new(Cache {
                state: State::default(),
                versions: HashMap::new(),
                tree: crate::transparency::merkle::Tree::new(),
            }),
            catch_up_lock: tokio::sync::Mutex::new(()),
            clock,
            rng: Mutex::new(rng),
            stats,
            signing: RwLock::new(None),
            status_list_cache: Mutex::new(None),
            latest_checkpoint: RwLock::new(None),
            register: Mutex::new(None),
            outage: Mutex::new(None),
        });
        registry.catch_up().await?;
        *registry.latest_checkpoint.write().expect("never poisoned") =
            registry.store.checkpoints().await?.pop();
        if registry.size() == 0 {
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

    /// Applies to the in-memory state every event appended since it last looked.
    pub async fn catch_up(&self) -> Result<(), ServiceError> {
        let _one_at_a_time = self.catch_up_lock.lock().await;
        loop {
            let from = self.size();
            let page = self.store.read(from, 2_000).await?;
            if page.is_empty() {
                return Ok(());
            }
            let decoded = page
                .iter()
                .map(|e| e.envelope().map(|env| (e, env.event)))
                .collect::<Result<Vec<_>, _>>()?;
            let mut cache = self
                .cache
                .write()
                .expect("the cache lock is never poisoned");
            for (stored, event) in decoded {
                let leaf: crate::transparency::merkle::Hash =
                    stored.leaf_hash.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt(format!(
                            "the leaf hash at {} is not 32 bytes",
                            stored.position
                        ))
                    })?;
                cache.tree.push(leaf);
                cache.state.apply(stored.position, &event);
                cache
                    .versions
                    .insert(stored.stream_id.clone(), stored.stream_version);
            }
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

    pub fn new_organisation_id(&self) -> crate::domain::OrganisationId {
        crate::domain::OrganisationId(self.random_uuid())
    }

    /// Decides one command and appends its events.
    pub async fn execute(
        &self,
        actor: &Actor,
        command: Command,
        idempotency: Option<Idempotency>,
    ) -> Result<Outcome, ServiceError> {
        self.execute_all(actor, vec![command], idempotency).await
    }

    /// Decides the commands in order, each seeing the ones before, and appends all their events
    /// at once, or nothing if any is refused.
    pub async fn execute_all(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
    ) -> Result<Outcome, ServiceError> {
        self.execute_each(actor, commands, idempotency, |_| {})
            .await
            .map_err(|(_, e)| e)
    }

    /// Like `execute_all`, reporting progress and which command (by index) was refused.
    pub async fn execute_each(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
        mut progress: impl FnMut(usize),
    ) -> Result<Outcome, (usize, ServiceError)> {
        if let Some(idem) = &idempotency
            && let Some(outcome) = self.replay(&actor.id, idem).await.map_err(|e| (0, e))?
        {
            return Ok(outcome);
        }
        self.catch_up().await.map_err(|e| (0, e))?;
        self.refresh_signing();
        let request = {
            let cache = self.cache.read().expect("the cache lock is never poisoned");
            let ctx = Context {
                today: self.today(),
            };
            let mut streams: Vec<String> = Vec::new();
            let mut events: Vec<Event> = Vec::new();
            let now = self.now();
            let mut post = if commands.len() == 1 {
                let command = commands.into_iter().next().expect("one command");
                streams.extend(streams_read(&command, &cache.state));
                events = decide(&cache.state, command, &ctx).map_err(|e| (0, e.into()))?;
                // Recording the address may re-sign any award's credential: the whole state.
                let moves = events
                    .iter()
                    .any(|e| matches!(e, Event::RegistryAddressRecorded { .. }));
                let mut scratch = if moves {
                    cache.state.clone()
                } else {
                    scratch_for(&cache.state, &events)
                };
                for e in &events {
                    scratch.apply(scratch.size, e);
                }
                progress(1);
                scratch
            } else {
                let mut state = cache.state.clone();
                for (index, command) in commands.into_iter().enumerate() {
                    for s in streams_read(&command, &state) {
                        if !streams.contains(&s) {
                            streams.push(s);
                        }
                    }
                    let decided = decide(&state, command, &ctx).map_err(|e| (index, e.into()))?;
                    for e in &decided {
                        state.apply(state.size, e);
                    }
                    events.extend(decided);
                    progress(index + 1);
                }
                state
            };
            let called_for = Self::credentials_called_for(&events, &post);
            let credentials = self.sign_credentials(&cache.state, &mut post, called_for, now);
            events.extend(credentials);
            let writes = writes_for(&post, &events);
            for e in &events {
                let s = e.stream();
                if !streams.contains(&s) {
                    streams.push(s);
                }
            }
            let expected = streams
                .into_iter()
                .map(|s| {
                    let v = cache.versions.get(&s).copied();
                    (s, v)
                })
                .collect();
            let recorded_at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
            AppendRequest {
                events: events
                    .into_iter()
                    .map(|e| {
                        NewEvent::new(e, self.random_uuid(), recorded_at.clone(), actor.id.clone())
                    })
                    .collect(),
                expected,
                idempotency: idempotency.map(|i| IdempotencyRecord {
                    scope: actor.id.clone(),
                    key: i.key,
                    request_hash: i.request_hash,
                }),
                writes,
            }
        };
        let appended = self.append(request).await.map_err(|e| (0, e))?;
        self.catch_up().await.map_err(|e| (0, e))?;
        decode(appended)
    }

    async fn replay(
        &self,
        scope: &str,
        idem: &Idempotency,
    ) -> Result<Option<Outcome>, ServiceError> {
        match self.store.idempotent(scope, &idem.key).await? {
            None => Ok(None),
            Some((hash, _)) if hash != idem.request_hash => Err(ServiceError::IdempotencyKeyReused),
            Some((_, events)) => decode(Appended {
                events,
                replayed: true,
            })
            .map(Some)
            .map_err(|(_, e)| e),
        }
    }

    /// Hands an append to the batching writer and waits for it to commit.
    pub async fn append(&self, request: AppendRequest) -> Result<Appended, ServiceError> {
        let (tx, rx) = oneshot::channel();
        self.writer.send((request, tx)).await.map_err(|_| {
            ServiceError::Store(StoreError::Corrupt("the writer has stopped".into()))
        })?;
        let result = rx.await.map_err(|_| {
            ServiceError::Store(StoreError::Corrupt("the writer has stopped".into()))
        })?;
        Ok(result?)
    }

    /// Appends events that need no decision (the registry's own bookkeeping: tokens).
    async fn append_plain(
        &self,
        actor: &Actor,
        events: Vec<Event>,
        writes: Vec<Write>,
    ) -> Result<Outcome, ServiceError> {
        let recorded_at = self.now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let request = AppendRequest {
            events: events
                .into_iter()
                .map(|e| {
                    NewEvent::new(e, self.random_uuid(), recorded_at.clone(), actor.id.clone())
                })
                .collect(),
            expected: Vec::new(),
            idempotency: None,
            writes,
        };
        let appended = self.append(request).await?;
        self.catch_up().await?;
        decode(appended).map_err(|(_, e)| e)
    }

    // ----- queries -----

    pub fn award(&self, number: &CertificateNumber) -> Option<(Award, Programme)> {
        self.read_cache(|c| {
            c.state
                .awards
                .get(number)
                .map(|a| (a.clone(), c.state.programme.clone()))
        })
    }

    /// The verdict on an award as of a date (today when absent).
    pub fn verification(
        &self,
        number: &CertificateNumber,
        at: Option<NaiveDate>,
    ) -> Option<(Award, Verdict)> {
        let date = at.unwrap_or_else(|| self.today());
        self.read_cache(|c| {
            c.state.awards.get(number).map(|a| {
                let verdict = status_as_of(a, &c.state.programme, date);
                (a.clone(), verdict)
            })
        })
    }

    pub fn programme(&self) -> Programme {
        self.read_cache(|c| c.state.programme.clone())
    }

    pub fn with_state<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.read_cache(|c| f(&c.state))
    }

    /// A page of the register with each award's status today, from memory: the register stays
    /// searchable while the database is away. The same matches, order and pages as the
    /// projection tables give (`EventStore::search`; a test holds the two together).
    pub fn search(&self, query: RegisterQuery) -> (Vec<(AwardRow, Status)>, u64) {
        let rows = self.register_rows();
        let matching: Vec<&AwardRow> = rows.iter().filter(|r| query.matches(r)).collect();
        let total = matching.len() as u64;
        let today = self.today();
        let page = self.read_cache(|c| {
            matching
                .into_iter()
                .skip(query.offset as usize)
                .take(query.limit as usize)
                .filter_map(|row| {
                    let number: CertificateNumber = row.certificate_number.parse().ok()?;
                    let award = c.state.awards.get(&number)?;
                    let status = status_as_of(award, &c.state.programme, today).status;
                    Some((row.clone(), status))
                })
                .collect()
        });
        (page, total)
    }

    /// Every award's projection row in the register's order, rebuilt when the log has moved.
    fn register_rows(&self) -> Arc<Vec<AwardRow>> {
        let mut kept = self
            .register
            .lock()
            .expect("the register's lock is never poisoned");
        let size = self.size();
        if let Some((at, rows)) = kept.as_ref()
            && *at == size
        {
            return rows.clone();
        }
        let (at, rows) = self.read_cache(|c| {
            let mut rows: Vec<AwardRow> = c
                .state
                .awards
                .values()
                .map(crate::projection::award_row)
                .collect();
            rows.sort_by(crate::store::register_order);
            (c.state.size, Arc::new(rows))
        });
        *kept = Some((at, rows.clone()));
        rows
    }

    pub async fn events(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, ServiceError> {
        use crate::limits::MAX_POSITION;
        if from > MAX_POSITION {
            return Err(ServiceError::Invalid {
                code: "position_out_of_range",
                message: format!("a log position is 0 to {MAX_POSITION}; {from} is not"),
            });
        }
        Ok(self.store.read(from, limit).await?)
    }

    // ----- background duties -----

    /// Records, as events, the expiries that have passed but are not yet in the log. Statuses do
    /// not depend on this having run.
    pub async fn expire_due(&self) -> Result<usize, ServiceError> {
        self.catch_up().await?;
        let today = self.today();
        let due: Vec<CertificateNumber> = self.read_cache(|c| {
            c.state
                .awards
                .values()
                .filter(|a| {
                    !a.expiry_recorded
                        && matches!(
                            a.standing,
                            crate::domain::Standing::Active | crate::domain::Standing::Suspended
                        )
                        && a.expires_on() <= today
                })
                .map(|a| a.certificate_number.clone())
                .collect()
        });
        if due.is_empty() {
            return Ok(0);
        }
        let count = due.len();
        let commands = due
            .into_iter()
            .map(|certificate_number| Command::RecordExpiry { certificate_number })
            .collect();
        self.execute_all(&Actor::system(), commands, None).await?;
        Ok(count)
    }

    /// Rebuilds the projection tables from a replay of the whole log.
    pub async fn rebuild(store: &Store, progress: impl FnMut(u64)) -> Result<u64, ServiceError> {
        let state = replay(store, progress).await?;
        let (orgs, awards) = all_rows(&state);
        store.replace_projections(orgs, awards).await?;
        Ok(state.size)
    }

    // ----- tokens -----

    /// Creates an API token; returns its id and the token itself, which is shown once and stored
    /// only as a hash.
    pub async fn create_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
    ) -> Result<(String, String), ServiceError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ServiceError::Invalid {
                code: "token_name_invalid",
                message: "a token's name is 1 to 100 characters saying whose it is".into(),
            });
        }
        let (token_id, secret) = {
            let mut rng = self
                .rng
                .lock()
                .expect("the random source's lock is never poisoned");
            let id: [u8; 6] = rng.r#gen();
            let secret: [u8; 32] = rng.r#gen();
            (hex::encode(id), hex::encode(secret))
        };
        let row = TokenRow {
            token_id: token_id.clone(),
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            secret_hash: hash_secret(&secret),
            created_at: self.now().to_rfc3339_opts(SecondsFormat::Secs, true),
            revoked_at: None,
        };
        self.append_plain(
            actor,
            vec![Event::ApiTokenCreated {
                token_id: token_id.clone(),
                role: role.as_str().to_owned(),
            }],
            vec![Write::TokenCreated(row)],
        )
        .await?;
        let token = format!("wexqs_{token_id}_{secret}");
        Ok((token_id, token))
    }

    pub async fn revoke_token(&self, actor: &Actor, token_id: &str) -> Result<(), ServiceError> {
        match self.store.token(token_id).await? {
            Some(t) if t.revoked_at.is_none() => {}
            _ => {
                return Err(ServiceError::Invalid {
                    code: "token_not_found",
                    message: format!("no active token has the id {token_id:?}"),
                });
            }
        }
        self.append_plain(
            actor,
            vec![Event::ApiTokenRevoked {
                token_id: token_id.to_owned(),
            }],
            vec![Write::TokenRevoked {
                token_id: token_id.to_owned(),
                at: self.now().to_rfc3339_opts(SecondsFormat::Secs, true),
            }],
        )
        .await?;
        Ok(())
    }

    /// The actor a bearer token stands for.
    pub async fn authenticate(&self, token: &str) -> Result<Actor, ServiceError> {
        let rest = token
            .strip_prefix("wexqs_")
            .ok_or(ServiceError::Unauthenticated)?;
        let (id, secret) = rest.split_once('_').ok_or(ServiceError::Unauthenticated)?;
        let row = self
            .store
            .token(id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let matches: bool = subtle::ConstantTimeEq::ct_eq(
            hash_secret(secret).as_bytes(),
            row.secret_hash.as_bytes(),
        )
        .into();
        if !matches || row.revoked_at.is_some() {
            return Err(ServiceError::Unauthenticated);
        }
        let role = Role::parse(&row.role).ok_or(ServiceError::Unauthenticated)?;
        Ok(Actor {
            id: format!("token:{id}"),
            role,
        })
    }
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A hash of a request's identifying parts, for Idempotency-Key reuse detection.
pub fn request_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn decode(appended: Appended) -> Result<Outcome, (usize, ServiceError)> {
    let events = appended
        .events
        .into_iter()
        .map(|s| {
            let env = s.envelope().map_err(|e| (0, e.into()))?;
            Ok((s, env.event))
        })
        .collect::<Result<Vec<_>, (usize, ServiceError)>>()?;
    Ok(Outcome {
        events,
        replayed: appended.replayed,
    })
}

/// Folds the whole log into a state.
pub async fn replay(store: &Store, mut progress: impl FnMut(u64)) -> Result<State, ServiceError> {
    let mut state = State::default();
    crate::store::scan(store, 0, |e| {
        let env = e.envelope()?;
        state.apply(e.position, &env.event);
        progress(e.position);
        Ok(())
    })
    .await?;
    Ok(state)
}

/// The batching writer: takes whatever appends are waiting and commits them in one transaction.
async fn writer_loop(store: Store, mut rx: mpsc::Receiver<Job>, stats: Arc<WriterStats>) {
    use std::sync::atomic::Ordering::Relaxed;
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (requests, replies): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
        match store.append_batch(requests.clone()).await {
            Ok(results) => {
                stats.transactions.fetch_add(1, Relaxed);
                stats.appends.fetch_add(results.len() as u64, Relaxed);
                for (result, reply) in results.into_iter().zip(replies) {
                    let _ = reply.send(result);
                }
            }
            Err(e) if requests.len() == 1 => {
                let _ = replies.into_iter().next().map(|reply| reply.send(Err(e)));
            }
            Err(StoreError::Unavailable { outage, cause }) => {
                // The database is away, not one append bad: retrying each would keep the last
                // waiting once per append before it. All are refused at once.
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Unavailable {
                        outage,
                        cause: cause.clone(),
                    }));
                }
            }
            Err(e) => {
                // One bad append must not sink the others: retry each on its own.
                tracing::warn!(error = %e, "a batch of {} appends failed; retrying one by one", requests.len());
                for (request, reply) in requests.into_iter().zip(replies) {
                    let result = match store.append_batch(vec![request]).await {
                        Ok(mut r) => r.pop().unwrap_or_else(|| {
                            Err(StoreError::Corrupt("an append returned no result".into()))
                        }),
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(result);
                }
            }
        }
    }
}

impl Registry {
    /// Records what the database's latest answer said about its availability, and logs when an
    /// outage begins and ends (once each, not at every look).
    pub fn note_database(&self, error: Option<&StoreError>) {
        let now = error.and_then(StoreError::outage);
        let mut outage = self
            .outage
            .lock()
            .expect("the outage lock is never poisoned");
        match (*outage, now, error) {
            (None, Some(o), Some(e)) => tracing::warn!(
                reason = o.as_str(),
                error = %e,
                "the database is unavailable: answering reads from memory and refusing writes \
                 with 503 until it is back"
            ),
            (Some(_), None, None) => tracing::info!("the database is back"),
            _ => {}
        }
        // Another kind of error says nothing about availability either way.
        if error.is_none() || now.is_some() {
            *outage = now;
        }
    }

    /// The outage the database is in, as last seen (`None`: it answered).
    pub fn outage(&self) -> Option<crate::store::Outage> {
        *self
            .outage
            .lock()
            .expect("the outage lock is never poisoned")
    }
}

/// Runs the registry's background duties until the process stops: follow the log (appends by
/// other instances) and record passed expiries.
pub fn spawn_background(registry: Arc<Registry>, poll: Duration, expiry_every: Duration) {
    let tail = registry.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        loop {
            tick.tick().await;
            let head = tail.store.head().await;
            tail.note_database(head.as_ref().err());
            match head {
                Ok(head) if head.size > tail.size() => {
                    if let Err(e) = tail.catch_up().await {
                        tracing::warn!(error = %e, "could not follow the log");
                    }
                    tail.refresh_signing();
                }
                Ok(_) => {}
                // Said once, when it began.
                Err(e) if e.outage().is_some() => continue,
                Err(e) => tracing::warn!(error = %e, "could not read the log head"),
            }
            if let Err(e) = tail.checkpoint().await {
                tracing::error!(error = %e, "could not sign a checkpoint");
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(expiry_every);
        loop {
            tick.tick().await;
            match registry.expire_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("recorded {n} passed expiries"),
                Err(e) => tracing::warn!(error = %e, "could not record passed expiries"),
            }
        }
    });
}

/// A random source seeded from the operating system.
pub fn os_rng() -> Box<dyn RngCore + Send> {
    Box::new(rand::rngs::StdRng::from_entropy())
}

/// A random source with a fixed seed, for the demo register and tests.
pub fn seeded_rng(seed: u64) -> Box<dyn RngCore + Send> {
    Box::new(rand::rngs::StdRng::seed_from_u64(seed))
}

impl Registry {
    /// Decides the commands in order against a copy of the state without appending anything, and
    /// returns every refusal with its command's index (a refused command is skipped).
    pub fn dry_run(
        &self,
        commands: &[Command],
        progress: &mut dyn FnMut(usize),
    ) -> Vec<(usize, DomainError)> {
        let ctx = Context {
            today: self.today(),
        };
        let mut state = self.read_cache(|c| c.state.clone());
        let mut refused = Vec::new();
        for (index, command) in commands.iter().enumerate() {
            match decide(&state, command.clone(), &ctx) {
                Ok(events) => {
                    for e in &events {
                        state.apply(state.size, e);
                    }
                }
                Err(e) => refused.push((index, e)),
            }
            progress(index + 1);
        }
        refused
    }
}

impl Registry {
    /// Signs new credentials with `signing` from now on.
    pub fn set_signing(&self, signing: Signing) {
        *self
            .signing
            .write()
            .expect("the signing lock is never poisoned") = Some(signing);
    }

    /// Follows a key rotation recorded by another process: when the log's active key is not the
    /// one in use, loads it from the keys folder. Returns whether the key changed.
    pub fn refresh_signing(&self) -> bool {
        let Some(current) = self.signing() else {
            return false;
        };
        let active = self.read_cache(|c| c.state.active_key().map(|k| k.key_id.clone()));
        let Some(active) = active.filter(|id| *id != current.key_id) else {
            return false;
        };
        let Some(dir) = current.keys_dir.as_deref() else {
            return false;
        };
        match crate::credentials::keys::load(&crate::credentials::keys::path_of(dir, &active)) {
            Ok(key) => {
                tracing::info!(key_id = %active, "signing with the newly active key");
                self.set_signing(Signing {
                    key_id: active,
                    key,
                    ..current
                });
                true
            }
            Err(e) => {
                tracing::warn!(key_id = %active, error = %e, "cannot load the newly active key");
                false
            }
        }
    }

    /// The key in use, signing for the address the log records (which every process follows,
    /// so that a change made by another process is signed for at once).
    pub fn signing(&self) -> Option<Signing> {
        let recorded = self.read_cache(|c| c.state.public_url.clone());
        self.signing_for(recorded.as_ref())
    }

    /// The key in use, signing for `recorded` when the log records an address.
    fn signing_for(&self, recorded: Option<&crate::domain::PublicUrl>) -> Option<Signing> {
        let mut signing = self
            .signing
            .read()
            .expect("the signing lock is never poisoned")
            .clone()?;
        if let Some(url) = recorded
            && url.as_str() != signing.public_url
        {
            signing.public_url = url.to_string();
            signing.did = crate::credentials::credential::did_web(url.as_str());
        }
        Some(signing)
    }

    /// The awards whose credentials `events` make: an award issued or amended, and, when the
    /// registry's address is recorded, every award whose credential names another address
    /// (re-signed for the recorded one: after a move, or on a log from before addresses were
    /// recorded, whose commands signed for a default; the copies issued before keep theirs).
    fn credentials_called_for(events: &[Event], post: &State) -> Vec<CertificateNumber> {
        let recorded = events.iter().rev().find_map(|e| match e {
            Event::RegistryAddressRecorded { public_url, .. } => Some(public_url.as_str()),
            _ => None,
        });
        let mut numbers: Vec<CertificateNumber> = events
            .iter()
            .filter_map(|e| match e {
                Event::AwardIssued {
                    certificate_number, ..
                }
                | Event::AwardAmended {
                    certificate_number, ..
                } => Some(certificate_number.clone()),
                _ => None,
            })
            .collect();
        if let Some(url) = recorded {
            numbers.extend(
                post.awards
                    .values()
                    .filter(|a| {
                        a.credentials.last().is_some_and(|c| {
                            c.credential
                                .get("issuer")
                                .and_then(|i| i.get("url"))
                                .and_then(serde_json::Value::as_str)
                                != Some(url)
                        })
                    })
                    .map(|a| a.certificate_number.clone()),
            );
            let mut seen = std::collections::HashSet::new();
            numbers.retain(|n| seen.insert(n.clone()));
        }
        numbers
    }

    /// Newly signed credentials for the awards `numbers`, as they stand in `post` (the state
    /// after the events that call for them), applied to `post`. None without a signing key.
    fn sign_credentials(
        &self,
        before: &State,
        post: &mut State,
        numbers: Vec<CertificateNumber>,
        now: DateTime<Utc>,
    ) -> Vec<Event> {
        // The address as of these events: a change in the same append is signed for already.
        let Some(signing) = self.signing_for(post.public_url.as_ref()) else {
            return Vec::new();
        };
        if numbers.is_empty() {
            return Vec::new();
        }
        let mut used: std::collections::HashSet<String> = before
            .awards
            .values()
            .filter_map(|a| a.status_list_index.clone())
            .collect();
        let created = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut out = Vec::new();
        for number in numbers {
            let Some(award) = post.awards.get(&number) else {
                continue;
            };
            let index = award.status_list_index.clone().unwrap_or_else(|| {
                loop {
                    let candidate = self
                        .rng
                        .lock()
                        .expect("the random source's lock is never poisoned")
                        .gen_range(0..crate::credentials::credential::STATUS_LIST_SIZE)
                        .to_string();
                    if used.insert(candidate.clone()) {
                        break candidate;
                    }
                }
            });
            let unsigned = crate::credentials::credential::open_badge(
                award,
                award.credentials.len() as u64 + 1,
                &index,
                &signing.did,
                &signing.public_url,
            );
            let credential = crate::credentials::credential::sign(
                &unsigned,
                &signing.key,
                &format!("{}#{}", signing.did, signing.key_id),
                &created,
            );
            let event = Event::CredentialIssued {
                certificate_number: number,
                organisation_id: award.organisation_id,
                key_id: signing.key_id.clone(),
                status_list_index: index,
                credential,
            };
            post.apply(post.size, &event);
            out.push(event);
        }
        out
    }

    /// Issues a credential for every award that has none (after a signing key is first set up).
    pub async fn issue_missing_credentials(&self) -> Result<usize, ServiceError> {
        if self.signing().is_none() {
            return Ok(0);
        }
        self.catch_up().await?;
        let now = self.now();
        let request = {
            let cache = self.cache.read().expect("the cache lock is never poisoned");
            let missing: Vec<CertificateNumber> = cache
                .state
                .awards
                .values()
                .filter(|a| a.credentials.is_empty())
                .map(|a| a.certificate_number.clone())
                .collect();
            if missing.is_empty() {
                return Ok(0);
            }
            let mut post = cache.state.clone();
            let events = self.sign_credentials(&cache.state, &mut post, missing, now);
            let streams: Vec<String> = events.iter().map(Event::stream).collect();
            let expected = streams
                .into_iter()
                .map(|s| {
                    let v = cache.versions.get(&s).copied();
                    (s, v)
                })
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect();
            let recorded_at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
            AppendRequest {
                events: events
                    .into_iter()
                    .map(|e| {
                        NewEvent::new(e, self.random_uuid(), recorded_at.clone(), "system".into())
                    })
                    .collect(),
                expected,
                idempotency: None,
                writes: Vec::new(),
            }
        };
        let count = request.events.len();
        self.append(request).await?;
        self.catch_up().await?;
        Ok(count)
    }

    /// When a key was revoked as compromised, if it was.
    pub fn key_revoked_since(&self, key_id: &str) -> Option<DateTime<Utc>> {
        self.read_cache(|c| {
            c.state
                .keys
                .iter()
                .find(|k| k.key_id == key_id)
                .and_then(|k| k.revoked_since.as_deref())
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        })
    }

    /// A number that changes whenever the keys do (for the did.json ETag).
    pub fn keys_version(&self) -> String {
        self.read_cache(|c| {
            let revoked = c
                .state
                .keys
                .iter()
                .filter(|k| k.revoked_since.is_some())
                .count();
            format!("{}-{revoked}", c.state.keys.len())
        })
    }

    /// The did:web document of the registry's keys.
    pub fn did_document(&self) -> Option<serde_json::Value> {
        let signing = self.signing()?;
        let keys = self.read_cache(|c| {
            c.state
                .keys
                .iter()
                .map(|k| crate::credentials::credential::PublishedKey {
                    key_id: k.key_id.clone(),
                    public_key_multibase: k.public_key_multibase.clone(),
                    trusted: k.revoked_since.is_none(),
                })
                .collect::<Vec<_>>()
        });
        Some(crate::credentials::credential::did_document(
            &signing.did,
            &keys,
        ))
    }

    /// The signed revocation status list, as JSON bytes (cached until the log or the key moves).
    pub fn status_list(&self) -> Option<Arc<Vec<u8>>> {
        let signing = self.signing()?;
        let size = self.size();
        let mut cache = self
            .status_list_cache
            .lock()
            .expect("the status list cache lock is never poisoned");
        if let Some((s, k, bytes)) = cache.as_ref()
            && *s == size
            && *k == signing.key_id
        {
            return Some(bytes.clone());
        }
        // The list is valid from the day of its latest change: the latest revocation, or, with
        // none, the first award it could cover.
        let (revoked, since) = self.read_cache(|c| {
            let revoked_awards = c
                .state
                .awards
                .values()
                .filter(|a| a.standing == crate::domain::Standing::Revoked);
            let revoked: Vec<usize> = revoked_awards
                .clone()
                .filter_map(|a| a.status_list_index.as_ref()?.parse().ok())
                .collect();
            let latest_revocation = revoked_awards
                .flat_map(|a| &a.history)
                .filter_map(|h| match h.change {
                    crate::domain::state::AwardChange::Revoked { on, .. } => Some(on),
                    _ => None,
                })
                .max();
            let first_award = c.state.awards.values().map(|a| a.awarded_on).min();
            (revoked, latest_revocation.or(first_award))
        });
        let valid_from = crate::credentials::credential::uk_midnight(
            since.unwrap_or_else(|| NaiveDate::from_ymd_opt(2025, 1, 1).expect("a valid date")),
        );
        let issuer = crate::domain::types::issuer_name_on(self.today());
        let unsigned = crate::credentials::credential::status_list(
            &revoked,
            &signing.did,
            issuer,
            &signing.public_url,
            &valid_from,
        );
        let signed = crate::credentials::credential::sign(
            &unsigned,
            &signing.key,
            &format!("{}#{}", signing.did, signing.key_id),
            &valid_from,
        );
        let bytes = Arc::new(serde_json::to_vec(&signed).expect("JSON serialises"));
        *cache = Some((size, signing.key_id.clone(), bytes.clone()));
        Some(bytes)
    }
}

impl Registry {
    /// Awards in the register one slip away from `input`: one character changed, or two
    /// neighbours swapped. For a number whose check character does not match.
    pub fn near_misses(&self, input: &str) -> Vec<(String, String)> {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let compact: Vec<u8> = input
            .bytes()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(|b| b.to_ascii_uppercase())
            .collect();
        if compact.len() != 16 {
            return Vec::new();
        }
        let mut candidates: Vec<Vec<u8>> = Vec::new();
        for i in 0..compact.len() {
            for c in ALPHABET {
                if *c != compact[i] {
                    let mut v = compact.clone();
                    v[i] = *c;
                    candidates.push(v);
                }
            }
            if i + 1 < compact.len() {
                let mut v = compact.clone();
                v.swap(i, i + 1);
                candidates.push(v);
            }
        }
        self.read_cache(|c| {
            let mut found: Vec<(String, String)> = candidates
                .iter()
                .filter_map(|v| {
                    std::str::from_utf8(v)
                        .ok()?
                        .parse::<CertificateNumber>()
                        .ok()
                })
                .filter_map(|n| {
                    c.state
                        .awards
                        .get(&n)
                        .map(|a| (n.to_string(), a.organisation_name.to_string()))
                })
                .collect();
            found.sort();
            found.dedup();
            found
        })
    }
}

impl Registry {
    /// Awards whose organisation's name matches `query` allowing a slip in each word (one
    /// wrong letter in a short word, two in a long one): for a search with no exact match.
    pub fn fuzzy_matches(&self, query: &str, limit: usize) -> Vec<(String, String)> {
        let wanted: Vec<String> = crate::domain::types::search_key(query)
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let close = |a: &str, b: &str| {
            let allowed = if a.chars().count() <= 5 { 1 } else { 2 };
            a == b || strsim::osa_distance(a, b) <= allowed || (a.len() >= 4 && b.starts_with(a))
        };
        self.read_cache(|c| {
            let mut found: Vec<(String, String)> = c
                .state
                .awards
                .values()
                .filter(|a| {
                    let key = crate::domain::types::search_key(a.organisation_name.as_str());
                    let words: Vec<&str> = key.split(' ').collect();
                    wanted.iter().all(|w| words.iter().any(|n| close(w, n)))
                })
                .map(|a| {
                    (
                        a.certificate_number.to_string(),
                        a.organisation_name.to_string(),
                    )
                })
                .collect();
            found.sort_by(|x, y| x.1.cmp(&y.1).then(x.0.cmp(&y.0)));
            found.truncate(limit);
            found
        })
    }
}

impl Registry {
    /// The log's origin, its note verifier key, and the key that signs its checkpoints.
    fn log_signer(&self) -> Option<(String, String, ed25519_dalek::SigningKey)> {
        let signing = self.signing()?;
        let origin = crate::transparency::note::origin_for(&signing.public_url);
        let verifier =
            crate::transparency::note::verifier_key(&origin, &signing.key.verifying_key());
        Some((origin, verifier, signing.key))
    }

    /// The latest signed checkpoint this instance knows: (size, root).
    pub fn latest_checkpoint(&self) -> Option<(u64, crate::transparency::merkle::Hash)> {
        let latest = self.latest_checkpoint.read().expect("never poisoned");
        let latest = latest.as_ref()?;
        Some((latest.size, latest.root.as_slice().try_into().ok()?))
    }

    /// The latest signed checkpoint this instance knows, as its signed note.
    pub fn latest_checkpoint_note(&self) -> Option<String> {
        let latest = self.latest_checkpoint.read().expect("never poisoned");
        latest.as_ref().map(|c| c.note.clone())
    }

    /// The note verifier key auditors check checkpoints with.
    pub fn log_verifier_key(&self) -> Option<String> {
        self.log_signer().map(|(_, v, _)| v)
    }

    /// The root of the tree at `size`, if the log is that long.
    pub fn tree_root(&self, size: u64) -> Option<crate::transparency::merkle::Hash> {
        self.read_cache(|c| c.tree.root(size))
    }

    /// The leaf hash at `index`, from memory.
    pub fn leaf_hash(&self, index: u64) -> Option<crate::transparency::merkle::Hash> {
        self.read_cache(|c| c.tree.level(0).get(usize::try_from(index).ok()?).copied())
    }

    pub fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Option<Vec<crate::transparency::merkle::Hash>> {
        self.read_cache(|c| c.tree.inclusion_proof(index, size))
    }

    pub fn consistency_proof(
        &self,
        first: u64,
        size: u64,
    ) -> Option<Vec<crate::transparency::merkle::Hash>> {
        self.read_cache(|c| c.tree.consistency_proof(first, size))
    }

    /// Signs a checkpoint of the tree as it now is, if it grew since the last one; the new one
    /// is signed only after it is checked consistent with the last. Returns the new size.
    pub async fn checkpoint(&self) -> Result<Option<u64>, ServiceError> {
        let Some((origin, _, key)) = self.log_signer() else {
            return Ok(None);
        };
        self.catch_up().await?;
        let last = self.store.checkpoints().await?.pop();
        if let Some(l) = &last {
            // Another instance may have signed a later one.
            *self.latest_checkpoint.write().expect("never poisoned") = Some(l.clone());
        }
        let (size, root, proof) = self.read_cache(|c| {
            let size = c.tree.size();
            let proof = last
                .as_ref()
                .filter(|l| l.size > 0 && l.size <= size)
                .and_then(|l| c.tree.consistency_proof(l.size, size));
            (size, c.tree.root(size), proof)
        });
        let Some(root) = root else { return Ok(None) };
        if size == 0 || last.as_ref().is_some_and(|l| l.size >= size) {
            return Ok(None);
        }
        if let Some(last) = &last {
            let proof: Vec<Vec<u8>> = proof
                .unwrap_or_default()
                .iter()
                .map(|h| h.to_vec())
                .collect();
            crate::transparency::merkle::verify_consistency(last.size, size, &proof, &last.root, &root).map_err(|e| {
                ServiceError::Store(StoreError::Corrupt(format!(
                    "the tree at {size} is not consistent with the checkpoint at {}: {e}; refusing to sign",
                    last.size
                )))
            })?;
        }
        let note = crate::transparency::note::sign(
            &crate::transparency::note::checkpoint_body(&origin, size, &root),
            &origin,
            &key,
        );
        let signed = crate::store::Checkpoint {
            size,
            root: root.to_vec(),
            note,
            signed_at: self.now().to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        self.store.save_checkpoint(&signed).await?;
        *self.latest_checkpoint.write().expect("never poisoned") = Some(signed);
        Ok(Some(size))
    }
}
