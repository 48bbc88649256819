//! Crashes and concurrency through real server processes: a server killed with SIGKILL in the
//! middle of concurrent writes, round after round, on SQLite and PostgreSQL, loses no
//! acknowledged write and leaves a log that verifies; and two servers writing to one PostgreSQL
//! database at once keep positions dense and see each other's writes within a second.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wexqs::service::maintenance::Maintenance;
use wexqs::store::{
    AppendRequest, Appended, AwardRow, Checkpoint, EventStore, LogHead, NewEvent, OrganisationRow,
    RegisterQuery, Store, StoreError, StoredEvent, TokenRow, check_log,
};

use crate::client::Client;
use crate::helpers::{
    Backend, Db, KillOnDrop, admin_token, fresh_db, on_both_databases, open_store, start_server,
    temp_dir, text, wexqs,
};
use crate::tamper::execute;

/// (organisation id, certificate number) of each award whose issue was acknowledged (201).
type Acknowledged = Arc<Mutex<Vec<(String, String)>>>;

/// Writers registering organisations and issuing them awards through `base` until it stops
/// answering (or `until`), recording each acknowledged award.
fn spawn_writers(
    base: &str,
    token: &str,
    label: &str,
    count: usize,
    acknowledged: &Acknowledged,
    until: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    (0..count)
        .map(|w| {
            let (client, base, token, acknowledged) = (
                client.clone(),
                base.to_owned(),
                token.to_owned(),
                acknowledged.clone(),
            );
            let label = format!("{label} {w}");
            tokio::spawn(async move {
                let mut i = 0;
                while Instant::now() < until {
                    i += 1;
                    let org = client
                        .post(format!("{base}/v1/admin/organisations"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"name": format!("Writer {label} Trust {i}"), "region": "london"}))
                        .send()
                        .await;
                    let Ok(org) = org else { return };
                    if org.status() != 201 {
                        return;
                    }
                    let Ok(org) = org.json::<serde_json::Value>().await else { return };
                    let id = org["id"].as_str().unwrap_or_default().to_owned();
                    let award = client
                        .post(format!("{base}/v1/admin/awards"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"organisation_id": id, "level": "gold", "awarded_on": "2025-06-01"}))
                        .send()
                        .await;
                    let Ok(award) = award else { return };
                    if award.status() != 201 {
                        return;
                    }
                    let Ok(award) = award.json::<serde_json::Value>().await else { return };
                    let number = award["certificate_number"].as_str().unwrap_or_default().to_owned();
                    acknowledged.lock().expect("not poisoned").push((id, number));
                }
            })
        })
        .collect()
}

/// Every acknowledged award is in the log; positions are dense and the hash chain holds (the
/// library's check and `wexqs log verify`); no event is stored twice; the projections equal a
/// replay of the log.
async fn assert_log_whole(db: &Db, data_dir: &Path, acknowledged: &[(String, String)], when: &str) {
    let store = open_store(db).await;
    assert_log_verifies(&store, when).await;
    let verified = wexqs(db, data_dir, &["log", "verify"]);
    assert!(
        verified.status.success(),
        "{when}: wexqs log verify: {}{}",
        text(&verified.stdout),
        text(&verified.stderr)
    );
    let events = store.read(0, u32::MAX).await.expect("the log");
    let positions: Vec<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(
        positions,
        (0..events.len() as u64).collect::<Vec<_>>(),
        "{when}: positions are dense from 0"
    );
    let ids: HashSet<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), events.len(), "{when}: no event is stored twice");
    let state = wexqs::service::fold_log(&store, |_| {})
        .await
        .expect("replayed");
    for (org, number) in acknowledged {
        let number: wexqs::domain::CertificateNumber = number.parse().expect("a number");
        assert!(
            state.awards.contains_key(&number),
            "{when}: acknowledged award {number} survived"
        );
        assert!(
            state.organisations.keys().any(|k| k.to_string() == *org),
            "{when}: acknowledged organisation {org} survived"
        );
    }
    assert_eq!(
        store.projections().await.expect("rows"),
        wexqs::projection::all_rows(&state),
        "{when}: the projections agree with the log"
    );
}

/// The library's check of the log, and the checkpoints and tree against it (what `wexqs log
/// verify` runs), pass on `store`: a failure says where, which check and what it found. The
/// size of the log checked.
async fn assert_log_verifies(store: &Store, when: &str) -> u64 {
    let check = check_log(store, |_| {}).await.expect("checked");
    if let Some((position, what)) = &check.problem {
        panic!(
            "{when}: the log of {} events does not verify, at position {position}: {what}",
            check.size
        );
    }
    let report = Maintenance::new(store.clone())
        .check_log(|_| {})
        .await
        .expect("checked");
    if let Some((position, what)) = &report.problem {
        panic!(
            "{when}: the log of {} events, its tree or its checkpoints do not verify, at position {position}: {what}",
            report.size
        );
    }
    check.size
}

/// Waits until no session of PostgreSQL on `store`'s database but this one is running a
/// statement: a server killed after sending COMMIT leaves its session to carry it out, so the
/// log may still grow after the process is gone. (SQLite commits in the process: nothing to
/// wait for.)
async fn sessions_of_the_dead_ended(store: &Store) {
    let Store::Postgres(pg) = store else { return };
    let waiting = Instant::now();
    loop {
        let busy: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'",
        )
        .fetch_one(pg.pool())
        .await
        .expect("the sessions");
        if busy == 0 {
            return;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(20),
            "{busy} sessions of a killed server still busy after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rounds of: start a server, write from four clients at once, SIGKILL the server after a
/// varying while, check the log. Bounded to about 30 seconds.
async fn sigkill_rounds_lose_no_acknowledged_write(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "writer");
    let acknowledged: Acknowledged = Arc::default();
    let started = Instant::now();
    let mut rounds = 0u64;
    // Opened before the kills, so that it reads the head at once after each.
    let store = open_store(&db).await;
    // Rounds in which the log grew after the server was killed and gone.
    let mut landed_after_kill = 0u64;
    while rounds < 3 || (rounds < 12 && started.elapsed() < Duration::from_secs(22)) {
        let (mut server, base) = start_server(&db, dir.path()).await;
        let before = acknowledged.lock().expect("not poisoned").len();
        let writers = spawn_writers(
            &base,
            &token,
            &format!("{rounds}"),
            4,
            &acknowledged,
            Instant::now() + Duration::from_secs(60),
        );
        // Once writes are flowing, a different moment in each round, so the kill lands in
        // different places of an append.
        let waiting = Instant::now();
        while acknowledged.lock().expect("not poisoned").len() == before {
            assert!(
                waiting.elapsed() < Duration::from_secs(15),
                "round {rounds}: no write was acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50 + (rounds * 377) % 1000)).await;
        server.kill().expect("SIGKILL");
        let _ = server.wait();
        let at_kill = store.head().await.expect("the head").size;
        for w in writers {
            w.await.expect("the writer ended");
        }
        let acknowledged = acknowledged.lock().expect("not poisoned").clone();
        assert!(
            acknowledged.len() > before,
            "round {rounds}: writes were acknowledged before the kill"
        );
        // Checked at once, while the dead server's last COMMIT may still be landing, and again
        // once nothing of it is left running.
        assert_log_verifies(&store, &format!("just after kill {rounds}")).await;
        sessions_of_the_dead_ended(&store).await;
        if store.head().await.expect("the head").size > at_kill {
            landed_after_kill += 1;
        }
        assert_log_whole(
            &db,
            dir.path(),
            &acknowledged,
            &format!("after kill {rounds}"),
        )
        .await;
        rounds += 1;
    }
    let total = acknowledged.lock().expect("not poisoned").len();
    eprintln!(
        "crash: {rounds} SIGKILLs in {:?}, {total} acknowledged awards, none lost; in \
         {landed_after_kill} rounds a write committed after the killed server was gone",
        started.elapsed()
    );
}

on_both_databases!(backend: sigkill_rounds_lose_no_acknowledged_write);

/// The log checked again and again while a server writes to it and signs checkpoints, each
/// check on a store opened afresh (opening looks at the stored tree): every check passes, the
/// log grew during some of them, and the server still writes afterwards. Bounded to 3 to 15
/// seconds of checks.
async fn a_log_checked_while_it_grows_verifies(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "writer");
    let (server, base) = start_server(&db, dir.path()).await;
    let server = KillOnDrop(server);
    let acknowledged: Acknowledged = Arc::default();
    let started = Instant::now();
    let writers = spawn_writers(
        &base,
        &token,
        "growing",
        4,
        &acknowledged,
        started + Duration::from_secs(20),
    );
    let (mut checks, mut grew) = (0u64, 0u64);
    // Three seconds of checks, and more (up to fifteen) until two met a growing log.
    while started.elapsed() < Duration::from_secs(3)
        || (grew < 2 && started.elapsed() < Duration::from_secs(15))
    {
        let store = open_store(&db).await;
        let before = store.head().await.expect("the head").size;
        let checked = assert_log_verifies(&store, &format!("check {checks}, while writing")).await;
        checks += 1;
        if checked > before {
            grew += 1;
        }
    }
    for w in writers {
        w.abort();
        if let Err(e) = w.await {
            assert!(e.is_cancelled(), "a writer failed: {e}");
        }
    }
    let acknowledged = acknowledged.lock().expect("not poisoned").clone();
    eprintln!(
        "crash: {checks} checks beside {} writes, {grew} of them while the log grew",
        acknowledged.len()
    );
    assert!(
        grew > 0,
        "the log grew during one of the {checks} checks at least"
    );
    let (status, still) = Client::new(&base)
        .with_token(&token)
        .post_json(
            "/v1/admin/organisations",
            serde_json::json!({"name": "Written After The Checks Trust", "region": "london"}),
        )
        .await;
    assert_eq!(status, 201, "the server still writes: {still}");
    drop(server);
    assert_log_whole(&db, dir.path(), &acknowledged, "after the checks").await;
}

on_both_databases!(backend: a_log_checked_while_it_grows_verifies);

/// Issues one award through `writer` and waits until `reader` shows it: the time that took.
async fn time_to_see(writer: &str, reader: &str, token: &str, name: &str) -> Duration {
    let (_, number) = Client::new(writer)
        .with_token(token)
        .organisation_with_award(name, "silver", "2025-06-01")
        .await;
    let reader = Client::new(reader);
    let written = Instant::now();
    loop {
        let seen = reader
            .get(&format!("/v1/awards/{number}/verification"))
            .await;
        if seen.status() == 200 {
            return written.elapsed();
        }
        assert!(
            written.elapsed() < Duration::from_secs(5),
            "{} never saw {number}",
            reader.base()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_writing_to_one_postgresql_database_keep_one_dense_log_and_see_each_other() {
    let Some(db) = fresh_db(Backend::Postgres).await else {
        return;
    };
    // One data folder: both instances sign with the same registry key, as a deployment would.
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "writer");
    let (server_a, a) = start_server(&db, dir.path()).await;
    let (server_b, b) = start_server(&db, dir.path()).await;
    let _servers = (KillOnDrop(server_a), KillOnDrop(server_b));

    let (through_a, through_b): (Acknowledged, Acknowledged) = Default::default();
    // Four seconds of writes, and more (up to twenty) on a machine too busy for eleven awards
    // through each instance in four.
    let started = Instant::now();
    let until = started + Duration::from_secs(20);
    let mut writers = spawn_writers(&a, &token, "A", 2, &through_a, until);
    writers.extend(spawn_writers(&b, &token, "B", 2, &through_b, until));
    let written = |through: &Acknowledged| through.lock().expect("not poisoned").len();
    while started.elapsed() < Duration::from_secs(4)
        || ((written(&through_a) <= 10 || written(&through_b) <= 10) && Instant::now() < until)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in writers {
        w.abort();
        if let Err(e) = w.await {
            assert!(e.is_cancelled(), "a writer failed: {e}");
        }
    }
    let through_a = through_a.lock().expect("not poisoned").clone();
    let through_b = through_b.lock().expect("not poisoned").clone();
    assert!(
        through_a.len() > 10 && through_b.len() > 10,
        "both instances wrote: {} and {} awards",
        through_a.len(),
        through_b.len()
    );
    let acknowledged: Vec<_> = through_a.into_iter().chain(through_b).collect();

    let a_to_b = time_to_see(&a, &b, &token, "Seen From A Trust").await;
    let b_to_a = time_to_see(&b, &a, &token, "Seen From B Trust").await;
    eprintln!(
        "crash: {} awards written through two instances; B saw A's write after {a_to_b:?}, A saw B's after {b_to_a:?}",
        acknowledged.len()
    );
    // Each instance polls the log head once a second.
    for (seen, what) in [(a_to_b, "B sees A's write"), (b_to_a, "A sees B's write")] {
        assert!(seen < Duration::from_millis(1500), "{what}: {seen:?}");
    }
    // Both instances agree on the whole register.
    let client = reqwest::Client::new();
    let totals = register_totals(&client, &[&a, &b]).await;
    assert_eq!(
        totals[0], totals[1],
        "both instances show the same register"
    );
    assert_log_whole(&db, dir.path(), &acknowledged, "two writers").await;
}

/// The register's size as each server answers it, once both have caught up.
async fn register_totals(client: &reqwest::Client, bases: &[&str]) -> Vec<serde_json::Value> {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut totals = Vec::new();
    for base in bases {
        let page: serde_json::Value = client
            .get(format!("{base}/v1/register?per_page=1"))
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON");
        totals.push(page["total"].clone());
    }
    totals
}

/// A store on which an append commits, every time, just before the first read of events: a
/// write landing after a check of the log read the log head and before it read the events, as
/// a running server's may, or the last COMMIT of one killed a moment before.
struct CommitsBeforeFirstRead {
    store: Store,
    pending: Mutex<Option<AppendRequest>>,
}

impl EventStore for CommitsBeforeFirstRead {
    async fn read(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let pending = self.pending.lock().expect("not poisoned").take();
        if let Some(request) = pending {
            for result in self.store.append_batch(vec![request]).await? {
                result?;
            }
        }
        self.store.read(from, limit).await
    }
    async fn head(&self) -> Result<LogHead, StoreError> {
        self.store.head().await
    }
    async fn migrate(&self) -> Result<(), StoreError> {
        self.store.migrate().await
    }
    async fn append_batch(
        &self,
        batch: Vec<AppendRequest>,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        self.store.append_batch(batch).await
    }
    async fn idempotent(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<(String, Vec<StoredEvent>)>, StoreError> {
        self.store.idempotent(scope, key).await
    }
    async fn replace_projections(
        &self,
        organisations: Vec<OrganisationRow>,
        awards: Vec<AwardRow>,
    ) -> Result<(), StoreError> {
        self.store.replace_projections(organisations, awards).await
    }
    async fn projections(&self) -> Result<(Vec<OrganisationRow>, Vec<AwardRow>), StoreError> {
        self.store.projections().await
    }
    async fn search(&self, query: &RegisterQuery) -> Result<(Vec<AwardRow>, u64), StoreError> {
        self.store.search(query).await
    }
    async fn token(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError> {
        self.store.token(token_id).await
    }
    async fn ready(&self) -> Result<(), StoreError> {
        self.store.ready().await
    }
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        self.store.save_checkpoint(checkpoint).await
    }
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.store.checkpoints().await
    }
    async fn tree_hashes(&self, level: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        self.store.tree_hashes(level).await
    }
}

/// An append of `count` events, each on a stream of its own.
pub(crate) fn tokens_revoked(count: usize) -> AppendRequest {
    let events = (0..count)
        .map(|_| {
            let id = uuid::Uuid::new_v4();
            NewEvent::new(
                wexqs::domain::Event::ApiTokenRevoked {
                    token_id: id.to_string(),
                },
                id,
                "2026-11-24T12:00:00Z".into(),
                "test".into(),
            )
        })
        .collect();
    AppendRequest {
        events,
        ..AppendRequest::default()
    }
}

/// Given a log of three events, when two more commit between the check's read of the log head
/// and its read of the events, the check passes over all five; a head moved past its events,
/// or off their chain hash, is still reported, saying what it says against what they give.
async fn a_commit_between_the_checks_reads_is_no_divergence(store: Store) {
    store
        .append_batch(vec![tokens_revoked(3)])
        .await
        .expect("appended");
    let growing = CommitsBeforeFirstRead {
        store: store.clone(),
        pending: Mutex::new(Some(tokens_revoked(2))),
    };
    let check = check_log(&growing, |_| {}).await.expect("checked");
    assert_eq!(
        (check.size, check.problem),
        (5, None),
        "the two events that landed meanwhile are checked, and nothing is wrong"
    );
    assert_eq!(check.head, store.head().await.expect("the head"));

    for (tamper, says) in [
        (
            "UPDATE log_head SET size = size + 1",
            "the log head says 6 events",
        ),
        // An event beyond a head that agrees with the events before it.
        (
            "UPDATE log_head SET size = 4, \
             chain_hash = (SELECT chain_hash FROM events WHERE position = 3)",
            "the log head, read after the events, says 4 events",
        ),
    ] {
        execute(&store, tamper).await;
        let check = check_log(&store, |_| {}).await.expect("checked");
        let (_, what) = check.problem.expect("the moved head is found");
        assert!(what.contains(says), "{tamper}: {what}");
        execute(
            &store,
            "UPDATE log_head SET size = 5, \
             chain_hash = (SELECT chain_hash FROM events WHERE position = 4)",
        )
        .await;
        let check = check_log(&store, |_| {}).await.expect("checked");
        assert_eq!(check.problem, None, "the head put back");
    }
    let chain = check.head.chain_hash;
    execute(
        &store,
        "UPDATE log_head SET chain_hash = (SELECT chain_hash FROM events WHERE position = 3)",
    )
    .await;
    let (position, what) = check_log(&store, |_| {})
        .await
        .expect("checked")
        .problem
        .expect("the head off the chain is found");
    assert_eq!(position, 5, "{what}");
    assert!(
        what.contains("the log head says 5 events") && what.contains(&hex::encode(&chain)),
        "{what}"
    );
}

on_both_databases!(store: a_commit_between_the_checks_reads_is_no_divergence);
