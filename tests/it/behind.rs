//! Drills for the high-water mark (`service::high_water`), through real server processes on
//! SQLite and PostgreSQL, with the databases' own backup tools: a restore older than a published
//! checkpoint starts behind (writes and award answers 503 `log_behind_published_checkpoint`,
//! `/readyz` says why) and recovers by `wexqs log reenter` from a copy of the public log; a
//! database rolled back under a running instance is noticed within two seconds and no checkpoint
//! larger than the log is ever stored; an entry changed in the database is found at start-up; a
//! checkpoint that cannot be recorded outside the database is not published and fails `/readyz`.
//! Through every drill an auditor (`wexqs audit --state`) holding every checkpoint it saw finds
//! them consistent with each other.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use wexqs::store::EventStore;

use crate::client::Client;
use crate::helpers::{
    Backend, Db, KillOnDrop, admin_token, fresh_db, on_both_databases, open_store, start_server,
    temp_dir, text, wexqs,
};
use crate::tamper;

const BEHIND: &str = "log_behind_published_checkpoint";

/// Registers an organisation and issues it an award through `base`: the award's number.
async fn issue(base: &str, token: &str, name: &str) -> String {
    let (_, number) = Client::new(base)
        .with_token(token)
        .organisation_with_award(name, "gold", "2025-06-01")
        .await;
    number
}

/// A write through `base`: its status and body.
async fn try_write(base: &str, token: &str) -> (u16, serde_json::Value) {
    Client::new(base)
        .with_token(token)
        .post_json(
            "/v1/admin/organisations",
            serde_json::json!({"name": "Written While Behind Trust", "region": "london"}),
        )
        .await
}

/// The award's verification through `base`: its status and body.
async fn verification(base: &str, number: &str) -> (u16, serde_json::Value) {
    Client::new(base)
        .get_json(&format!("/v1/awards/{number}/verification"))
        .await
}

async fn readyz(base: &str) -> (u16, serde_json::Value) {
    Client::new(base).get_json("/readyz").await
}

/// Waits (at most `limit`) until `/readyz` at `base` answers `status`; its body.
async fn readyz_becomes(base: &str, status: u16, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let (now, body) = readyz(base).await;
        if now == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz did not answer {status} within {limit:?}: {now} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the checkpoint `base` serves covers its whole log, and that size.
async fn checkpoint_of_whole_log(base: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, ready) = readyz(base).await;
        let size = ready["log_size"].as_u64().unwrap_or(0);
        let note = Client::new(base)
            .get_answer("/v1/log/checkpoint")
            .await
            .text();
        let signed = note.lines().nth(1).and_then(|l| l.parse::<u64>().ok());
        if size > 0 && signed == Some(size) {
            return size;
        }
        assert!(Instant::now() < deadline, "no checkpoint of the whole log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `wexqs audit` of `base`, remembering in `state` every checkpoint it accepted: it must say
/// consistent.
fn audit_consistent(base: &str, state: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(["audit", base, "--state"])
        .arg(state)
        .output()
        .expect("wexqs audit runs");
    assert!(
        out.status.success() && text(&out.stdout).starts_with("consistent"),
        "the audit found the checkpoints inconsistent: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn sqlite_file(db: &Db) -> String {
    db.url.trim_start_matches("sqlite://").to_owned()
}

fn run(command: &mut Command) {
    let out = command.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// A backup with the database's own tool, taken while the server runs.
fn backup(db: &Db, backend: Backend, to: &Path) {
    match backend {
        Backend::Sqlite => run(Command::new("sqlite3")
            .arg(sqlite_file(db))
            .arg(format!(".backup '{}'", to.display()))),
        Backend::Postgres => run(Command::new("pg_dump")
            .args(["--format=custom", "--file"])
            .arg(to)
            .arg(&db.url)),
    }
}

/// Restores `from` into the same database, in place (whether a server runs on it or not):
/// SQLite's online backup API, or `pg_restore --clean` in one transaction.
fn restore(db: &Db, backend: Backend, from: &Path) {
    match backend {
        Backend::Sqlite => run(Command::new("sqlite3")
            .arg(sqlite_file(db))
            .arg(".timeout 10000")
            .arg(format!(".restore '{}'", from.display()))),
        Backend::Postgres => run(Command::new("pg_restore")
            .args([
                "--clean",
                "--if-exists",
                "--single-transaction",
                "--no-owner",
                "--dbname",
            ])
            .arg(&db.url)
            .arg(from)),
    }
}

/// A copy of the public log as a mirror keeps it: `/v1/log/entries` of `base`, saved.
async fn mirror(base: &str, to: &Path) {
    let body = Client::new(base)
        .get_answer("/v1/log/entries?start=0&limit=1000")
        .await
        .text();
    std::fs::write(to, body).expect("saved");
}

/// Every checkpoint stored is within the log, and the log and its checkpoints verify.
async fn no_checkpoint_beyond_the_log(db: &Db, data: &Path) {
    let store = open_store(db).await;
    let size = store.head().await.expect("a head").size;
    for c in store.checkpoints().await.expect("checkpoints") {
        assert!(
            c.size <= size,
            "a checkpoint of {} was stored beside a log of {size}",
            c.size
        );
    }
    let out = wexqs(db, data, &["log", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
}

fn reenter(db: &Db, data: &Path, from: &Path) -> String {
    let out = wexqs(
        db,
        data,
        &["log", "reenter", "--from", &from.display().to_string()],
    );
    assert!(
        out.status.success(),
        "re-entry failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// An answer refused because the instance is behind: 503 with the code.
fn refused_as_behind((status, body): (u16, serde_json::Value)) {
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some(BEHIND)),
        "{body}"
    );
}

/// What a drill works with: a fresh database, its data folder, an admin token, and a folder for
/// the backup, the mirror's copy of the public log and the auditor's state.
struct Drill {
    db: Db,
    backend: Backend,
    data: TempDir,
    files: TempDir,
    token: String,
}

/// The history a drill goes back on: an award `kept` in the backup, taken when the log's
/// checkpoint was at `before`, and one `lost` after it, in the checkpoint `published` and the
/// mirror's copy.
struct History {
    kept: String,
    before: u64,
    lost: String,
    published: u64,
}

impl Drill {
    /// A drill on a fresh `backend` database, or none where that database is not to be had.
    async fn new(backend: Backend) -> Option<Drill> {
        let db = fresh_db(backend).await?;
        let data = temp_dir();
        let token = admin_token(&db, data.path(), "drill");
        Some(Drill {
            db,
            backend,
            data,
            files: temp_dir(),
            token,
        })
    }

    fn saved(&self) -> PathBuf {
        self.files.path().join("backup")
    }

    fn copy(&self) -> PathBuf {
        self.files.path().join("entries.json")
    }

    fn state(&self) -> PathBuf {
        self.files.path().join("audit.json")
    }

    /// `wexqs serve` on the drill's database: the process and its address.
    async fn serve(&self) -> (KillOnDrop, String) {
        let (server, base) = start_server(&self.db, self.data.path()).await;
        (KillOnDrop(server), base)
    }

    /// Through the instance at `base`: an award kept, checkpointed and seen by the auditor, then
    /// a backup; then an award (`lost`, for the organisation `name`) checkpointed, seen by the
    /// auditor and copied by a mirror.
    async fn backup_then_one_more_award(&self, base: &str, name: &str) -> History {
        let kept = issue(base, &self.token, "Kept Trust").await;
        let before = checkpoint_of_whole_log(base).await;
        audit_consistent(base, &self.state());
        backup(&self.db, self.backend, &self.saved());
        let lost = issue(base, &self.token, name).await;
        let published = checkpoint_of_whole_log(base).await;
        audit_consistent(base, &self.state());
        mirror(base, &self.copy()).await;
        History {
            kept,
            before,
            lost,
            published,
        }
    }

    /// Re-entry from the mirror's copy of the public log (reaching `published`) brings the
    /// instance at `base` back by itself: ready, the `lost` award valid again, a new write
    /// checkpointed, the auditor consistent and no checkpoint beyond the log.
    async fn recovers_by_reentry(&self, base: &str, lost: &str, published: u64) {
        let said = reenter(&self.db, self.data.path(), &self.copy());
        assert!(
            said.contains(&format!("checkpoint at {published}")),
            "{said}"
        );
        readyz_becomes(base, 200, Duration::from_secs(10)).await;
        let (status, body) = verification(base, lost).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("valid")),
            "{body}"
        );
        issue(base, &self.token, "After Recovery Trust").await;
        assert!(checkpoint_of_whole_log(base).await > published);
        audit_consistent(base, &self.state());
        no_checkpoint_beyond_the_log(&self.db, self.data.path()).await;
    }
}

/// The sizes of the checkpoints stored in `db`.
async fn stored_checkpoint_sizes(db: &Db) -> Vec<u64> {
    let stored = open_store(db).await.checkpoints().await;
    stored
        .expect("checkpoints")
        .iter()
        .map(|c| c.size)
        .collect()
}

/// A restore older than a published checkpoint: the instance started on it is behind (writes
/// and award answers 503 with the code, `/readyz` 503 with the reason), signs nothing, and
/// recovers by re-entry from a mirror of the public log; the auditor holding the later
/// checkpoint then finds the registry consistent.
async fn restore_behind_a_published_checkpoint_recovers_by_reentry(backend: Backend) {
    let Some(drill) = Drill::new(backend).await else {
        return;
    };
    let (server, base) = drill.serve().await;
    let history = drill
        .backup_then_one_more_award(&base, "Lost Then Found Trust")
        .await;
    assert!(history.published > history.before);
    drop(server);

    restore(&drill.db, backend, &drill.saved());
    let (_server, base) = drill.serve().await;
    let (status, ready) = readyz(&base).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["reason"], BEHIND, "{ready}");
    refused_as_behind(try_write(&base, &drill.token).await);
    for number in [&history.lost, &history.kept] {
        refused_as_behind(verification(&base, number).await);
    }
    no_checkpoint_beyond_the_log(&drill.db, drill.data.path()).await;
    let stored = stored_checkpoint_sizes(&drill.db).await;
    assert!(
        stored.iter().all(|&size| size <= history.before),
        "a checkpoint was signed while behind: {stored:?}"
    );

    drill
        .recovers_by_reentry(&base, &history.lost, history.published)
        .await;
}

/// A database rolled back under a running instance (restored in place from an older backup):
/// within two seconds the instance is behind, answers 503 for the award the database lost and
/// for writes, and no checkpoint larger than the log is stored; re-entry brings it back.
async fn rollback_under_a_running_instance_is_noticed_within_two_seconds(backend: Backend) {
    let Some(drill) = Drill::new(backend).await else {
        return;
    };
    let (_server, base) = drill.serve().await;
    let History {
        lost, published, ..
    } = drill
        .backup_then_one_more_award(&base, "Rolled Back Trust")
        .await;
    assert_eq!(verification(&base, &lost).await.0, 200);

    restore(&drill.db, backend, &drill.saved());
    let rolled_back = Instant::now();
    let ready = readyz_becomes(&base, 503, Duration::from_secs(2)).await;
    let noticed = rolled_back.elapsed();
    assert_eq!(ready["reason"], BEHIND, "{ready}");
    eprintln!("the rollback was noticed in {noticed:?}");
    refused_as_behind(verification(&base, &lost).await);
    refused_as_behind(try_write(&base, &drill.token).await);
    // A few of the instance's seconds behind: it stores no checkpoint beyond the log.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    no_checkpoint_beyond_the_log(&drill.db, drill.data.path()).await;

    drill.recovers_by_reentry(&base, &lost, published).await;
}

on_both_databases!(backend:
    restore_behind_a_published_checkpoint_recovers_by_reentry,
    rollback_under_a_running_instance_is_noticed_within_two_seconds,
    changed_entry_is_found_at_start_up,
);

/// Changes the organisation's name in the entry that registered it (`from` to `to`, the same
/// length), past the append-only trigger; with `rehash`, also its leaf and chain hashes and the
/// log head's, as one who knows the format would, so that only the published root betrays it.
async fn change_entry(db: &Db, from: &str, to: &str, rehash: bool) {
    use sha2::{Digest, Sha256};
    let store = open_store(db).await;
    let events = store.read(0, 10_000).await.expect("the log");
    let target = events
        .iter()
        .find(|e| String::from_utf8_lossy(&e.payload).contains(from))
        .expect("the entry");
    assert_eq!(
        target.position,
        events.len() as u64 - 1,
        "the changed entry is the log's last"
    );
    let payload = String::from_utf8_lossy(&target.payload)
        .replace(from, to)
        .into_bytes();
    let (leaf, chain) = if rehash {
        let leaf = wexqs::store::leaf_hash(&payload);
        let previous = events
            .get(target.position as usize - 1)
            .map(|e| e.chain_hash.clone())
            .expect("an entry before");
        let chain = Sha256::new()
            .chain_update(&previous)
            .chain_update(&leaf)
            .finalize()
            .to_vec();
        (leaf, chain)
    } else {
        (target.leaf_hash.clone(), target.chain_hash.clone())
    };
    tamper::rewrite_event(&store, target.position, &payload, &leaf, &chain).await;
}

/// An entry changed in the database is found before the first answer: the instance starts
/// behind (not ready, awards and writes 503), whether the change left the stored hashes as they
/// were or recomputed them (then only the published root, kept outside the database, tells).
async fn changed_entry_is_found_at_start_up(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let data = temp_dir();
    let token = admin_token(&db, data.path(), "drill");
    let (server, base) = start_server(&db, data.path()).await;
    let mut server = KillOnDrop(server);
    let number = issue(&base, &token, "Honest Trust").await;
    // The organisation registered last, so its entry is the log's last.
    let org = Client::new(&base)
        .with_token(&token)
        .post_answer(
            "/v1/admin/organisations",
            &serde_json::json!({"name": "Genuine Name Trust", "region": "london"}),
        )
        .await
        .json();
    assert!(org["id"].is_string(), "{org}");
    checkpoint_of_whole_log(&base).await;
    let _ = server.0.kill();
    let _ = server.0.wait();

    for (rehash, said) in [
        (false, "does not match its stored leaf hash"),
        (true, "do not give the root of the published checkpoint"),
    ] {
        let (from, to) = if rehash {
            ("Forged Name Trust", "Forged Fame Trust")
        } else {
            ("Genuine Name Trust", "Forged Name Trust")
        };
        change_entry(&db, from, to, rehash).await;
        let (server, base) = start_server(&db, data.path()).await;
        let _server = KillOnDrop(server);
        let (status, ready) = readyz(&base).await;
        assert_eq!(
            (status, ready["reason"].as_str()),
            (503, Some(BEHIND)),
            "{ready}"
        );
        assert!(
            ready["detail"].as_str().is_some_and(|d| d.contains(said)),
            "{ready}"
        );
        refused_as_behind(verification(&base, &number).await);
        refused_as_behind(try_write(&base, &token).await);
    }
}

/// A checkpoint that cannot be recorded outside the database (the state folder gone) is not
/// published, and `/readyz` says so until it can be again.
async fn a_checkpoint_that_cannot_be_recorded_fails_readiness(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let (data, files) = (temp_dir(), temp_dir());
    let state_dir = files.path().join("state");
    let token = admin_token(&db, data.path(), "drill");
    crate::helpers::ensure_key(Some(&db.url), data.path());
    let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .arg("serve")
        .env("WEXQS_DATA_DIR", data.path())
        .env("WEXQS_STATE_DIR", &state_dir)
        .env("DATABASE_URL", &db.url);
    let (server, base) = crate::helpers::spawn_server(command);
    let _server = KillOnDrop(server);
    assert!(crate::helpers::answers_within(&base, Duration::from_secs(10)).await);
    issue(&base, &token, "Recorded Trust").await;
    let recorded = checkpoint_of_whole_log(&base).await;
    assert!(state_dir.join("published-checkpoint").exists());

    std::fs::remove_dir_all(&state_dir).expect("the state folder removed");
    issue(&base, &token, "Unrecorded Trust").await;
    let ready = readyz_becomes(&base, 503, Duration::from_secs(5)).await;
    assert_eq!(ready["reason"], "checkpoint_signing_failed", "{ready}");
    let stored = stored_checkpoint_sizes(&db).await;
    assert!(
        stored.iter().all(|&size| size <= recorded),
        "a checkpoint not recorded outside the database was published"
    );

    std::fs::create_dir_all(&state_dir).expect("the state folder back");
    readyz_becomes(&base, 200, Duration::from_secs(5)).await;
    assert!(checkpoint_of_whole_log(&base).await > recorded);
}

on_both_databases!(backend: a_checkpoint_that_cannot_be_recorded_fails_readiness);
