//! `wexqs backup` and `wexqs restore` as real processes beside a real server: a backup taken
//! while awards are being issued restores to a registry whose log verifies, answers the same for
//! every award the copy holds, and publishes a checkpoint consistent with the original's; a
//! restore refuses a database in use, a changed copy and a replacement nobody asked for; and the
//! data folder, the database's files and the backups are private.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::helpers::{
    Backend, Db, KillOnDrop, admin_token, answers_within, fresh_db, on_both_databases,
    spawn_server, temp_dir, text,
};

/// `wexqs serve` on `db` and `data_dir` without a rate limit (the drill reads every award back
/// at once), once it answers: the process and its base URL.
async fn start_server(db: &Db, data_dir: &Path) -> (std::process::Child, String) {
    crate::helpers::ensure_key(Some(&db.url), data_dir);
    let mut command = Command::new(env!("CARGO_BIN_EXE_wexqs"));
    command
        .args(["serve", "--rate-limit", "0"])
        .env("WEXQS_DATA_DIR", data_dir)
        .env("DATABASE_URL", &db.url);
    let (mut server, base) = spawn_server(command);
    if !answers_within(&base, Duration::from_secs(10)).await {
        let _ = server.kill();
        let _ = server.wait();
        panic!("the server did not come up at {base}");
    }
    (server, base)
}

/// `wexqs ARGS…` on `db` with `data_dir`, run to its end within `limit` (killed past it).
fn wexqs_within(db: &Db, data_dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wexqs"))
        .args(args)
        .env("WEXQS_DATA_DIR", data_dir)
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wexqs runs");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("its state").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("its output");
            panic!(
                "wexqs {args:?} took more than {limit:?}: {}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("its output")
}

async fn wexqs_async(db: &Db, data_dir: &Path, args: &[&str]) -> Output {
    let (url, dir) = (db.url.clone(), data_dir.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let db = Db { url, _dir: None };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = wexqs_within(&db, &dir, &args, Duration::from_secs(60));
        std::mem::forget(db); // not this copy's database to drop
        out
    })
    .await
    .expect("the command's thread")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Issues an award to a new organisation through `base`, until `stop`: each award's number and
/// log position.
async fn keep_issuing(
    base: String,
    token: String,
    writer: u32,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicU64>,
) -> Vec<(String, u64)> {
    let client = reqwest::Client::new();
    let mut issued = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let organisation = created(
            &client,
            &format!("{base}/v1/admin/organisations"),
            &token,
            serde_json::json!({"name": format!("Backup Trust {writer}-{i}"), "region": "london"}),
        )
        .await;
        let award = created(
            &client,
            &format!("{base}/v1/admin/awards"),
            &token,
            serde_json::json!({
                "organisation_id": organisation["id"], "level": "gold", "awarded_on": "2025-06-02"
            }),
        )
        .await;
        issued.push((
            award["certificate_number"]
                .as_str()
                .expect("a number")
                .to_owned(),
            award["log_position"].as_u64().expect("a position"),
        ));
        acknowledged.fetch_add(1, Ordering::SeqCst);
    }
    issued
}

/// What an admin `POST` of `body` to `url` made (201). A `503` (the server's pool waits at most a
/// second for a connection, and a copy being checked beside it on a loaded machine can take that
/// long) is asked again, for 30 s at most; any other answer fails the test.
async fn created(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = client
            .post(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.expect("JSON");
        match status {
            201 => return answer,
            503 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => panic!("{url} answered {status}: {answer}"),
        }
    }
}

/// The size and root lines of the checkpoint `base` serves.
async fn checkpoint(base: &str) -> (u64, String) {
    let note = reqwest::get(format!("{base}/v1/log/checkpoint"))
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("text");
    let mut lines = note.lines().skip(1);
    let size = lines.next().and_then(|l| l.parse().ok()).unwrap_or(0);
    (size, lines.next().unwrap_or_default().to_owned())
}

/// Waits (10 s at most) until `base` serves a checkpoint of `size` entries: its root.
async fn checkpoint_at(base: &str, size: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (signed, root) = checkpoint(base).await;
        if signed == size {
            return root;
        }
        assert!(
            Instant::now() < deadline,
            "{base} serves a checkpoint of {signed}, not {size}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn manifest_of(file: &Path) -> serde_json::Value {
    let path = format!("{}.manifest.json", file.display());
    serde_json::from_slice(&std::fs::read(&path).expect("the manifest")).expect("JSON")
}

/// Copies the signing keys (`*.pem`) of `from`'s keys folder into `to`'s (files 0600), as an
/// operator restores the keys beside a backup on a new host. Only the keys: anything else kept
/// in the folder describes the original registry, which goes on running here.
fn copy_keys(from: &Path, to: &Path) {
    let (from, to) = (from.join("keys"), to.join("keys"));
    std::fs::create_dir_all(&to).expect("a keys folder");
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o700)).expect("private");
    for entry in std::fs::read_dir(&from).expect("the keys") {
        let entry = entry.expect("an entry");
        if !entry.file_name().to_string_lossy().ends_with(".pem") {
            continue;
        }
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target).expect("copied");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("private");
    }
}

/// A backup taken with `wexqs backup` into `file` while two writers issue awards through the
/// server at `base`, which go on for a few writes after it: the command's output, how long it
/// took, how many writes were acknowledged meanwhile, and every award issued with its position.
async fn backup_under_writes(
    db: &Db,
    dir: &Path,
    base: &str,
    token: &str,
    file: &Path,
) -> (Output, Duration, u64, Vec<(String, u64)>) {
    // Two writers issue awards all through the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            tokio::spawn(keep_issuing(
                base.to_owned(),
                token.to_owned(),
                w,
                stop.clone(),
                acknowledged.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.load(Ordering::SeqCst) < 10 {
        assert!(Instant::now() < deadline, "the writers got nowhere");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = acknowledged.load(Ordering::SeqCst);
    let took = Instant::now();
    let out = wexqs_async(db, dir, &["backup", "--to", file.to_str().unwrap()]).await;
    let took = took.elapsed();
    let during = acknowledged.load(Ordering::SeqCst) - before;
    // A few more writes after the copy, which the restore must not hold.
    let after_backup = acknowledged.load(Ordering::SeqCst);
    while acknowledged.load(Ordering::SeqCst) < after_backup + 4 {
        assert!(Instant::now() < deadline, "the writers stopped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut issued = Vec::new();
    for writer in writers {
        issued.extend(writer.await.expect("a writer"));
    }
    (out, took, during, issued)
}

/// The backup's manifest and what the command said: its size and root, the database it came
/// from, its keys listed but not included, its length: (the log's size, its root).
fn assert_manifest(file: &Path, out: &Output, backend: Backend) -> (u64, String) {
    assert!(out.status.success(), "backup: {}", text(&out.stderr));
    let manifest = manifest_of(file);
    let size = manifest["log"]["size"].as_u64().expect("a size");
    let root = manifest["log"]["root"].as_str().expect("a root").to_owned();
    assert_eq!(manifest["database"], backend_name(backend));
    assert_eq!(manifest["keys_included"], false);
    assert!(!manifest["keys"].as_array().expect("keys").is_empty());
    assert_eq!(
        manifest["bytes"].as_u64(),
        Some(std::fs::metadata(file).expect("the copy").len())
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("backed up {size} events")),
        "{stdout}"
    );
    assert!(
        stdout.contains("back up the keys folder separately"),
        "{stdout}"
    );

    (size, root)
}

/// Restored, with its keys, into a fresh database: the log verifies at `size` events, and the
/// restored registry, served, signs a checkpoint of `size` with the original's `root`.
async fn restore_and_serve(
    original_dir: &Path,
    restored_db: &Db,
    restored_dir: &Path,
    file: &Path,
    (size, root): (u64, &str),
) -> (KillOnDrop, String) {
    copy_keys(original_dir, restored_dir);
    let restored = wexqs_async(
        restored_db,
        restored_dir,
        &["restore", "--from", file.to_str().unwrap()],
    )
    .await;
    assert!(
        restored.status.success(),
        "restore: {}",
        text(&restored.stderr)
    );
    let verified = wexqs_async(restored_db, restored_dir, &["log", "verify"]).await;
    assert!(verified.status.success(), "{}", text(&verified.stdout));
    assert!(
        text(&verified.stdout).contains(&format!("the log is consistent: {size} events")),
        "{}",
        text(&verified.stdout)
    );
    let (server2, base2) = start_server(restored_db, restored_dir).await;
    let server2 = KillOnDrop(server2);
    assert_eq!(
        checkpoint_at(&base2, size).await,
        root,
        "the checkpoint's root"
    );

    (server2, base2)
}

/// The same answers from the restored registry (`restored`) as from the original (`base`) for
/// every award the copy of `size` events holds; those issued after it are not there: (how many
/// were held, how many came later).
async fn assert_the_same_answers(
    base: &str,
    restored: &str,
    issued: &[(String, u64)],
    size: u64,
) -> (usize, usize) {
    let client = Client::new(restored);
    let original = Client::new(base);
    let (mut held, mut later) = (0, 0);
    for (number, position) in issued {
        let path = format!("/v1/awards/{number}");
        let there = client.get(&path).await;
        if *position < size {
            held += 1;
            assert_eq!(there.status(), 200, "{number} at {position} is in the copy");
            assert_eq!(
                original.get(&path).await.text().await.expect("text"),
                there.text().await.expect("text"),
                "{number}"
            );
        } else {
            later += 1;
            assert_eq!(
                there.status(),
                404,
                "{number} at {position} came after the copy"
            );
        }
    }
    assert!(held >= 10 && later >= 4, "held {held}, later {later}");
    (held, later)
}

on_both_databases!(backend: a_backup_taken_under_writes_restores_to_the_same_log_answers_and_checkpoint);

async fn a_backup_taken_under_writes_restores_to_the_same_log_answers_and_checkpoint(
    backend: Backend,
) {
    let started = Instant::now();
    let (Some(db), Some(restored_db)) = (fresh_db(backend).await, fresh_db(backend).await) else {
        return;
    };
    let (dir, restored_dir, backups) = (temp_dir(), temp_dir(), temp_dir());
    let token = admin_token(&db, dir.path(), "backup drill");
    let (server, base) = start_server(&db, dir.path()).await;
    let _server = KillOnDrop(server);

    let file = backups.path().join("registry.backup");
    let (out, took, during, issued) =
        backup_under_writes(&db, dir.path(), &base, &token, &file).await;
    let (size, root) = assert_manifest(&file, &out, backend);
    assert!(
        during > 0,
        "no write was acknowledged while the backup ran, so it was not taken under writes"
    );

    // The original publishes everything it holds; an auditor keeps that checkpoint.
    let original_size = checkpoint_size_settled(&base).await;
    assert!(original_size > size, "writes after the copy are not in it");

    let (_server2, base2) = restore_and_serve(
        dir.path(),
        &restored_db,
        restored_dir.path(),
        &file,
        (size, &root),
    )
    .await;
    let (held, later) = assert_the_same_answers(&base, &base2, &issued, size).await;
    println!(
        "backup of {size} events in {took:?} with {during} awards acknowledged meanwhile; {held} awards answered alike after the restore, {later} issued after the copy absent; the original went on to {original_size}"
    );

    // An auditor that saw the restored checkpoint finds the original's later one consistent
    // with it: one history, not two.
    let state = backups.path().join("audit-state.json");
    let state = state.to_str().unwrap();
    for url in [&base2, &base] {
        let audit = wexqs_async(
            &restored_db,
            restored_dir.path(),
            &["audit", url, "--state", state],
        )
        .await;
        assert!(
            audit.status.success(),
            "audit of {url}: {}{}",
            text(&audit.stdout),
            text(&audit.stderr)
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the drill took {:?}",
        started.elapsed()
    );
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The size of the checkpoint `base` serves once it stops growing (the log is still).
async fn checkpoint_size_settled(base: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = checkpoint(base).await.0;
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = checkpoint(base).await.0;
        if now == last && now > 0 {
            return now;
        }
        assert!(Instant::now() < deadline, "the checkpoint kept moving");
        last = now;
    }
}

on_both_databases!(backend: a_restore_refuses_a_database_in_use_a_changed_copy_and_an_unasked_replacement);

async fn a_restore_refuses_a_database_in_use_a_changed_copy_and_an_unasked_replacement(
    backend: Backend,
) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let (dir, backups) = (temp_dir(), temp_dir());
    let token = admin_token(&db, dir.path(), "restore refusals");
    let (server, base) = start_server(&db, dir.path()).await;
    let mut server = KillOnDrop(server);
    let _ = keep_issuing_once(&base, &token).await;
    let file = backups.path().join("copy.backup");
    let file_arg = file.to_str().unwrap();
    let out = wexqs_async(&db, dir.path(), &["backup", "--to", file_arg]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again = wexqs_async(&db, dir.path(), &["backup", "--to", file_arg]).await;
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );

    // Refused while the server has the database open.
    let in_use = wexqs_async(
        &db,
        dir.path(),
        &["restore", "--from", file_arg, "--replace"],
    )
    .await;
    assert!(!in_use.status.success());
    let said = text(&in_use.stderr);
    assert!(
        said.contains("open in another process") || said.contains("other sessions are connected"),
        "{said}"
    );
    let _ = server.0.kill();
    let _ = server.0.wait();
    wait_until_alone(&db).await;

    // Refused without --replace: the database holds a registry.
    let unasked = wexqs_async(&db, dir.path(), &["restore", "--from", file_arg]).await;
    assert!(!unasked.status.success());
    assert!(
        text(&unasked.stderr).contains("--replace"),
        "{}",
        text(&unasked.stderr)
    );

    // A copy changed after its manifest was written is refused.
    let changed = backups.path().join("changed.backup");
    let mut bytes = std::fs::read(&file).expect("the copy");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&changed, bytes).expect("written");
    std::fs::copy(
        format!("{file_arg}.manifest.json"),
        format!("{}.manifest.json", changed.display()),
    )
    .expect("the manifest copied");
    let refused = wexqs_async(
        &db,
        dir.path(),
        &["restore", "--from", changed.to_str().unwrap(), "--replace"],
    )
    .await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("is not the copy its manifest describes"),
        "{}",
        text(&refused.stderr)
    );

    // The genuine copy with --replace: restored, and the log verifies.
    let restored = wexqs_async(
        &db,
        dir.path(),
        &["restore", "--from", file_arg, "--replace"],
    )
    .await;
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    let verified = wexqs_async(&db, dir.path(), &["log", "verify"]).await;
    assert!(verified.status.success(), "{}", text(&verified.stdout));
    if backend == Backend::Sqlite {
        let folder = Path::new(db.url.trim_start_matches("sqlite://"))
            .parent()
            .expect("a folder")
            .to_owned();
        let kept = std::fs::read_dir(&folder)
            .expect("the folder")
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("registry.db.replaced-")
            });
        assert!(kept, "the replaced database is kept beside it");
    }
}

/// One organisation and award through `base`.
async fn keep_issuing_once(base: &str, token: &str) -> Vec<(String, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn(keep_issuing(
        base.to_owned(),
        token.to_owned(),
        9,
        stop.clone(),
        count.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while count.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no award was issued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("the writer")
}

/// Waits (10 s at most) until no other session is connected to a PostgreSQL `db` (a killed
/// server's sessions end a moment after it); nothing to wait for on SQLite.
async fn wait_until_alone(db: &Db) {
    if !db.url.starts_with("postgres") {
        return;
    }
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&db.url)
        .await
        .expect("connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend'",
        )
        .fetch_one(&mut conn)
        .await
        .expect("asked");
        if n == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{n} sessions stayed after the server went"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_the_database_files_and_backups_are_private() {
    let root = temp_dir();
    let data = root.path().join("new").join("data");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wexqs"))
            .args(args)
            .env("WEXQS_DATA_DIR", &data)
            .env_remove("DATABASE_URL")
            .env_remove("WEXQS_CALENDAR")
            .output()
            .expect("wexqs runs")
    };
    let out = run(&["migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let database = data.join("registry.db");
    assert_eq!(mode(&data), 0o700, "the data folder");
    assert_eq!(mode(&database), 0o600, "the database");

    // While a server has it open, its write-ahead log and shared memory are private too.
    let db = Db {
        url: format!("sqlite://{}", database.display()),
        _dir: None,
    };
    let (server, _base) = start_server(&db, &data).await;
    let _server = KillOnDrop(server);
    for suffix in ["-wal", "-shm"] {
        let file = data.join(format!("registry.db{suffix}"));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let copy = root.path().join("registry.backup");
    let out = wexqs_async(&db, &data, &["backup", "--to", copy.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(mode(&copy), 0o600, "the backup");
    assert_eq!(
        mode(Path::new(&format!("{}.manifest.json", copy.display()))),
        0o600,
        "the manifest"
    );
    let leftovers: Vec<String> = std::fs::read_dir(root.path())
        .expect("the folder")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial") || n.ends_with(".lock"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
