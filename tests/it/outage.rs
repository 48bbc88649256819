//! Outages: with the database gone (PostgreSQL stopped, a SQLite file made read-only, its disk
//! full) every public read still answers from memory, quickly; writes are refused at once with a
//! 503 problem+json and `Retry-After`; and when the database returns, writes succeed again
//! without a restart. The time bounds are "does not hang" bounds, generous on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use wexqs::domain::Event;
use wexqs::store::{AppendRequest, EventStore, NewEvent, RegisterQuery, Store, check_log};

use crate::client::{Answer, Client};
use crate::helpers::{
    Backend, Db, KillOnDrop, admin_token, answers_within, free_port, fresh_db, on_both_databases,
    open_store, sqlite_app_with_award, start_registry, start_server, temp_dir,
};
use crate::throwaway_pg::ThrowawayPg;

/// How long any answer may take while the database is away: it must not wait on it.
const BOUND: Duration = Duration::from_millis(1500);

/// The public routes about one award and the registry, each a path.
fn public_routes(number: &str, name_query: &str) -> Vec<String> {
    vec![
        format!("/v1/awards/{number}/verification"),
        format!("/v1/awards/{number}"),
        format!("/v1/register?q={name_query}"),
        format!("/v1/register?status=valid&level=gold"),
        format!("/?q={name_query}"),
        format!("/verify/{number}"),
        format!("/v1/awards/{number}/badge.svg"),
        format!("/v1/awards/{number}/credential"),
        format!("/v1/awards/{number}/certificate.pdf"),
        format!("/v1/awards/{number}/qr.png"),
        "/v1/log/checkpoint".to_owned(),
        "/v1/log/proofs/inclusion?index=0".to_owned(),
        "/.well-known/did.json".to_owned(),
        "/v1/status-lists/1".to_owned(),
        "/v1/programme".to_owned(),
        "/v1/feed.atom".to_owned(),
        "/v1/exports/register.csv".to_owned(),
        "/v1/exports/register.json".to_owned(),
        "/healthz".to_owned(),
    ]
}

/// The answers of the public routes, to compare with the same answers during an outage. The
/// verification answer says when it was checked: that line is left out.
async fn public_answers(client: &Client, routes: &[String]) -> Vec<Answer> {
    let mut answers = Vec::new();
    for path in routes {
        let mut answer = client.get_answer(path).await;
        if path.ends_with("/verification") && answer.status == 200 {
            let mut body = answer.json();
            body.as_object_mut().map(|o| o.remove("checked_at"));
            answer.body = body.to_string().into_bytes();
        }
        answers.push(answer);
    }
    answers
}

/// Reads go on while the database is away: the same answers as before, each within the bound.
async fn assert_reads_go_on(client: &Client, routes: &[String], before: &[Answer]) {
    let during = public_answers(client, routes).await;
    for ((path, was), now) in routes.iter().zip(before).zip(&during) {
        eprintln!("outage: GET {path} -> {} in {:?}", now.status, now.took);
        assert_eq!(was.status, 200, "{path} answered before the outage");
        assert_eq!(now.status, 200, "{path} answers during the outage");
        assert!(now.took < BOUND, "{path} took {:?}", now.took);
        assert!(
            now.body == was.body,
            "{path} gives the same answer during the outage"
        );
    }
}

/// A write refused for the outage: 503 problem+json, code `database_unavailable`, a reason and
/// `Retry-After`, within the bound.
fn assert_refused(answer: &Answer, what: &str, reason: &str) {
    assert_refused_for(answer, what, &[reason]);
}

/// `assert_refused`, for a fault SQLite may name in more than one way.
fn assert_refused_for(answer: &Answer, what: &str, reasons: &[&str]) {
    eprintln!("outage: {what} -> {} in {:?}", answer.status, answer.took);
    assert_eq!(
        answer.status,
        503,
        "{what}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(answer.took < BOUND, "{what} took {:?}", answer.took);
    assert_eq!(answer.content_type(), "application/problem+json", "{what}");
    let body = answer.json();
    assert_eq!(body["code"], "database_unavailable", "{what}: {body}");
    assert!(
        reasons.iter().any(|r| body["reason"] == *r),
        "{what}: {body} (expected one of {reasons:?})"
    );
    let retry: u64 = answer
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&retry), "{what}: Retry-After {retry}");
}

/// Waits until the server has signed a checkpoint of its whole log (it does every second).
async fn wait_for_checkpoint(client: &Client) {
    for _ in 0..100 {
        let ready = client.get_answer("/readyz").await.json();
        let checkpoint = client.get_answer("/v1/log/checkpoint").await;
        if checkpoint.status == 200 {
            let note = String::from_utf8_lossy(&checkpoint.body).into_owned();
            let size = note.lines().nth(1).and_then(|s| s.parse::<u64>().ok());
            if size.is_some() && size == ready["log_size"].as_u64() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no checkpoint of the whole log was signed");
}

/// Once the database is back, writes succeed again within seconds, without a restart: an
/// organisation, then its award, found in the register; and the registry is ready again.
async fn writes_recover_without_a_restart(client: &Client, admin: &Client) {
    let started = Instant::now();
    let recovered = loop {
        let write = admin
            .post_answer(
                "/v1/admin/organisations",
                &json!({"name": "Written After The Outage Trust", "region": "london"}),
            )
            .await;
        if write.status == 201 {
            break write;
        }
        assert_eq!(
            write.status,
            503,
            "{}",
            String::from_utf8_lossy(&write.body)
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "writes succeed again once PostgreSQL is back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "outage: writes succeed {:?} after PostgreSQL started",
        started.elapsed()
    );
    let id = recovered.json()["id"].as_str().expect("an id").to_owned();
    let award = admin
        .post_answer(
            "/v1/admin/awards",
            &json!({"organisation_id": id, "level": "silver", "awarded_on": "2025-07-01"}),
        )
        .await;
    assert_eq!(award.status, 201);
    let found = client.get_answer("/v1/register?q=written+after").await;
    assert_eq!(found.json()["total"], 1, "the new award is in the register");
    let ready = client.get_answer("/readyz").await;
    assert_eq!(ready.status, 200, "ready again without a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgresql_stopped_reads_answer_from_memory_writes_fail_fast_and_all_recovers() {
    let Some(pg) = ThrowawayPg::start() else {
        return;
    };
    let db = Db {
        url: pg.url(),
        _dir: None,
    };
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "outage");
    let (server, base) = start_server(&db, dir.path()).await;
    let _server = KillOnDrop(server);
    let client = Client::new(&base);
    let admin = client.with_token(&token);
    let (_, number) = admin
        .organisation_with_award("Saint Outage Hospital", "gold", "2025-06-01")
        .await;
    // A signed credential's text is read from the log when first asked for, and kept a while:
    // one nobody asked for before the outage cannot be read during it.
    let (_, unread) = admin
        .organisation_with_award("Saint Unread Hospital", "silver", "2025-06-01")
        .await;
    wait_for_checkpoint(&client).await;
    let routes = public_routes(&number, "saint+outage");
    let before = public_answers(&client, &routes).await;

    pg.stop_immediately();
    assert_reads_go_on(&client, &routes, &before).await;
    for path in [
        format!("/v1/awards/{unread}/credential"),
        format!("/v1/awards/{unread}/logo.png"),
    ] {
        let answer = client.get_answer(&path).await;
        assert_refused(&answer, &format!("GET {path}"), "unreachable");
    }
    let verification = client
        .get_answer(&format!("/v1/awards/{unread}/verification"))
        .await;
    assert_eq!(
        verification.status, 200,
        "its verification answers from memory"
    );
    let write = admin
        .post_answer(
            "/v1/admin/organisations",
            &json!({"name": "Written During The Outage Trust", "region": "london"}),
        )
        .await;
    assert_refused(&write, "registering an organisation", "unreachable");
    let award = Client::answer(
        admin
            .request(
                reqwest::Method::POST,
                &format!("/v1/admin/awards/{number}/suspend"),
            )
            .json(&json!({"reason": "Under review"}))
            // Any version: the write is refused for the outage before the version is compared.
            .header("If-Match", "\"0\""),
    )
    .await;
    assert_refused(&award, "suspending an award", "unreachable");
    let ready = client.get_answer("/readyz").await;
    eprintln!(
        "outage: GET /readyz -> {} in {:?}",
        ready.status, ready.took
    );
    assert_eq!(ready.status, 503);
    assert!(ready.took < BOUND, "/readyz took {:?}", ready.took);
    let ready = ready.json();
    assert_eq!(ready["status"], "not_ready", "{ready}");
    assert_eq!(ready["reason"], "unreachable", "{ready}");
    assert!(
        ready["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cannot be reached") || d.contains("did not answer")),
        "{ready}"
    );
    // Still answering from memory a while into the outage (the background task keeps trying).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_reads_go_on(&client, &routes, &before).await;

    pg.start_again();
    writes_recover_without_a_restart(&client, &admin).await;
    let credential = client
        .get_answer(&format!("/v1/awards/{unread}/credential"))
        .await;
    assert_eq!(credential.status, 200, "read once the database is back");

    let store = open_store(&db).await;
    let check = check_log(&store, |_| {}).await.expect("checked");
    assert_eq!(check.problem, None, "the log holds after the outage");
}

/// Sets or clears the immutable attribute: even root cannot write to an immutable file, which
/// is how these tests take writes away from a SQLite database under a running registry.
fn immutable(path: &Path, on: bool) {
    let status = Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(path)
        .status()
        .expect("chattr runs");
    assert!(status.success(), "chattr on {}", path.display());
}

/// Clears the immutable attributes it set, however the test ends (an immutable file could not
/// be deleted with its temporary folder).
struct Immutable(Vec<PathBuf>);

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_made_read_only_refuses_writes_clearly_and_keeps_answering_reads() {
    // The tests run as root, which file permissions do not stop; the immutable attribute
    // (chattr +i) stops root too, on the database and its write-ahead log while they are open.
    let (app, number) =
        sqlite_app_with_award("Saint Readonly Hospital", None, "gold", "2025-06-01").await;
    app.registry.checkpoint().await.expect("a checkpoint");
    let client = app.api.clone();
    let admin = app.as_admin();
    let routes = public_routes(&number, "saint+readonly");
    let before = public_answers(&client, &routes).await;
    let folder = app._db._dir.as_ref().expect("a folder").path().to_owned();
    let files: Vec<PathBuf> = ["registry.db", "registry.db-wal"]
        .iter()
        .map(|f| folder.join(f))
        .collect();
    let size_before = app.registry.size();
    let guard = Immutable(files.clone());
    for f in &files {
        immutable(f, true);
    }

    assert_reads_go_on(&client, &routes, &before).await;
    let write = admin
        .post_answer(
            "/v1/admin/organisations",
            &json!({"name": "Never Written Trust", "region": "london"}),
        )
        .await;
    // SQLite reports a write the file refuses as a disk I/O error, or, when it notices first
    // that it cannot open the file for writing, as a read-only database: both are this fault.
    let read_only = ["io_error", "read_only"];
    assert_refused_for(&write, "a write to a read-only database", &read_only);
    let path = format!("/v1/admin/awards/{number}/suspend");
    let tag = app.etag_for_change(&path).await.expect("the award's ETag");
    let suspend = Client::answer(
        admin
            .request(reqwest::Method::POST, &path)
            .json(&json!({"reason": "Under review"}))
            .header("If-Match", tag),
    )
    .await;
    assert_refused_for(&suspend, "a suspension", &read_only);
    assert_eq!(app.registry.size(), size_before, "nothing was applied");

    for f in &files {
        immutable(f, false);
    }
    drop(guard);
    // Writes come back by themselves, without a restart, once SQLite's connections see the file
    // writable again (a connection that met the fault is replaced by the pool).
    let mut recovered = false;
    for _ in 0..50 {
        let probe = admin
            .post_answer(
                "/v1/admin/organisations",
                &json!({"name": "Written Afterwards Trust", "region": "london"}),
            )
            .await;
        if probe.status == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "writes recover within five seconds, without a restart"
    );
    let after = app
        .organisation("Also Written Afterwards Trust", None)
        .await;
    app.award(&after, "silver", "2025-07-01").await;
    assert_nothing_half_written(
        wexqs::testing::store(&app.registry),
        &["Never Written Trust"],
    )
    .await;
}

/// The log verifies, the projections equal a replay, and no refused write left a trace.
async fn assert_nothing_half_written(store: &wexqs::store::Store, absent: &[&str]) {
    let check = check_log(store, |_| {}).await.expect("checked");
    assert_eq!(check.problem, None, "the hash chain holds");
    let state = wexqs::service::fold_log(store, |_| {})
        .await
        .expect("replayed");
    assert_eq!(
        store.projections().await.expect("rows"),
        wexqs::projection::all_rows(&state),
        "the projections agree with the log"
    );
    for name in absent {
        assert!(
            !state
                .organisations
                .values()
                .any(|o| o.name.as_str() == *name),
            "{name} was refused and is not in the log"
        );
    }
}

/// A path inside the mount namespace of process `pid` (its private tmpfs).
fn inside(pid: u32, path: &Path) -> PathBuf {
    Path::new(&format!("/proc/{pid}/root")).join(path.strip_prefix("/").unwrap_or(path))
}

/// Fills the filesystem holding `file` until it has no space left.
fn fill(file: &Path) {
    use std::io::Write;
    let mut out = std::fs::File::create(file).expect("a filler file");
    let block = vec![0u8; 64 * 1024];
    loop {
        match out.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    let _ = out.sync_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_on_a_full_disk_refuses_writes_clearly_and_keeps_answering_reads() {
    // A real full disk: the server runs in its own mount namespace (`unshare -m`) with its data
    // folder on a small tmpfs, which the test then fills through /proc/PID/root. Nothing
    // outside that process sees the mount, and it goes with the process.
    let outer = temp_dir();
    let data = outer.path().join("data");
    std::fs::create_dir(&data).expect("a data folder");
    let token_file = outer.path().join("token");
    let port = free_port();
    let script = format!(
        "set -e; mount -t tmpfs -o size=16m wexqs-full \"$1\"; \
         \"$2\" keys init > /dev/null; \
         \"$2\" tokens create --role admin --name full > \"$3\"; \
         exec \"$2\" serve --bind 127.0.0.1:{port} --rate-limit 0"
    );
    let child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(&data)
        .arg(env!("CARGO_BIN_EXE_wexqs"))
        .arg(&token_file)
        .env("WEXQS_DATA_DIR", &data)
        .env_remove("DATABASE_URL")
        .env_remove("WEXQS_CALENDAR")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unshare runs");
    let pid = child.id();
    let _server = KillOnDrop(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = Client::new(&base);
    let up = answers_within(&base, Duration::from_secs(15)).await;
    assert!(
        up,
        "the server came up on a tmpfs in its own mount namespace (needs root and unshare)"
    );
    let token = std::fs::read_to_string(&token_file)
        .expect("the token")
        .trim()
        .to_owned();
    let admin = client.with_token(&token);
    let (_, number) = admin
        .organisation_with_award("Saint Fullness Hospital", "gold", "2025-06-01")
        .await;
    wait_for_checkpoint(&client).await;
    let routes = public_routes(&number, "saint+fullness");
    let before = public_answers(&client, &routes).await;

    let filler = inside(pid, &data.join("filler"));
    fill(&filler);
    assert_reads_go_on(&client, &routes, &before).await;
    let mut refused = 0;
    for i in 0..3 {
        let write = admin
            .post_answer(
                "/v1/admin/organisations",
                &json!({"name": format!("Never Written Trust {i}"), "region": "london"}),
            )
            .await;
        assert_refused(&write, "a write to a full disk", "full");
        refused += 1;
    }
    assert_eq!(refused, 3);

    std::fs::remove_file(&filler).expect("space again");
    admin
        .organisation_with_award("Written Afterwards Trust", "gold", "2025-06-01")
        .await;
    let db = Db {
        url: format!(
            "sqlite://{}",
            inside(pid, &data.join("registry.db")).display()
        ),
        _dir: None,
    };
    let store = open_store(&db).await;
    assert_nothing_half_written(
        &store,
        &[
            "Never Written Trust 0",
            "Never Written Trust 1",
            "Never Written Trust 2",
        ],
    )
    .await;
}

/// SQLite undoes a whole transaction by itself when its COMMIT fails (a full disk, a failed
/// write), so the `ROLLBACK` that follows finds none. A connection left so (sqlx counting a
/// transaction that SQLite no longer has) must never be used again: on it the next transaction
/// would open with `SAVEPOINT` instead of `BEGIN`, the one after would run inside a transaction
/// that never commits, and its "commit" (a `RELEASE` of a nested savepoint) would answer success
/// for a write that no other connection sees and that is lost. Here a commit hook refuses every
/// commit, which SQLite handles as it does a COMMIT the disk refused: every append is then either
/// refused or, if acknowledged, really in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_whose_commit_sqlite_undid_is_refused_and_never_acknowledged_later() {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    let store = open_store(&db).await;
    let Store::Sqlite(sqlite) = &store else {
        panic!("a SQLite store");
    };
    // Every connection the pool may hand out, each refusing its commits.
    let pool = sqlite.pool();
    let mut connections = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        let mut connection = pool.acquire().await.expect("a connection");
        connection
            .lock_handle()
            .await
            .expect("the handle")
            .set_commit_hook(|| false);
        connections.push(connection);
    }
    drop(connections);
    let other = Store::open(&db.url)
        .await
        .expect("a second store on the file");

    let mut refused = 0;
    // Enough appends for every connection to take three: before the fix, each connection's
    // third append was acknowledged and never committed.
    for i in 0..3 * pool.options().get_max_connections() + 1 {
        let request = AppendRequest {
            events: vec![NewEvent::new(
                Event::ApiTokenRevoked {
                    token_id: format!("refused-{i}"),
                },
                uuid::Uuid::new_v4(),
                "2026-11-24T12:00:00Z".into(),
                "test".into(),
            )],
            ..AppendRequest::default()
        };
        let event_id = request.events[0].event_id;
        let result = store.append_batch(vec![request]).await;
        let in_the_log = other
            .read(0, 1_000)
            .await
            .expect("the log")
            .iter()
            .any(|e| e.event_id == event_id);
        match result.map(|mut r| r.pop().expect("one result")) {
            Ok(Ok(appended)) => assert!(
                in_the_log,
                "append {i} was acknowledged at position {} but is not in the log",
                appended.events[0].position
            ),
            Ok(Err(e)) | Err(e) => {
                assert!(!in_the_log, "append {i} was refused ({e}) yet written");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the commit hook refused commits");
    let size = other.head().await.expect("the head").size;
    assert_eq!(
        store.head().await.expect("the head").size,
        size,
        "both connections see the same log"
    );
    let check = check_log(&other, |_| {}).await.expect("checked");
    assert_eq!(check.problem, None, "the log holds");
}

/// Queries covering every filter, text matches of each kind, and pages.
fn register_queries(today: &str, some_number: &str, some_ods: &str) -> Vec<RegisterQuery> {
    let mut queries = Vec::new();
    let texts: Vec<(Option<&str>, Option<&str>, Option<&str>)> = vec![
        (None, None, None),
        (Some("saint"), None, None),
        (Some("hospital"), None, None),
        (Some("community health"), None, None),
        (Some("zzz nothing"), None, None),
        (None, Some(some_ods), None),
        (Some("x"), Some(some_ods), Some(some_number)),
        (None, None, Some(some_number)),
    ];
    for (key, ods, number) in texts {
        for status in [
            None,
            Some("valid"),
            Some("expired"),
            Some("suspended"),
            Some("not_yet_valid"),
            Some("revoked"),
            Some("superseded"),
        ] {
            for (level, region) in [
                (None, None),
                (Some("gold"), None),
                (None, Some("london")),
                (Some("bronze"), Some("midlands")),
            ] {
                for (limit, offset) in [(20, 0), (5, 5), (100, 0)] {
                    queries.push(RegisterQuery {
                        search_key: key.map(str::to_owned),
                        ods_code: ods.map(str::to_owned),
                        compact_number: number.map(str::to_owned),
                        level: level.map(str::to_owned),
                        region: region.map(str::to_owned),
                        status: status.map(str::to_owned),
                        today: today.to_owned(),
                        limit,
                        offset,
                    });
                }
            }
        }
    }
    queries
}

async fn the_register_search_from_memory_equals_the_sql_search(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let store = open_store(&db).await;
    let clock = std::sync::Arc::new(wexqs::service::FixedClock::new(crate::helpers::at(
        2026, 11, 24,
    )));
    let registry = start_registry(&db, clock, 7).await;
    wexqs::service::demo::load(&registry)
        .await
        .expect("the demo register");
    let (_, awards) = store.projections().await.expect("rows");
    let sample = awards
        .iter()
        .find(|a| a.ods_code.is_some())
        .expect("an award with an ODS code");
    for today in ["2024-01-01", "2026-11-24", "2028-06-30"] {
        for query in register_queries(
            today,
            &sample.compact_number,
            sample.ods_code.as_deref().unwrap_or_default(),
        ) {
            let (sql_rows, sql_total) = store.search(&query).await.expect("searched");
            let (memory_rows, memory_total) = registry.search(query.clone());
            let memory_rows: Vec<_> = memory_rows.into_iter().map(|(row, _)| row).collect();
            assert_eq!(memory_total, sql_total, "{query:?}");
            assert_eq!(memory_rows, sql_rows, "{query:?}");
        }
    }
}

on_both_databases!(backend: the_register_search_from_memory_equals_the_sql_search);
