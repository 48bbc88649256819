//! Test helpers, each defined once: fresh databases (a SQLite file in a temporary folder, or a
//! new PostgreSQL database per test) and `on_both_databases!`, which runs a test on each;
//! `start_registry` and `spawn_app`, which start a registry through `startup` as `wexqs serve`
//! does (with a fixed clock) and serve it on a random port; and the command line as a real
//! process (`wexqs`, `start_server`, `admin_token`), with what waits for and reads its answers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use wexqs::http::{AppState, serve};
use wexqs::service::{Actor, FixedClock, Registry, Role, seeded_rng};
use wexqs::startup::{self, Config, Pooling};
use wexqs::store::Store;

use crate::client::Client;

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database and whatever keeps it alive.
pub(crate) struct Db {
    pub url: String,
    pub _dir: Option<tempfile::TempDir>,
}

/// A test's PostgreSQL database goes when the test ends, however it ends (the leftover sweep in
/// `fresh_db` catches those of a process that was killed).
impl Drop for Db {
    fn drop(&mut self) {
        let Some((_, name)) = self.url.rsplit_once('/') else {
            return;
        };
        if !self.url.starts_with("postgres") || !name.starts_with("wexqs_test_") {
            return;
        }
        let name = name.to_owned();
        // Its own thread and runtime: a Drop may run inside the test's runtime, which must not
        // be blocked on.
        let dropped = std::thread::spawn(move || {
            use sqlx::Connection;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropped.join();
    }
}

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn pg_admin_url() -> String {
    std::env::var("WEXQS_TEST_PG").unwrap_or_else(|_| PG_ADMIN_URL.to_owned())
}

pub(crate) fn skip_postgres() -> bool {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    !in_ci && std::env::var("WEXQS_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static CLEANED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Drops the test databases of earlier test runs whose process has ended.
async fn drop_leftovers(conn: &mut sqlx::PgConnection) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'wexqs_test_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let pid = name.split('_').nth(2).unwrap_or_default();
        if pid != std::process::id().to_string() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *conn)
                .await;
        }
    }
}

/// A fresh database. PostgreSQL must be reachable: an unreachable server fails the test, with
/// how to fix it. Outside CI, `WEXQS_SKIP_POSTGRES=1` deliberately runs the SQLite half alone;
/// in CI (`CI=true`) that switch is ignored.
pub(crate) async fn fresh_db(backend: Backend) -> Option<Db> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let url = format!("sqlite://{}", dir.path().join("registry.db").display());
            Some(Db {
                url,
                _dir: Some(dir),
            })
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let admin = pg_admin_url();
            let mut conn = match sqlx::PgConnection::connect(&admin).await {
                Ok(c) => c,
                Err(_) if skip_postgres() => return None,
                Err(e) => panic!(
                    "PostgreSQL is not reachable at {admin}: {e}. Start it (README, 'Tests'), point \
                     WEXQS_TEST_PG at one, or set WEXQS_SKIP_POSTGRES=1 to run only the SQLite half \
                     (not in CI)."
                ),
            };
            if !CLEANED.swap(true, Ordering::SeqCst) {
                drop_leftovers(&mut conn).await;
            }
            let name = format!(
                "wexqs_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                Utc::now().timestamp_micros()
            );
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create a test database");
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            Some(Db {
                url: format!("{base}/{name}"),
                _dir: None,
            })
        }
    }
}

/// A port nothing listens on just now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts `command` (a `wexqs serve …` without `--bind`) on a port the system chooses, and
/// returns the process and its base URL once the server logs the address it listens on. Picking
/// a free port first and passing it on races with the other tests doing the same: the loser
/// would find the winner's server answering on "its" port and test the wrong registry.
pub(crate) fn spawn_server(command: std::process::Command) -> (std::process::Child, String) {
    let (child, base, _) = spawn_server_logged(command);
    (child, base)
}

/// What a server process writes to standard error, kept line by line as it writes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerLog {
    lines: Arc<std::sync::Mutex<Vec<String>>>,
    ended: Arc<std::sync::atomic::AtomicBool>,
}

impl ServerLog {
    /// The lines written so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("the log's lock").clone()
    }

    /// Waits (up to `limit`) for a line `wanted` accepts; the line.
    pub(crate) async fn wait_for(
        &self,
        limit: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| wanted(l)) {
                return Some(line);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the process has closed its standard error: every line is in.
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Waits (up to `limit`) until the process has closed its standard error: every line is in.
    pub(crate) async fn wait_ended(&self, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while !self.ended.load(Ordering::Acquire) {
            if std::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// `spawn_server`, keeping everything the server writes to standard error.
pub(crate) fn spawn_server_logged(
    mut command: std::process::Command,
) -> (std::process::Child, String, ServerLog) {
    use std::io::BufRead as _;
    let mut child = command
        .args(["--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the server starts");
    let stderr = child.stderr.take().expect("its log");
    let (tx, rx) = std::sync::mpsc::channel();
    let log = ServerLog::default();
    let kept = log.clone();
    std::thread::spawn(move || {
        // Reads the whole log, so the server never blocks on a full pipe.
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split("serving the registry on ").nth(1) {
                let base = rest.split_whitespace().next().unwrap_or_default();
                let _ = tx.send(base.to_owned());
            }
            kept.lines.lock().expect("the log's lock").push(line);
        }
        kept.ended.store(true, Ordering::Release);
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(base) => (child, base, log),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not say where it listens");
        }
    }
}

/// Sends SIGTERM to `child` and waits for it to end (up to `limit`): whether it did.
pub(crate) fn terminate(child: &mut std::process::Child, limit: Duration) -> bool {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Few connections a test, and a patient pool: the suite runs many databases on one server, on
/// a busy machine.
const TEST_POOLING: Pooling = Pooling {
    max_connections: 4,
    acquire_timeout: Duration::from_secs(30),
};

pub(crate) async fn open_store(db: &Db) -> Store {
    Store::open_pooled(&db.url, TEST_POOLING)
        .await
        .expect("open the store")
}

/// A registry on `db`, started through `startup` as `wexqs serve` starts one, with the shipped
/// calendar, `clock` and a random source seeded with `seed`.
pub(crate) async fn start_registry(db: &Db, clock: Arc<FixedClock>, seed: u64) -> Arc<Registry> {
    let calendar = startup::read_calendar(None).expect("the shipped calendar parses");
    let config = Config::new(db.url.clone(), calendar)
        .with_pooling(TEST_POOLING)
        .with_clock(clock)
        .with_rng(seeded_rng(seed));
    startup::start(config).await.expect("start the registry")
}

/// Runs each test body named on SQLite and on PostgreSQL, as `NAME::on_sqlite` and
/// `NAME::on_postgres`. The body takes what is named before the colon:
/// - `backend`: the `Backend`, to make its own database or servers of;
/// - `store`: a `Store` on a fresh database;
/// - `app`: a `TestApp` (`spawn_app`).
///
/// The PostgreSQL half fails when PostgreSQL is unreachable; only `WEXQS_SKIP_POSTGRES=1`,
/// outside CI, skips it (`fresh_db`).
macro_rules! on_both_databases {
    ($given:ident: $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    $crate::helpers::on_both_databases!(@run $given, super::$name, $crate::helpers::Backend::Sqlite);
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    $crate::helpers::on_both_databases!(@run $given, super::$name, $crate::helpers::Backend::Postgres);
                }
            }
        )+
    };
    (@run backend, $test:path, $backend:expr) => {
        $test($backend).await
    };
    (@run store, $test:path, $backend:expr) => {
        if let Some(db) = $crate::helpers::fresh_db($backend).await {
            $test($crate::helpers::open_store(&db).await).await;
        }
    };
    (@run app, $test:path, $backend:expr) => {
        if let Some(app) = $crate::helpers::spawn_app($backend).await {
            $test(app).await;
        }
    };
}
pub(crate) use on_both_databases;

pub(crate) fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .expect("a valid test time")
}

pub(crate) fn date(s: &str) -> chrono::NaiveDate {
    s.parse().expect("a valid test date")
}

/// A registry served over real HTTP on a random port. It is an anonymous `Client` of itself
/// (`app.get(…)`); `as_admin` and `as_reviewer` call it with a token.
pub(crate) struct TestApp {
    pub api: Client,
    pub registry: Arc<Registry>,
    pub clock: Arc<FixedClock>,
    pub admin: String,
    pub reviewer: String,
    /// The connections the server holds open.
    pub connections: Arc<wexqs::http::transport::Connections>,
    pub _db: Db,
}

impl std::ops::Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.api
    }
}

pub(crate) async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_limited(backend, 0).await
}

/// A served registry whose public routes allow `rate_limit` requests a second per address.
pub(crate) async fn spawn_app_limited(backend: Backend, rate_limit: u32) -> Option<TestApp> {
    spawn_app_bounded(backend, rate_limit, wexqs::limits::Limits::one_address()).await
}

/// A served registry bounded by `limits` (connections, bodies, failed admin attempts).
pub(crate) async fn spawn_app_bounded(
    backend: Backend,
    rate_limit: u32,
    limits: wexqs::limits::Limits,
) -> Option<TestApp> {
    spawn_app_with(backend, move |state, _| {
        state.with_rate_limit(rate_limit).with_limits(limits)
    })
    .await
}

/// A served registry whose state `configure` finishes (given the state and the public URL).
pub(crate) async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(AppState, &str) -> AppState,
) -> Option<TestApp> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    spawn_app_on(backend, listener, configure).await
}

/// A served registry on `listener`, its state as `configure` finishes it (given the state and
/// the public URL): for a test that must know the address before the server starts.
pub(crate) async fn spawn_app_on(
    backend: Backend,
    listener: std::net::TcpListener,
    configure: impl FnOnce(AppState, &str) -> AppState,
) -> Option<TestApp> {
    let db = fresh_db(backend).await?;
    let clock = Arc::new(FixedClock::new(at(2026, 11, 24)));
    let seed = COUNTER.fetch_add(1, Ordering::SeqCst) + 1000;
    let registry = start_registry(&db, clock.clone(), seed).await;
    let (_, admin) = registry
        .create_token(&Actor::cli(), "test admin", Role::Admin)
        .await
        .expect("an admin token");
    let (_, reviewer) = registry
        .create_token(&Actor::cli(), "test reviewer", Role::Reviewer)
        .await
        .expect("a reviewer token");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed as u8; 32]);
    let address = base.parse().expect("the base URL is an address");
    startup::sign_with_key(&registry, key, &address)
        .await
        .expect("the key is published");
    let state = configure(AppState::new(registry.clone(), &base), &base);
    let connections = state.connections.clone();
    tokio::spawn(serve(listener, state, 2, std::future::pending()));
    Some(TestApp {
        connections,
        api: Client::new(&base),
        registry,
        clock,
        admin,
        reviewer,
        _db: db,
    })
}

impl TestApp {
    /// This server, called with the admin token.
    pub(crate) fn as_admin(&self) -> Client {
        self.api.with_token(&self.admin)
    }

    /// This server, called with the reviewer token.
    pub(crate) fn as_reviewer(&self) -> Client {
        self.api.with_token(&self.reviewer)
    }

    /// An admin POST; a change of an existing award states the version it read, as the registry
    /// requires (`If-Match` with the ETag of the award's record, read just before).
    pub(crate) async fn admin_post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        let mut request = self
            .as_admin()
            .request(reqwest::Method::POST, path)
            .json(&body);
        if let Some(tag) = self.etag_for_change(path).await {
            request = request.header("If-Match", tag);
        }
        Client::send(request).await
    }

    /// The ETag of the award a change at `path` (`/v1/admin/awards/{n}/{action}`) is about.
    pub(crate) async fn etag_for_change(&self, path: &str) -> Option<String> {
        let rest = path.strip_prefix("/v1/admin/awards/")?;
        let (number, action) = rest.split_once('/')?;
        if !["suspend", "reinstate", "revoke", "amend"].contains(&action) {
            return None;
        }
        let record = self.get(&format!("/v1/awards/{number}")).await;
        let tag = record.headers().get("etag")?.to_str().ok()?;
        Some(tag.to_owned())
    }

    /// Registers an organisation and returns its id.
    pub(crate) async fn organisation(&self, name: &str, ods: Option<&str>) -> String {
        self.as_admin().organisation(name, ods).await
    }

    /// Issues an award and returns its certificate number.
    pub(crate) async fn award(
        &self,
        organisation_id: &str,
        level: &str,
        awarded_on: &str,
    ) -> String {
        self.as_admin()
            .award(organisation_id, level, awarded_on)
            .await
    }

    pub(crate) async fn verification(&self, number: &str, at: Option<&str>) -> serde_json::Value {
        let path = match at {
            Some(d) => format!("/v1/awards/{number}/verification?at={d}"),
            None => format!("/v1/awards/{number}/verification"),
        };
        let response = self.get(&path).await;
        assert_eq!(response.status(), 200, "verification of {number}");
        response.json().await.expect("JSON")
    }

    /// Issues the organisation `org` a gold award dated `awarded_on` and brings it to `status`:
    /// valid or expired (by its date alone), suspended, revoked (for `revoke_reason`), or
    /// superseded by a newer `superseding_level` award: its certificate number.
    pub(crate) async fn award_with_status(
        &self,
        org: &str,
        status: &str,
        awarded_on: &str,
        revoke_reason: &str,
        superseding_level: &str,
    ) -> String {
        let number = self.award(org, "gold", awarded_on).await;
        let change = match status {
            "suspended" => Some(("suspend", "under review by the programme")),
            "revoked" => Some(("revoke", revoke_reason)),
            _ => None,
        };
        if let Some((action, reason)) = change {
            let path = format!("/v1/admin/awards/{number}/{action}");
            let changed = self
                .admin_post(&path, serde_json::json!({"reason": reason}))
                .await;
            assert_eq!(changed.status(), 200, "{action} {number}");
        }
        if status == "superseded" {
            self.award(org, superseding_level, "2025-07-01").await;
        }
        number
    }

    /// For each `(status, awarded_on)` in order, an organisation named by `name` with `{status}`
    /// in it replaced, with the ODS code `{ods_prefix}{i}`, and its award brought to that status
    /// (`award_with_status`): (status, certificate number, organisation id) each.
    pub(crate) async fn awards_with_statuses(
        &self,
        statuses: &[(&'static str, &str)],
        (name, ods_prefix): (&str, &str),
        revoke_reason: &str,
        superseding_level: &str,
    ) -> Vec<(&'static str, String, String)> {
        let mut out = Vec::new();
        for (i, (status, awarded_on)) in statuses.iter().enumerate() {
            let name = name.replace("{status}", status);
            let org = self
                .organisation(&name, Some(&format!("{ods_prefix}{i}")))
                .await;
            let number = self
                .award_with_status(&org, status, awarded_on, revoke_reason, superseding_level)
                .await;
            out.push((*status, number, org));
        }
        out
    }

    /// `POST /v1/verify` with `body` as `content_type`.
    pub(crate) async fn post_verify(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        Client::send(
            self.request(reqwest::Method::POST, "/v1/verify")
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }
}

/// A registry on a fresh SQLite database, served (`spawn_app`).
pub(crate) async fn sqlite_app() -> TestApp {
    spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite is always there")
}

/// A served registry on a fresh SQLite database where `organisation` (with the ODS code `ods`)
/// holds one `level` award dated `awarded_on`: (the app, the award's certificate number).
pub(crate) async fn sqlite_app_with_award(
    organisation: &str,
    ods: Option<&str>,
    level: &str,
    awarded_on: &str,
) -> (TestApp, String) {
    let app = sqlite_app().await;
    let org = app.organisation(organisation, ods).await;
    let number = app.award(&org, level, awarded_on).await;
    (app, number)
}

/// A temporary folder, removed when dropped.
pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a folder")
}

/// Whether a write's answer says it was the first answer given again (`Idempotent-Replayed`).
pub(crate) fn replayed(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v.as_bytes() == b"true")
}

/// Bytes a process wrote, as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `wexqs ARGS…` run to its end on `db`, with `data_dir` as its data folder.
pub(crate) fn wexqs(db: &Db, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(args)
        .env("WEXQS_DATA_DIR", data_dir)
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .env_remove("WEXQS_OIDC_ISSUER")
        .output()
        .expect("wexqs runs")
}

/// A new admin token, created with `wexqs tokens create` on `db`.
pub(crate) fn admin_token(db: &Db, data_dir: &Path, name: &str) -> String {
    let out = wexqs(
        db,
        data_dir,
        &["tokens", "create", "--role", "admin", "--name", name],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// Makes the registry's first signing key with `wexqs keys init` (in `data_dir`'s keys folder,
/// on the database `database_url`, or the data folder's SQLite one) unless it has an active
/// key already: `wexqs serve` refuses a registry without one.
pub(crate) fn ensure_key(database_url: Option<&str>, data_dir: &Path) {
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
        command
            .args(args)
            .env("WEXQS_DATA_DIR", data_dir)
            .env_remove("WEXQS_CALENDAR")
            .env_remove("WEXQS_KEYS_DIR");
        match database_url {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        command.output().expect("wexqs runs")
    };
    let list = run(&["keys", "list"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    if text(&list.stdout).contains("\tactive\t") {
        return;
    }
    let init = run(&["keys", "init"]);
    assert!(init.status.success(), "{}", text(&init.stderr));
}

/// Whether the server at `base` answers `/healthz` within `limit` (asked every 100 ms).
pub(crate) async fn answers_within(base: &str, limit: Duration) -> bool {
    // Far above any wait: a hang shows as a server that did not answer, not as a client timeout.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    for _ in 0..limit.as_millis() / 100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Starts `wexqs serve` on a port the system chooses over the given database and data folder
/// (making the registry's first key if it has none), and waits until it answers; the process
/// and its base URL.
pub(crate) async fn start_server(db: &Db, data_dir: &Path) -> (std::process::Child, String) {
    ensure_key(Some(&db.url), data_dir);
    let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .arg("serve")
        .env("WEXQS_DATA_DIR", data_dir)
        .env("DATABASE_URL", &db.url);
    let (mut server, base) = spawn_server(command);
    if answers_within(&base, Duration::from_secs(10)).await {
        return (server, base);
    }
    let _ = server.kill();
    let _ = server.wait();
    panic!("the server did not come up at {base}");
}

/// A server process, killed when the test ends however it ends.
pub(crate) struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A tool from Debian's poppler-utils (`pdftotext`, `pdftoppm`), which `cargo xtask test` installs.
pub(crate) fn poppler(name: &str) -> PathBuf {
    let path = PathBuf::from("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{name} is needed to read the PDF (Debian's poppler-utils; `cargo xtask test` installs it)"
    );
    path
}

/// The text `pdftotext` (with `options`) reads off `pdf`.
pub(crate) fn pdf_text(pdf: &[u8], options: &[&str]) -> String {
    let dir = temp_dir();
    let file = dir.path().join("certificate.pdf");
    std::fs::write(&file, pdf).expect("written");
    let out = Command::new(poppler("pdftotext"))
        .args(options)
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext runs (Debian's poppler-utils)");
    text(&out.stdout)
}

/// `text` with every run of white space made one space.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `request`'s bytes sent as they are to the server at `base` (`http://HOST:PORT`), and all it
/// answers before closing (or ten seconds of silence), as text.
pub(crate) fn raw_exchange(base: &str, request: &[u8]) -> String {
    use std::io::{Read as _, Write as _};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    // The server may refuse and close before reading everything: what it answers is the test.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    text(&answer)
}

/// Every award in `registry`'s register, read through its named queries (the register's search,
/// then each award by number).
pub(crate) fn all_awards(registry: &wexqs::service::Registry) -> Vec<wexqs::domain::Award> {
    let query = wexqs::store::RegisterQuery {
        today: registry.today().to_string(),
        limit: u32::MAX,
        ..Default::default()
    };
    let (rows, _) = registry.search(query);
    rows.iter()
        .map(|(row, _)| {
            let number = row
                .certificate_number
                .parse()
                .expect("a certificate number");
            (*registry.award(&number).expect("the award").0).clone()
        })
        .collect()
}

/// A `wexqs serve` process on a fresh SQLite registry (its first key made), with an admin token,
/// its log kept; killed when dropped.
pub(crate) struct Served {
    pub base: String,
    pub log: ServerLog,
    pub admin: String,
    pub server: KillOnDrop,
    pub _db: Db,
    pub _dir: tempfile::TempDir,
}

/// `wexqs serve ARGS…` on a fresh SQLite registry, with `env` set, once it answers.
pub(crate) async fn serve_with(args: &[&str], env: &[(&str, &str)]) -> Served {
    let db = fresh_db(Backend::Sqlite)
        .await
        .expect("SQLite is always there");
    serve_on(db, args, env).await
}

/// `wexqs serve ARGS…` on `db`, with `env` set, once it answers.
pub(crate) async fn serve_on(db: Db, args: &[&str], env: &[(&str, &str)]) -> Served {
    let dir = temp_dir();
    ensure_key(Some(&db.url), dir.path());
    let admin = admin_token(&db, dir.path(), "served admin");
    let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .arg("serve")
        .args(args)
        .env("WEXQS_DATA_DIR", dir.path())
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .env_remove("WEXQS_LOG")
        .env_remove("WEXQS_LOG_FORMAT")
        .env_remove("WEXQS_TRUSTED_PROXIES");
    for (name, value) in env {
        command.env(name, value);
    }
    let (child, base, log) = spawn_server_logged(command);
    let server = KillOnDrop(child);
    assert!(
        answers_within(&base, Duration::from_secs(10)).await,
        "the server at {base} answers"
    );
    Served {
        base,
        log,
        admin,
        server,
        _db: db,
        _dir: dir,
    }
}

/// Runs `script` of tests/browser/ (Debian's Chromium, driven by playwright-core) on `plan`,
/// in a fresh folder of the target's named `folder`: what it printed, as JSON, and the folder
/// (where it left its screenshots).
pub(crate) fn walk_in_browser(
    script: &str,
    folder: &str,
    plan: &serde_json::Value,
) -> (serde_json::Value, std::path::PathBuf) {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        root.join("node_modules/playwright-core").exists(),
        "the browser checks are not installed: run `cargo xtask test`, which installs them (or 'npm ci --prefix tests/browser')"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is needed for the browser tests (`cargo xtask test` installs it)"
    );
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(folder);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("a folder for the walk");
    let plan_file = out.join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).expect("written");
    let run = Command::new("node")
        .arg(root.join(script))
        .arg(&plan_file)
        .arg(&out)
        .output()
        .expect("node runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    (serde_json::from_slice(&run.stdout).expect("JSON"), out)
}
