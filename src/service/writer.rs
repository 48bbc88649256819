//! Deciding and appending: commands are decided against the in-memory state (each seeing the
//! ones before), their credentials signed, and the append handed to the batching writer, which
//! commits whatever appends are waiting in one transaction. Also the dry run (decide, append
//! nothing) and the rebuild of the projection tables from the log, folded.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::{mpsc, oneshot};

use super::log::{Cache, Committed, apply_committed, apply_committed_pieces};
use super::{Actor, Idempotency, Outcome, Registry, ServiceError};
use crate::domain::events::KEYS_STREAM;
use crate::domain::{
    CertificateNumber, Command, Context, DomainError, Event, State, decide, streams_read,
};
use crate::projection::{
    all_rows, award_writes, organisation_writes, scratch_for, touched, writes_for,
};
use crate::store::{
    AppendRequest, Appended, EventStore, IdempotencyRecord, NewEvent, Opened, Store, StoreError,
    StoredEvent, Write,
};

/// What the writer is asked to do.
pub(super) enum Job {
    /// One append, committed with whatever others are waiting.
    Append(AppendRequest, oneshot::Sender<Result<Appended, StoreError>>),
    /// An append written in pieces within its own transaction (`Pieced`).
    Pieced(Pieced),
}

/// An append too large to hold whole (an import's hundreds of thousands of events), written a
/// piece at a time within one transaction: its first request (the streams it states, its
/// idempotency key, its first events), then each `Piece` as it comes, each answered on
/// `answers` with its stored events, until `Piece::Commit`. The appender keeps at most
/// `PIECES_IN_FLIGHT` pieces unanswered, so neither side waits on the other's full queue. An
/// appender that goes away, or sends nothing for `PIECE_WAIT`, has its append rolled back.
pub(super) struct Pieced {
    pub(super) first: AppendRequest,
    pub(super) pieces: mpsc::Receiver<Piece>,
    pub(super) answers: mpsc::Sender<Result<Appended, StoreError>>,
}

/// The next part of a pieced append.
pub(super) enum Piece {
    /// Events after those before, and projection rows.
    Events(Vec<NewEvent>, Vec<Write>),
    /// The append is whole: commit it, and say how that went.
    Commit(oneshot::Sender<Result<(), StoreError>>),
}

/// Pieces an appender sends before it waits for the first one's answer.
pub(super) const PIECES_IN_FLIGHT: usize = 2;

/// How long the writer waits for a pieced append's next piece before rolling it back: the log
/// head is locked meanwhile, and no other append lands.
const PIECE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// How the batching writer has grouped appends: transactions committed and appends in them.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub(crate) transactions: std::sync::atomic::AtomicU64,
    pub(crate) appends: std::sync::atomic::AtomicU64,
}

/// The most appends the writer puts in one transaction.
const MAX_BATCH: usize = 256;

/// The most events of a batch the writer folds into memory itself. A larger one is read back
/// by its appender's catch-up, a page at a time, as a pieced append always is: folding it here,
/// while every payload is still held for the answer, would hold it twice.
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
            .execute_stored(actor, commands, idempotency, progress)
            .await?;
        decode(appended)
    }

    /// Like `execute_each`, answering with the stored events as they are, not decoded.
    async fn execute_stored(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
        mut progress: impl FnMut(usize),
    ) -> Result<Appended, (usize, ServiceError)> {
        if let Some(idem) = &idempotency
            && let Some(appended) = self.replay(&actor.id, idem).await.map_err(|e| (0, e))?
        {
            return Ok(appended);
        }
        let retry_key = idempotency.clone();
        match self
            .decide_and_append(actor, commands, idempotency, &mut progress)
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

    /// Decides the commands in order, each seeing the ones before, and appends their events in
    /// pieces within one transaction (`Pieced`), signing each piece's credentials as it is
    /// made, so a large append (an import) is never held whole: the state after it is. `each`
    /// is given every piece's stored events as they are written. The caller has answered a key
    /// used before already (`replay`, before checking its rows); a retry that raced its first
    /// attempt is answered again whole (`Some`, with only the payloads `keep` names), and then
    /// whatever `each` was given is not the answer.
    pub(super) async fn execute_in_pieces(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
        each: &mut impl FnMut(&Appended) -> Result<(), ServiceError>,
        keep: fn(&StoredEvent) -> bool,
    ) -> Result<Option<Appended>, (usize, ServiceError)> {
        let replayed = |mut appended: Appended| {
            drop_payloads(&mut appended, keep);
            Some(appended)
        };
        let retry_key = idempotency.clone();
        match self
            .decide_and_write_pieces(actor, commands, idempotency, each)
            .await
        {
            // As `execute_stored`: a retry that raced its first attempt is answered by it.
            Err(refused) => match retry_key {
                Some(idem) => match self.replay(&actor.id, &idem).await {
                    Ok(Some(appended)) => Ok(replayed(appended)),
                    _ => Err(refused),
                },
                None => Err(refused),
            },
            Ok(()) => Ok(None),
        }
    }

    async fn decide_and_write_pieces(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
        each: &mut impl FnMut(&Appended) -> Result<(), ServiceError>,
    ) -> Result<(), (usize, ServiceError)> {
        let (now, decided, called_for, mut signing, expected) = self
            .decided_now(commands, &mut |_| {}, |cache, decided, now| {
                let called_for = Self::credentials_called_for(&decided.events, &decided.post);
                let signing = match called_for.is_empty() {
                    true => None,
                    false => self
                        .credential_signing(&cache.state, &decided.post, now)
                        .map_err(|e| (0, e))?,
                };
                // Every stream the append reads or writes, stated at once with the first piece:
                // the later pieces follow under the same lock of the log head.
                let mut streams = decided.streams.clone();
                let mut seen: HashSet<String> = streams.iter().cloned().collect();
                if signing.is_some() {
                    add_stream(&mut streams, &mut seen, KEYS_STREAM.to_owned());
                    for number in &called_for {
                        if let Some(award) = decided.post.awards.get(number) {
                            let stream =
                                crate::domain::events::organisation_stream(award.organisation_id);
                            add_stream(&mut streams, &mut seen, stream);
                        }
                    }
                }
                for e in &decided.events {
                    add_stream(&mut streams, &mut seen, e.stream());
                }
                let expected: Vec<(String, Option<i64>)> = streams
                    .into_iter()
                    .map(|s| {
                        let v = cache.versions.get(&s);
                        (s, v)
                    })
                    .collect();
                Ok((now, decided, called_for, signing, expected))
            })
            .await?;
        if let Some(reason) = self.behind() {
            return Err((0, ServiceError::Behind(reason)));
        }
        let Decided {
            events, mut post, ..
        } = decided;
        let (orgs, awards) = touched(&events);
        let recorded_at = now.to_rfc3339_opts(SecondsFormat::Micros, true);
        let stamp =
            |e: Event| NewEvent::new(e, self.random_uuid(), recorded_at.clone(), actor.id.clone());
        // The pieces, in order: the decided events, with the rows of the organisations they
        // name (before any award names them); then the credentials, signed a piece at a time,
        // with their awards' rows; last the rows of the other awards the events changed.
        // Each piece's events are kept as decided until the piece is answered, and what memory
        // folds of them until the commit (`PieceLink`): the append is not read back.
        let entries = events.len() + called_for.len();
        let mut events = events.into_iter();
        let mut org_pieces = orgs.chunks(PIECE_EVENTS);
        let mut next_decided = |post: &State| {
            let kept: Vec<Event> = events.by_ref().take(PIECE_EVENTS).collect();
            let piece: Vec<NewEvent> = kept.iter().cloned().map(stamp).collect();
            let rows: Vec<Write> = org_pieces
                .next()
                .map(|ids| organisation_writes(post, ids).collect())
                .unwrap_or_default();
            (!piece.is_empty() || !rows.is_empty()).then_some((piece, kept, rows))
        };
        let (first_events, first_kept, first_rows) = next_decided(&post).unwrap_or_default();
        let first = AppendRequest {
            events: first_events,
            expected,
            idempotency: idempotency.map(|i| IdempotencyRecord {
                scope: actor.id.clone(),
                key: i.key,
                request_hash: i.request_hash,
            }),
            writes: first_rows,
            log_at_least: self.size(),
        };
        let (piece_tx, pieces) = mpsc::channel(PIECES_IN_FLIGHT);
        let (answer_tx, answers) = mpsc::channel(PIECES_IN_FLIGHT);
        let stopped = || {
            (
                0,
                ServiceError::Store(StoreError::Corrupt("the writer has stopped".into())),
            )
        };
        self.log
            .writer
            .send(Job::Pieced(Pieced {
                first,
                pieces,
                answers: answer_tx,
            }))
            .await
            .map_err(|_| stopped())?;
        let mut last = None;
        let mut answered = |answer: Option<Result<Appended, StoreError>>| {
            let appended = match answer {
                Some(Ok(appended)) if !appended.replayed => appended,
                // Appended before: under its idempotency key by another instance since this
                // one looked (`execute_in_pieces` answers with that append), or under its first
                // event's id, which a fresh decision's never is.
                Some(Ok(_)) => {
                    return Err((
                        0,
                        ServiceError::Store(StoreError::Corrupt(
                            "a pieced append was found appended before".into(),
                        )),
                    ));
                }
                Some(Err(e)) => return Err((0, self.refused_append(e))),
                None => return Err(stopped()),
            };
            if let Some(e) = appended.events.last() {
                last = Some(e.position);
            }
            each(&appended).map_err(|e| (0, e))
        };
        let mut link = PieceLink {
            pieces: piece_tx,
            answers,
            in_flight: 1,
            kept: std::collections::VecDeque::from([first_kept]),
            committed: Some(Vec::with_capacity(entries)),
        };
        answered(link.answer().await)?;
        while let Some((piece, kept, rows)) = next_decided(&post) {
            if link.full() {
                answered(link.answer().await)?;
            }
            link.send(Piece::Events(piece, rows), kept)
                .await
                .map_err(|_| stopped())?;
        }
        let mut signed: HashSet<&CertificateNumber> = HashSet::new();
        if let Some(signing) = signing.as_mut() {
            for numbers in called_for.chunks(PIECE_EVENTS) {
                let mut piece = Vec::with_capacity(numbers.len());
                let mut kept = Vec::with_capacity(numbers.len());
                for number in numbers {
                    if let Some(event) = signing
                        .sign(self, &mut post, number.clone())
                        .map_err(|e| (0, e))?
                    {
                        kept.push(event.clone());
                        piece.push(stamp(event));
                    }
                }
                signed.extend(numbers);
                let rows = award_writes(&post, numbers).collect();
                if link.full() {
                    answered(link.answer().await)?;
                }
                link.send(Piece::Events(piece, rows), kept)
                    .await
                    .map_err(|_| stopped())?;
            }
        }
        let others: Vec<CertificateNumber> =
            awards.into_iter().filter(|n| !signed.contains(n)).collect();
        for numbers in others.chunks(PIECE_EVENTS) {
            let rows = award_writes(&post, numbers).collect();
            if link.full() {
                answered(link.answer().await)?;
            }
            link.send(Piece::Events(Vec::new(), rows), Vec::new())
                .await
                .map_err(|_| stopped())?;
        }
        while link.in_flight > 0 {
            answered(link.answer().await)?;
        }
        let (done, committed) = oneshot::channel();
        link.send(Piece::Commit(done), Vec::new())
            .await
            .map_err(|_| stopped())?;
        committed
            .await
            .map_err(|_| stopped())?
            .map_err(|e| (0, self.refused_append(e)))?;
        // Memory folds what was committed, as it folds what it reads, when it follows what
        // memory holds; else the log is read from where memory stops.
        drop(post);
        let folded = link
            .committed
            .take()
            .is_some_and(|committed| apply_committed_pieces(&self.log.cache, committed));
        if !folded {
            self.catch_up_past(last).await.map_err(|e| (0, e))?;
        }
        Ok(())
    }

    /// The append first recorded under `idem`, with the in-memory state caught up past it: the
    /// first attempt may have been made on another instance, and the answer reads what it
    /// wrote back from memory.
    pub(super) async fn replay(
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

    /// Decides `commands` in turn against the state as memory holds it once caught up, and
    /// hands the decision to `then` with the cache still read, and the time it was made: what
    /// `then` states of the log (stream versions, the state before) is what the decision saw.
    async fn decided_now<T>(
        &self,
        commands: Vec<Command>,
        progress: &mut impl FnMut(usize),
        then: impl FnOnce(&Cache, Decided, DateTime<Utc>) -> Result<T, (usize, ServiceError)>,
    ) -> Result<T, (usize, ServiceError)> {
        self.catch_up().await.map_err(|e| (0, e))?;
        self.refresh_signing();
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
        then(&cache, decided, now)
    }

    async fn decide_and_append(
        &self,
        actor: &Actor,
        commands: Vec<Command>,
        idempotency: Option<Idempotency>,
        progress: &mut impl FnMut(usize),
    ) -> Result<Appended, (usize, ServiceError)> {
        let request = self
            .decided_now(commands, progress, |cache, decided, now| {
                let mut draft = self
                    .complete(&cache.state, decided, now)
                    .map_err(|e| (0, e))?;
                draft.idempotency = idempotency;
                Ok(self.append_request(&actor.id, now, &cache.versions, draft))
            })
            .await?;
        let appended = self.append(request).await.map_err(|e| (0, e))?;
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
        self.log
            .writer
            .send(Job::Append(request, tx))
            .await
            .map_err(|_| {
                ServiceError::Store(StoreError::Corrupt("the writer has stopped".into()))
            })?;
        let result = rx.await.map_err(|_| {
            ServiceError::Store(StoreError::Corrupt("the writer has stopped".into()))
        })?;
        result.map_err(|e| self.refused_append(e))
    }

    /// An append's failure as the service says it; a log shorter than memory's (entries lost)
    /// puts the registry behind.
    fn refused_append(&self, e: StoreError) -> ServiceError {
        if let StoreError::LogBehind { size, expected } = &e {
            self.fall_behind(format!(
                "the database's log has {size} entries but this registry had read {expected}: \
                 entries were lost (a restore, a rollback or a failover)"
            ));
        }
        e.into()
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

/// Events a piece of a pieced append carries at most (and rows, beside them).
const PIECE_EVENTS: usize = 2_000;

/// The appender's end of a pieced append: pieces sent, their answers read, at most
/// `PIECES_IN_FLIGHT` unanswered; each piece's events kept as decided until it is answered,
/// and then what memory will fold of them once the append commits.
struct PieceLink {
    pieces: mpsc::Sender<Piece>,
    answers: mpsc::Receiver<Result<Appended, StoreError>>,
    in_flight: usize,
    /// The events of each unanswered piece, oldest first.
    kept: std::collections::VecDeque<Vec<Event>>,
    /// The entries answered so far, to fold at the commit; None once one could not be kept
    /// (then the append is read back from the log).
    committed: Option<Vec<Committed>>,
}

impl PieceLink {
    /// Whether a piece sent now would be one too many unanswered.
    fn full(&self) -> bool {
        self.in_flight >= PIECES_IN_FLIGHT
    }

    /// The oldest unanswered piece's answer (None: the writer has stopped), its entries kept
    /// to fold at the commit.
    async fn answer(&mut self) -> Option<Result<Appended, StoreError>> {
        self.in_flight = self.in_flight.saturating_sub(1);
        let answer = self.answers.recv().await;
        let events = self.kept.pop_front().unwrap_or_default();
        if let Some(Ok(appended)) = &answer {
            self.keep(appended, events);
        }
        answer
    }

    fn keep(&mut self, appended: &Appended, events: Vec<Event>) {
        let Some(committed) = self.committed.as_mut() else {
            return;
        };
        if appended.events.len() != events.len() {
            self.committed = None;
            return;
        }
        for (stored, event) in appended.events.iter().zip(events) {
            match Committed::of(stored, event) {
                Some(entry) => committed.push(entry),
                None => {
                    self.committed = None;
                    return;
                }
            }
        }
    }

    /// Sends `piece`, whose events are `kept` as decided.
    async fn send(
        &mut self,
        piece: Piece,
        kept: Vec<Event>,
    ) -> Result<(), mpsc::error::SendError<Piece>> {
        if matches!(piece, Piece::Events(..)) {
            self.in_flight += 1;
            self.kept.push_back(kept);
        }
        self.pieces.send(piece).await
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
/// appender reads its own write from memory. A pieced append is written alone, after the
/// appends that came before it.
pub(super) async fn writer_loop(
    store: Store,
    mut rx: mpsc::Receiver<Job>,
    stats: Arc<WriterStats>,
    cache: Arc<std::sync::RwLock<Cache>>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = Vec::new();
        let mut pieced = None;
        match first {
            Job::Append(request, reply) => jobs.push((request, reply)),
            Job::Pieced(job) => pieced = Some(job),
        }
        while pieced.is_none() && jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Job::Append(request, reply)) => jobs.push((request, reply)),
                Ok(Job::Pieced(job)) => pieced = Some(job),
                Err(_) => break,
            }
        }
        if !jobs.is_empty() {
            commit_batch(&store, jobs, &stats, &cache).await;
        }
        if let Some(job) = pieced {
            write_pieced(&store, job, &stats).await;
        }
    }
}

/// Commits a batch of appends in one transaction and answers each; a batch that fails is
/// retried one append at a time, so one bad append does not sink the others.
async fn commit_batch(
    store: &Store,
    jobs: Vec<(AppendRequest, oneshot::Sender<Result<Appended, StoreError>>)>,
    stats: &WriterStats,
    cache: &std::sync::RwLock<Cache>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let (requests, replies): (Vec<_>, Vec<_>) = jobs.into_iter().unzip();
    // The copy is only for retrying a batch's appends one by one: a lone append is not copied.
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
                apply_committed(cache, &committed);
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

/// Writes a pieced append (`Pieced`): opened with its first request, each piece written and
/// answered as it comes, committed at `Piece::Commit`. Whatever ends it sooner (a refusal, a
/// failure, the appender gone or silent for `PIECE_WAIT`) drops the open append, which rolls
/// it back. What it appended is read into memory by its appender's catch-up, a page at a time.
async fn write_pieced(store: &Store, job: Pieced, stats: &WriterStats) {
    use std::sync::atomic::Ordering::Relaxed;
    let Pieced {
        first,
        mut pieces,
        answers,
    } = job;
    let mut open = match store.open_append(first).await {
        Ok(Opened::Open(open, appended)) => {
            if answers.send(Ok(appended)).await.is_err() {
                return;
            }
            open
        }
        Ok(Opened::Answered(answer)) => {
            let _ = answers.send(answer).await;
            return;
        }
        Err(e) => {
            let _ = answers.send(Err(e)).await;
            return;
        }
    };
    loop {
        let piece = match tokio::time::timeout(PIECE_WAIT, pieces.recv()).await {
            Ok(Some(piece)) => piece,
            Ok(None) => return,
            Err(_) => {
                tracing::warn!(
                    "a pieced append sent no piece for {} s: rolled back",
                    PIECE_WAIT.as_secs()
                );
                return;
            }
        };
        match piece {
            Piece::Events(events, writes) => {
                let result = open.push(events, writes).await;
                let failed = result.is_err();
                if answers.send(result).await.is_err() || failed {
                    return;
                }
            }
            Piece::Commit(done) => {
                let result = open.commit().await;
                if result.is_ok() {
                    stats.transactions.fetch_add(1, Relaxed);
                    stats.appends.fetch_add(1, Relaxed);
                }
                let _ = done.send(result);
                return;
            }
        }
    }
}
