//! A server's life from start to exit, through real `wexqs` processes: SIGTERM with an idle
//! keep-alive client exits at once rather than after the framework's 30 s; during the drain
//! `/readyz` is 503 (`shutting_down`) and a slow request in flight finishes with
//! `Connection: close`; a drain that outlasts `--shutdown-timeout` ends anyway, saying what it
//! waited for; a stopping instance gives back its webhook leases so the next delivers at once.
//! Migrations as a deploy step: `--no-migrate` on a database not migrated refuses to start and
//! says what to run; a database a newer release migrated is refused with what it has, what this
//! release knows and what to do, unless the newer migrations are expansions; and on PostgreSQL
//! a service role with data rights only serves once the owner has run `wexqs migrate`.
//! `--version` names the commit.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::helpers::{
    Backend, Db, KillOnDrop, ServerLog, admin_token, ensure_key, fresh_db, spawn_server_logged,
    temp_dir, text,
};
use crate::webhooks::{award, subscribe};

/// A `wexqs serve` process whose log is kept, and where it listens (`host:port`).
struct Server {
    child: KillOnDrop,
    address: String,
    log: ServerLog,
}

impl Server {
    fn start(db: &Db, data_dir: &Path, extra: &[(&str, &str)]) -> Server {
        ensure_key(Some(&db.url), data_dir);
        Server::launch(db, data_dir, extra)
    }

    /// Starts a server on a registry that has its key already.
    fn launch(db: &Db, data_dir: &Path, extra: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
        command
            .arg("serve")
            .env("WEXQS_DATA_DIR", data_dir)
            .env("DATABASE_URL", &db.url)
            .env("WEXQS_RATE_LIMIT", "0")
            // One worker: a stop that comes while a second is still starting can end that
            // worker's connections without the graceful wait (actix-server; OPERATIONS.md,
            // "Upgrades and rollbacks").
            .env("WEXQS_WORKERS", "1")
            .env_remove("WEXQS_CALENDAR")
            .env_remove("WEXQS_SHUTDOWN_TIMEOUT")
            .env_remove("WEXQS_NO_MIGRATE");
        for (key, value) in extra {
            command.env(key, value);
        }
        Server::spawn(command)
    }

    fn spawn(command: Command) -> Server {
        let (child, base, log) = spawn_server_logged(command);
        Server {
            child: KillOnDrop(child),
            address: base.trim_start_matches("http://").to_owned(),
            log,
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.address)
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.address).expect("a connection");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits until a worker answers (the address is bound, and taking connections into its
    /// queue, before the workers have started).
    fn wait_until_serving(&self) {
        let mut stream = self.connect();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: registry\r\nconnection: close\r\n\r\n")
            .unwrap();
        let (head, _) = read_response(&mut stream);
        assert!(head.starts_with("http/1.1 200"), "{head}");
    }

    fn log_text(&self) -> String {
        self.log.lines().join("\n")
    }

    /// Waits until a log line holds `needle` (failing after `limit`).
    fn wait_for_log(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.log_text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?} within {limit:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the process to exit (failing after `limit`); how long it took.
    fn exited_within(&mut self, limit: Duration) -> (Duration, std::process::ExitStatus) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.0.try_wait().expect("the process is ours") {
                let took = started.elapsed();
                // The lines it wrote last (the log is written out at exit) are read in too.
                let deadline = Instant::now() + Duration::from_secs(10);
                while !self.log.has_ended() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return (took, status);
            }
            assert!(
                started.elapsed() < limit,
                "the server was still running {limit:?} after SIGTERM:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads one HTTP/1.1 response with a `content-length` from `stream`: its head and body.
fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("the answer's head");
        assert_eq!(n, 1, "the connection closed in the head: {}", text(&bytes));
        bytes.push(byte[0]);
    }
    let head = text(&bytes).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the answer's body");
    (head, text(&body))
}

/// Sends `POST /v1/verify` with a body of `length` bytes, waits for `100 Continue` (so the
/// server has the request and its handler is reading the body), then sends `first` of it.
fn begin_slow_body(stream: &mut TcpStream, length: usize, first: &[u8]) {
    write!(
        stream,
        "POST /v1/verify HTTP/1.1\r\nhost: registry\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nexpect: 100-continue\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "{}", text(&got));
        got.push(byte[0]);
    }
    assert!(got.starts_with(b"HTTP/1.1 100"), "{}", text(&got));
    stream.write_all(first).unwrap();
}

/// Whether the server closed `stream` (end of stream, or reset) within `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_an_idle_keep_alive_client_exits_at_once() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let mut server = Server::start(&db, dir.path(), &[]);
    // A keep-alive client that has had its answer and holds the connection open, as a proxy's
    // pool does.
    let mut idle = server.connect();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: registry\r\n\r\n")
        .unwrap();
    let (head, _) = read_response(&mut idle);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");

    server.terminate();
    // Default timeout 10 s; actix alone waited 30 s for this connection.
    let (took, status) = server.exited_within(Duration::from_secs(9));
    println!("exit after SIGTERM with an idle keep-alive client: {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(status.success(), "{status:?}\n{}", server.log_text());
    assert!(closed_within(&mut idle, Duration::from_secs(1)));
    assert!(
        server.log_text().contains("stopped"),
        "{}",
        server.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_drain_readyz_is_503_and_the_slow_request_in_flight_finishes() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let mut server = Server::start(&db, dir.path(), &[("WEXQS_SHUTDOWN_TIMEOUT", "30")]);
    server.wait_until_serving();
    // Arriving: a request whose head is on its way when the signal comes.
    let mut arriving = server.connect();
    arriving
        .write_all(b"GET /readyz HTTP/1.1\r\nhost: registry\r\n")
        .unwrap();
    // Idle: a connection that has sent nothing.
    let mut idle = server.connect();
    // In flight: a body that has begun to arrive, its handler reading it.
    let body = br#"{"credential": "not one, but a body all the same"}"#;
    let mut slow = server.connect();
    begin_slow_body(&mut slow, body.len(), &body[..10]);
    std::thread::sleep(Duration::from_millis(200));

    server.terminate();
    server.wait_for_log("shutting down: readiness is 503", Duration::from_secs(10));
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)),
        "an idle connection is closed at once"
    );
    // The listener closes as the accept thread stops, just after the drain begins.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(&server.address).is_ok() {
        assert!(Instant::now() < deadline, "new connections are still taken");
        std::thread::sleep(Duration::from_millis(20));
    }

    arriving.write_all(b"\r\n").unwrap();
    let (head, ready) = read_response(&mut arriving);
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["status"], "not_ready", "{ready}");
    assert_eq!(ready["reason"], "shutting_down", "{ready}");

    // The drain waits for the slow request, and says so.
    server.wait_for_log(
        "waiting for 1 connections open and 1 requests in flight",
        Duration::from_secs(10),
    );
    assert!(server.child.0.try_wait().unwrap().is_none());
    slow.write_all(&body[10..]).unwrap();
    let (head, answer) = read_response(&mut slow);
    assert!(
        head.starts_with("http/1.1 200") || head.starts_with("http/1.1 4"),
        "the request in flight is answered by its route: {head}{answer}"
    );
    assert!(answer.contains('{'), "{answer}");
    assert!(head.contains("connection: close"), "{head}");
    let (took, status) = server.exited_within(Duration::from_secs(10));
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_timeout_ends_a_drain_and_the_log_says_what_it_waited_for() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let mut server = Server::start(
        &db,
        dir.path(),
        &[
            ("WEXQS_SHUTDOWN_TIMEOUT", "3"),
            ("WEXQS_BODY_TIMEOUT_MS", "120000"),
        ],
    );
    server.wait_until_serving();
    // A body that never finishes arriving.
    let mut stuck = server.connect();
    begin_slow_body(&mut stuck, 100, b"{");
    let signalled = Instant::now();
    server.terminate();
    let (_, _) = server.exited_within(Duration::from_secs(8));
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(1_500) && took < Duration::from_millis(3_900),
        "exited {took:?} after SIGTERM with --shutdown-timeout 3\n{}",
        server.log_text()
    );
    let log = server.log_text();
    assert!(
        log.contains("waiting for 1 connections open and 1 requests in flight"),
        "{log}"
    );
    assert!(closed_within(&mut stuck, Duration::from_secs(2)));
}

/// A webhook receiver whose first connection is taken and never answered (a target that hangs)
/// and whose later ones are answered 204; the requests answered.
async fn hanging_then_answering_receiver() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let answered: Arc<AtomicUsize> = Arc::default();
    let counted = answered.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut hung = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            if hung.is_empty() {
                hung.push(stream);
                continue;
            }
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |n| n.trim().parse().unwrap_or(0));
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = stream
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, answered)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_instance_gives_back_its_webhook_leases_and_the_next_delivers_at_once() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let token = admin_token(&db, dir.path(), "lifecycle");
    // A delivery may take 30 s: its lease runs 35 s.
    let webhook_env = [
        ("WEXQS_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
        ("WEXQS_WEBHOOKS_TIMEOUT_MS", "30000"),
        ("WEXQS_SHUTDOWN_TIMEOUT", "5"),
    ];
    let mut first = Server::start(&db, dir.path(), &webhook_env);
    let admin = Client::new(&first.base()).with_token(&token);
    let (url, answered) = hanging_then_answering_receiver().await;
    subscribe(&admin, &url, &["award.issued"]).await;
    award(&admin, "Riverside Community Health").await;
    // The first instance is delivering (to the target that hangs) when it is stopped.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lease_held(&db).await {
        assert!(Instant::now() < deadline, "the delivery never began");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.terminate();
    first.exited_within(Duration::from_secs(10));
    assert!(
        first
            .log_text()
            .contains("released the leases of 1 webhook subscriptions"),
        "{}",
        first.log_text()
    );
    assert!(!lease_held(&db).await, "the lease is given back");

    let started = Instant::now();
    let _second = Server::start(&db, dir.path(), &webhook_env);
    let deadline = Instant::now() + Duration::from_secs(20);
    while answered.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the next instance did not deliver"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Well before the 35 s lease would have run out.
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Whether a webhook lease is held now.
async fn lease_held(db: &Db) -> bool {
    let store = crate::helpers::open_store(db).await;
    let wexqs::store::Store::Sqlite(sqlite) = &store else {
        unreachable!("a SQLite test")
    };
    let now = chrono::Utc::now().timestamp_millis();
    let (held,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM webhook_subscriptions WHERE lease_until > ?")
            .bind(now)
            .fetch_one(sqlite.pool())
            .await
            .unwrap();
    store.close().await;
    held > 0
}

fn wexqs_with(
    db: &Db,
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .args(args)
        .env("WEXQS_DATA_DIR", data_dir)
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .env_remove("WEXQS_NO_MIGRATE");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("wexqs runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_migrate_on_a_database_never_migrated_refuses_and_says_to_run_migrate() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    for (args, env) in [
        (
            &["serve", "--bind", "127.0.0.1:0", "--no-migrate"][..],
            &[][..],
        ),
        (&["keys", "list"][..], &[("WEXQS_NO_MIGRATE", "true")][..]),
        (&["log", "verify", "--no-migrate"][..], &[][..]),
    ] {
        let out = wexqs_with(&db, dir.path(), args, env);
        let said = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {said}");
        assert!(
            said.contains("the database's schema is not current")
                && said.contains("0001_log")
                && said.contains("run `wexqs migrate`"),
            "{args:?}: {said}"
        );
    }
    // Nothing was made: the deploy step makes it, and then the check passes.
    let out = wexqs_with(&db, dir.path(), &["migrate", "--no-migrate"], &[]);
    assert!(!out.status.success());
    let out = wexqs_with(&db, dir.path(), &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = wexqs_with(&db, dir.path(), &["migrate", "--no-migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("the schema is current"));
    let server = Server::start(&db, dir.path(), &[("WEXQS_NO_MIGRATE", "true")]);
    let ready = Client::new(&server.base()).get("/readyz").await;
    assert_eq!(ready.status(), 200);
}

/// Records in `db` (SQLite) a migration this release does not know, as a newer release would.
async fn record_newer_migration(db: &Db, version: i64, description: &str, sql: &str) {
    let store = crate::helpers::open_store(db).await;
    let wexqs::store::Store::Sqlite(sqlite) = &store else {
        unreachable!("a SQLite test")
    };
    sqlx::raw_sql(sql).execute(sqlite.pool()).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, ?, TRUE, X'00', 1)",
    )
    .bind(version)
    .bind(description)
    .execute(sqlite.pool())
    .await
    .unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_a_newer_release_migrated_is_refused_saying_what_to_do() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let out = wexqs_with(&db, dir.path(), &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    record_newer_migration(
        &db,
        9001,
        "contract drop old notes",
        "CREATE TABLE newer_notes (id INTEGER PRIMARY KEY)",
    )
    .await;
    for args in [&["migrate"][..], &["keys", "list"][..]] {
        let out = wexqs_with(&db, dir.path(), args, &[]);
        let said = text(&out.stderr);
        assert!(!out.status.success(), "{said}");
        assert!(
            said.contains("migrated by a newer release: it has schema version 9001")
                && said.contains("9001_contract_drop_old_notes")
                && said.contains("this release knows versions up to 9")
                && said.contains("deploy the newer release")
                && said.contains("restore the backup taken before the upgrade"),
            "{said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_release_runs_on_a_schema_expanded_by_a_newer_one() {
    let db = fresh_db(Backend::Sqlite).await.unwrap();
    let dir = temp_dir();
    let out = wexqs_with(&db, dir.path(), &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // What a newer release's `0010_expand_award_notes.sql` would have done: only add.
    record_newer_migration(
        &db,
        10,
        "expand award notes",
        "CREATE TABLE award_notes (certificate_number TEXT PRIMARY KEY, note TEXT)",
    )
    .await;
    for args in [&["migrate"][..], &["migrate", "--no-migrate"][..]] {
        let out = wexqs_with(&db, dir.path(), args, &[]);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let token = admin_token(&db, dir.path(), "expanded");
    let server = Server::start(&db, dir.path(), &[("WEXQS_NO_MIGRATE", "true")]);
    let admin = Client::new(&server.base()).with_token(&token);
    let number = award(&admin, "Riverside Community Health").await;
    let award = Client::new(&server.base())
        .get(&format!("/v1/awards/{number}"))
        .await;
    assert_eq!(award.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_role_with_data_rights_only_serves_after_the_owner_migrates() {
    use sqlx::Connection as _;
    let Some(db) = fresh_db(Backend::Postgres).await else {
        return;
    };
    let dir = temp_dir();
    // The deploy step, as the database's owner.
    let out = wexqs_with(&db, dir.path(), &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    ensure_key(Some(&db.url), dir.path());
    let token = admin_token(&db, dir.path(), "owner");

    let role = format!("wexqs_service_{}", std::process::id());
    let mut owner = sqlx::PgConnection::connect(&db.url).await.unwrap();
    for statement in [
        format!("DROP ROLE IF EXISTS {role}"),
        format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"),
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC".to_owned(),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(&statement).execute(&mut owner).await.unwrap();
    }
    let mut service_url = url::Url::parse(&db.url).unwrap();
    service_url.set_username(&role).unwrap();
    service_url.set_password(None).unwrap();
    let service_url = service_url.to_string();
    let service = Db {
        url: service_url.clone(),
        _dir: None,
    };
    // It may not migrate: without --no-migrate it cannot start.
    let out = wexqs_with(&service, dir.path(), &["migrate"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("permission denied"),
        "{}",
        text(&out.stderr)
    );
    // With --no-migrate it changes no schema: it checks, serves and writes.
    let server = Server::launch(&service, dir.path(), &[("WEXQS_NO_MIGRATE", "true")]);
    let ready = Client::new(&server.base()).get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let admin = Client::new(&server.base()).with_token(&token);
    let number = award(&admin, "Riverside Community Health").await;
    let award = Client::new(&server.base())
        .get(&format!("/v1/awards/{number}"))
        .await;
    assert_eq!(award.status(), 200);
    // The role really has data rights only.
    let mut as_service = sqlx::PgConnection::connect(&service_url).await.unwrap();
    let refused = sqlx::query("CREATE TABLE sneaky (id int)")
        .execute(&mut as_service)
        .await;
    assert!(
        refused.is_err(),
        "the service role may not change the schema"
    );
    let _ = as_service.close().await;
    drop(server);
    std::mem::forget(service); // the database is `db`'s to drop
    for statement in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        let _ = sqlx::query(&statement).execute(&mut owner).await;
    }
    let _ = owner.close().await;
}

#[test]
fn version_names_the_commit() {
    let out = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .arg("--version")
        .output()
        .expect("wexqs runs");
    assert!(out.status.success());
    let said = text(&out.stdout);
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| text(&o.stdout).trim().to_owned());
    let expected = std::env::var("WEXQS_BUILD_COMMIT")
        .ok()
        .or(commit)
        .unwrap_or_else(|| "unknown".to_owned());
    assert_eq!(
        said.trim(),
        format!("wexqs {} (commit {expected})", env!("CARGO_PKG_VERSION"))
    );
}
