//! Deciding and appending: commands are decided against the in-memory state (each seeing the
//! ones before), their credentials signed, and the append handed to the batching writer, which
//! commits whatever appends are waiting in one transaction. Also the dry run (decide, append
//! nothing) and the rebuild of the projection tables from the log, folded.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::{mpsc, oneshot};

use super::log::{Cache, apply_committed};
use super::{Actor, Idempotency, Outcome, Registry, ServiceError};
use crate::domain::events::KEYS_STREAM;
use crate::domain::{Command, Context, DomainError, Event, State, decide, streams_read};
use crate::projection::{all_rows, scratch_for, writes_for};
use crate::store::{
    AppendRequest, Appended, EventStore, IdempotencyRecord, NewEvent, Store, StoreError,
    StoredEvent, Write,
};

pub(super) type Job = (AppendRequest, oneshot::Sender<Result<Appended, StoreError>>);

/// How the batching writer has grouped appends: transactions committed and appends in them.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub(crate) transactions: std::sync::atomic::AtomicU64,
    pub(crate) appends: std::sync::atomic::AtomicU64,
}

/// The most appends the writer puts in one transaction.
const MAX_BATCH: usize = 256;

/// The most events of a batch the writer folds into memory itself. A larger one (an import's
/// hundreds of thousands) is read back by a catch-up, a page at a time, once its appender has
/// let go of what it does not need (`execute_stored`'s `keep`): folding it here, while every
/// payload is still held for the answer, would hold the import twice.
const APPLIED_BY_THE_WRITER: usize = 2_000;

impl Registry {
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
    pub(crate) async fn execute_each(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
        progress: impl FnMut(usize),
    ) -> Result<Outcome, (usize, ServiceError)> {
        let appended = self
            .execute_stored(actor, commands, idempotency, progress, |_| true)
            .await?;
        decode(appended)
    }

    /// Like `execute_each`, answering with the stored events as they are, not decoded: for a
    /// caller that needs only a summary of a large append (an import), decoding every event
    /// again (every credential parsed) would double what the append holds. Only the payloads
    /// of the events `keep` names are kept (the others are emptied before the registry catches
    /// up with the append, so a large append is not held twice while it is read back).
    pub(super) async fn execute_stored(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
        mut progress: impl FnMut(usize),
        keep: fn(&StoredEvent) -> bool,
    ) -> Result<Appended, (usize, ServiceError)> {
        if let Some(idem) = &idempotency
            && let Some(mut appended) = self.replay(&actor.id, idem).await.map_err(|e| (0, e))?
        {
            drop_payloads(&mut appended, keep);
            return Ok(appended);
        }
        let retry_key = idempotency.clone();
        match self
            .decide_and_append(actor, commands, idempotency, &mut progress, keep)
            .await
        {
            // A retry that raced its first attempt (made on another instance, committed after
            // this one looked for it and before it decided) is refused by the rules or the
            // stream versions: the first answer is still the answer.
            Err(refused) => match retry_key {
                Some(idem) => match self.replay(&actor.id, &idem).await {
                    Ok(Some(appended)) => Ok(appended),
                    _ => Err(refused),
                },
                None => Err(refused),
            },
            done => done,
        }
    }

    /// The append first recorded under `idem`, with the in-memory state caught up past it: the
    /// first attempt may have been made on another instance, and the answer reads what it
    /// wrote back from memory.
    async fn replay(
        &self,
        scope: &str,
        idem: &Idempotency,
    ) -> Result<Option<Appended>, ServiceError> {
        let Some(appended) = self.recorded_append(scope, idem).await? else {
            return Ok(None);
        };
        self.catch_up_past(appended.events.last().map(|e| e.position))
            .await?;
        Ok(Some(appended))
    }

    async fn decide_and_append(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
        progress: &mut impl FnMut(usize),
        keep: fn(&StoredEvent) -> bool,
    ) -> Result<Appended, (usize, ServiceError)> {
        self.catch_up().await.map_err(|e| (0, e))?;
        self.refresh_signing();
        let request = {
            let cache = self
                .log
                .cache
                .read()
                .expect("the cache lock is never poisoned");
            let ctx = Context {
                today: self.today(),
            };
            let now = self.now();
            let decided = decide_in_turn(&cache.state, commands, &ctx, progress)?;
            let mut draft = self
                .complete(&cache.state, decided, now)
                .map_err(|e| (0, e))?;
            draft.idempotency = idempotency;
            self.append_request(&actor.id, now, &cache.versions, draft)
        };
        let mut appended = self.append(request).await.map_err(|e| (0, e))?;
        drop_payloads(&mut appended, keep);
        let last = appended.events.last().map(|e| e.position);
        self.catch_up_past(last).await.map_err(|e| (0, e))?;
        Ok(appended)
    }

    /// What the decided events call for besides themselves: the credentials they make (signed
    /// and applied to the state after them), the projection rows, and every stream written.
    fn complete(
        &self,
        before: &State,
        decided: Decided,
        now: DateTime<Utc>,
    ) -> Result<AppendDraft, ServiceError> {
        let Decided {
            mut streams,
            mut events,
            mut post,
        } = decided;
        let called_for = Self::credentials_called_for(&events, &post);
        let credentials = self.sign_credentials(before, &mut post, called_for, now)?;
        let mut seen: HashSet<String> = streams.iter().cloned().collect();
        if !credentials.is_empty() {
            // Signed with the key the log's key stream names as of this reading: a rotation
            // appended meanwhile makes this append conflict rather than carry a retired key's
            // signature past the new key's activation.
            add_stream(&mut streams, &mut seen, KEYS_STREAM.to_owned());
        }
        events.extend(credentials);
        let writes = writes_for(&post, &events);
        for e in &events {
            add_stream(&mut streams, &mut seen, e.stream());
        }
        Ok(AppendDraft {
            events,
            streams,
            idempotency: None,
            writes,
        })
    }

    /// The one builder of the appends the service makes (a decided command, tokens, credentials
    /// for awards that had none): each event gets a fresh id and is recorded at `now` by
    /// `actor`; each stream is stated at the version `versions` holds for it; an idempotency
    /// key is scoped to the actor.
    pub(super) fn append_request(
        &self,
        actor: &str,
        now: DateTime<Utc>,
        versions: &super::log::StreamVersions,
        draft: AppendDraft,
    ) -> AppendRequest {
        let recorded_at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let AppendDraft {
            events,
            streams,
            idempotency,
            writes,
        } = draft;
        AppendRequest {
            events: events
                .into_iter()
                .map(|e| {
                    NewEvent::new(e, self.random_uuid(), recorded_at.clone(), actor.to_owned())
                })
                .collect(),
            expected: streams
                .into_iter()
                .map(|s| {
                    let v = versions.get(&s);
                    (s, v)
                })
                .collect(),
            idempotency: idempotency.map(|i| IdempotencyRecord {
                scope: actor.to_owned(),
                key: i.key,
                request_hash: i.request_hash,
            }),
            writes,
            // Set to what memory holds when the append is handed to the writer (`append`).
            log_at_least: 0,
        }
    }

    /// Hands an append to the batching writer and waits for it to commit.
    /// Nothing is appended while the registry is behind its published log, nor onto a log
    /// shorter than the one memory holds (`AppendRequest::log_at_least`); such a refusal puts
    /// the registry behind.
    pub(crate) async fn append(
        &self,
        mut request: AppendRequest,
    ) -> Result<Appended, ServiceError> {
        if let Some(reason) = self.behind() {
            return Err(ServiceError::Behind(reason));
        }
        request.log_at_least = request.log_at_least.max(self.size());
        let (tx, rx) = oneshot::channel();
        self.log.writer.send((request, tx)).await.map_err(|_| {
            ServiceError::Store(StoreError::Corrupt("the writer has stopped".into()))
        })?;
        let result = rx.await.map_err(|_| {
            ServiceError::Store(StoreError::Corrupt("the writer has stopped".into()))
        })?;
        if let Err(StoreError::LogBehind { size, expected }) = &result {
            self.fall_behind(format!(
                "the database's log has {size} entries but this registry had read {expected}: \
                 entries were lost (a restore, a rollback or a failover)"
            ));
        }
        Ok(result?)
    }

    /// Appends events that need no decision (the registry's own bookkeeping: tokens), stating
    /// no stream's version.
    pub(super) async fn append_plain(
        &self,
        actor: &Actor,
        events: Vec<Event>,
        writes: Vec<Write>,
    ) -> Result<Outcome, ServiceError> {
        let draft = AppendDraft {
            events,
            streams: Vec::new(),
            idempotency: None,
            writes,
        };
        let request = self.append_request(&actor.id, self.now(), &Default::default(), draft);
        let appended = self.append(request).await?;
        self.catch_up().await?;
        decode(appended).map_err(|(_, e)| e)
    }

    /// Rebuilds the projection tables from the whole log, folded.
    pub(crate) async fn rebuild(
        store: &Store,
        progress: impl FnMut(u64),
    ) -> Result<u64, ServiceError> {
        let state = fold_log(store, progress).await?;
        let (orgs, awards) = all_rows(&state);
        store.replace_projections(orgs, awards).await?;
        Ok(state.size)
    }
    /// Decides the commands in order against a copy of the state without appending anything, and
    /// returns every refusal with its command's index (a refused command is skipped).
    pub(crate) fn dry_run(
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

/// Empties the payload of every event of `appended` that `keep` does not name.
fn drop_payloads(appended: &mut Appended, keep: fn(&StoredEvent) -> bool) {
    for e in &mut appended.events {
        if !keep(e) {
            e.payload = Vec::new();
        }
    }
}

/// An append before its events are stamped: what the caller knows of it.
pub(super) struct AppendDraft {
    pub(crate) events: Vec<Event>,
    /// Each stream whose version the append states, once, in the order the store checks them.
    pub(crate) streams: Vec<String>,
    pub(crate) idempotency: Option<Idempotency>,
    pub(crate) writes: Vec<Write>,
}

/// What deciding gave: the streams read, the events, and the state after them.
struct Decided {
    streams: Vec<String>,
    events: Vec<Event>,
    post: State,
}

/// Decides `commands` in order against `state`, each seeing the ones before; a refusal names
/// its command's index.
fn decide_in_turn(
    state: &State,
    commands: Vec<Command>,
    ctx: &Context,
    progress: &mut impl FnMut(usize),
) -> Result<Decided, (usize, ServiceError)> {
    if commands.len() == 1 {
        let command = commands.into_iter().next().expect("one command");
        let decided = decide_one(state, command, ctx)?;
        progress(1);
        return Ok(decided);
    }
    let mut streams: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut events: Vec<Event> = Vec::new();
    let mut post = state.clone();
    for (index, command) in commands.into_iter().enumerate() {
        for s in streams_read(&command, &post) {
            add_stream(&mut streams, &mut seen, s);
        }
        let decided = decide(&post, command, ctx).map_err(|e| (index, e.into()))?;
        for e in &decided {
            post.apply(post.size, e);
        }
        events.extend(decided);
        progress(index + 1);
    }
    Ok(Decided {
        streams,
        events,
        post,
    })
}

/// Adds `stream` to `streams` unless it is there already: `seen` holds the same names, so an
/// import's hundred thousand streams are not searched one by one for each command and event
/// (which made the import quadratic); `streams` keeps the order the store checks them in.
fn add_stream(streams: &mut Vec<String>, seen: &mut HashSet<String>, stream: String) {
    if !seen.contains(&stream) {
        seen.insert(stream.clone());
        streams.push(stream);
    }
}

/// One command, the common case: the state after it is built on a scratch copy of only what
/// its events touch, rather than a clone of the whole state.
fn decide_one(
    state: &State,
    command: Command,
    ctx: &Context,
) -> Result<Decided, (usize, ServiceError)> {
    let streams = streams_read(&command, state);
    let events = decide(state, command, ctx).map_err(|e| (0, e.into()))?;
    // Recording the address may re-sign any award's credential: the whole state.
    let moves = events
        .iter()
        .any(|e| matches!(e, Event::RegistryAddressRecorded { .. }));
    let mut post = if moves {
        state.clone()
    } else {
        scratch_for(state, &events)
    };
    for e in &events {
        post.apply(post.size, e);
    }
    Ok(Decided {
        streams,
        events,
        post,
    })
}

pub(super) fn decode(appended: Appended) -> Result<Outcome, (usize, ServiceError)> {
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
pub async fn fold_log(store: &Store, mut progress: impl FnMut(u64)) -> Result<State, ServiceError> {
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

/// The batching writer: takes whatever appends are waiting and commits them in one transaction,
/// then applies what it committed to the log as folded in memory (`cache`, when nothing else
/// was appended in between, and up to `APPLIED_BY_THE_WRITER` events) before answering, so an
/// appender reads its own write from memory.
pub(super) async fn writer_loop(
    store: Store,
    mut rx: mpsc::Receiver<Job>,
    stats: Arc<WriterStats>,
    cache: Arc<std::sync::RwLock<Cache>>,
) {
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
        // The copy is only for retrying a batch's appends one by one: a lone append (an
        // import's hundreds of thousands of events) is not copied.
        let (batch, retry) = if requests.len() == 1 {
            (requests, None)
        } else {
            (requests.clone(), Some(requests))
        };
        match store.append_batch(batch).await {
            Ok(results) => {
                stats.transactions.fetch_add(1, Relaxed);
                stats.appends.fetch_add(results.len() as u64, Relaxed);
                let committed: Vec<&StoredEvent> = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok().filter(|a| !a.replayed))
                    .flat_map(|a| &a.events)
                    .collect();
                if committed.len() <= APPLIED_BY_THE_WRITER {
                    apply_committed(&cache, &committed);
                }
                for (result, reply) in results.into_iter().zip(replies) {
                    let _ = reply.send(result);
                }
            }
            Err(e) if retry.is_none() => {
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
                let requests = retry.unwrap_or_default();
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
