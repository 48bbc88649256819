//! Webhook secrets at rest and webhook ids across a restore. A sealed secret opens only with its
//! key and in its own row, and a tampered one not at all; the keys folder's sealing key is made
//! once, private, and a key others can read or of the wrong length is refused. End to end on
//! SQLite and PostgreSQL, against real `wexqs serve` processes: the database holds no secret in
//! clear (read with SQL, and for SQLite in the database file's bytes), deliveries still verify
//! with the `standardwebhooks` library, a secret left in clear by an earlier version is sealed
//! at start, and a server whose sealing key does not open the stored secrets refuses to start,
//! saying why. The drill: a database restored from a copy puts other events at the positions
//! of events already delivered, and the receiver never gets one `webhook-id` for two events.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use wexqs::credentials::sealing::{self, SealError, SealingKey};

use crate::client::Client;
use crate::feeds::python;
use crate::helpers::{Backend, Db, admin_token, fresh_db, on_both_databases, temp_dir, text};
use crate::throwaway_pg::ThrowawayPg;
use crate::webhooks::{Received, Receiver, award, position_of, server, subscribe};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[test]
fn a_sealed_secret_opens_only_with_its_key_in_its_own_row_and_unchanged() {
    let key = SealingKey::from_bytes(&[7; 32]);
    let sealed = key.seal("wh_one", SECRET, sealing::random_nonce());
    assert_eq!(key.open("wh_one", &sealed).unwrap(), SECRET);
    let clear_part = &SECRET["whsec_".len()..];
    assert!(
        !sealed
            .windows(clear_part.len())
            .any(|w| w == clear_part.as_bytes()),
        "the sealed bytes hold the secret"
    );
    // A nonce of its own each time: the same secret seals to other bytes.
    assert_ne!(sealed, key.seal("wh_one", SECRET, sealing::random_nonce()));

    let other = SealingKey::from_bytes(&[8; 32]);
    assert_ne!(key.fingerprint(), other.fingerprint());
    let refused = other.open("wh_one", &sealed).unwrap_err();
    assert!(matches!(refused, SealError::WrongKey { .. }), "{refused}");
    let message = refused.to_string();
    assert!(
        message.contains("wh_one") && message.contains(other.fingerprint()),
        "{message}"
    );
    assert!(
        message.contains(sealing::FILE_NAME),
        "says which file: {message}"
    );
    // Swapped into another row: refused.
    assert!(key.open("wh_two", &sealed).is_err());
    // Any one byte changed, or cut short: refused, never other bytes.
    for i in 0..sealed.len() {
        let mut changed = sealed.clone();
        changed[i] ^= 0x01;
        assert!(key.open("wh_one", &changed).is_err(), "byte {i} changed");
    }
    assert!(key.open("wh_one", &sealed[..sealed.len() - 1]).is_err());
    assert!(key.open("wh_one", &sealed[..10]).is_err());
    assert!(key.open("wh_one", &[]).is_err());
    // Its Debug names its fingerprint only.
    assert_eq!(
        format!("{key:?}"),
        format!("SealingKey({})", key.fingerprint())
    );
}

#[test]
fn the_sealing_key_is_made_once_and_private_and_a_bad_file_is_refused() {
    let dir = temp_dir();
    // Two processes starting together end with one key.
    let made: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| sealing::sealing_key(dir.path()).unwrap()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().fingerprint().to_owned())
            .collect()
    });
    assert!(made.iter().all(|f| f == &made[0]), "{made:?}");
    let path = sealing::path_in(dir.path());
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "no temporary file is left: {files:?}");
    assert_eq!(
        sealing::sealing_key(dir.path()).unwrap().fingerprint(),
        made[0]
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = sealing::sealing_key(dir.path()).unwrap_err();
    assert!(matches!(open, SealError::TooOpen(_)), "{open}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, [1u8; 31]).unwrap();
    let short = sealing::sealing_key(dir.path()).unwrap_err();
    assert!(short.to_string().contains("31 bytes"), "{short}");
    // A folder that is not there and cannot be made: refused, saying what to do.
    let absent = sealing::sealing_key(&dir.path().join("missing/keys")).unwrap_err();
    assert!(matches!(absent, SealError::Absent(_)), "{absent}");
    assert!(absent.to_string().contains("wexqs keys init"), "{absent}");
}

/// The subscription's secret columns as stored: sealed, sealed previous, clear, clear previous.
type Stored = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
);

const SECRET_COLUMNS: &str = "SELECT sealed_secret, sealed_previous_secret, clear_secret, \
     clear_previous_secret FROM webhook_subscriptions WHERE id = $1";

async fn stored(db: &Db, id: &str) -> Stored {
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let row = sqlx::query_as(SECRET_COLUMNS)
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        row
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let row = sqlx::query_as(SECRET_COLUMNS)
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        row
    }
}

/// Runs one statement on `db` with `id` as `$1` and `secret` as `$2`.
async fn execute(db: &Db, sql: &str, id: &str, secret: &str) {
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(sql)
            .bind(id)
            .bind(secret)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(sql)
            .bind(id)
            .bind(secret)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

/// Whether `r` verifies with `secret` (the `standardwebhooks` library).
fn verifies(r: &Received, secret: &str, scratch: &Path) -> bool {
    let message = scratch.join("message.json");
    std::fs::write(
        &message,
        serde_json::to_vec(&json!({"headers": r.headers, "body": r.body})).unwrap(),
    )
    .unwrap();
    python(&["webhook", secret, message.to_str().unwrap()])["verified"] == true
}

/// Whether the bytes of the SQLite database at `db` (its file and write-ahead log) hold `text`.
fn sqlite_files_hold(db: &Db, text: &str) -> bool {
    let path = PathBuf::from(db.url.trim_start_matches("sqlite://"));
    ["", "-wal"].iter().any(|suffix| {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        std::fs::read(&name)
            .is_ok_and(|bytes| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
    })
}

async fn secrets_are_sealed_in_the_database_and_deliveries_verify(backend: Backend) {
    let Some(db) = fresh_db(backend).await else {
        return;
    };
    let dir = temp_dir();
    let scratch = temp_dir();
    let token = admin_token(&db, dir.path(), "sealing");
    let receiver = Receiver::start(204).await;
    let (id, first_secret, second_secret) = {
        let (_server, base) = server(&db, dir.path(), 100, 5).await;
        let admin = Client::new(&base).with_token(&token);
        let (id, first) = subscribe(&admin, &receiver.url, &["award.issued"]).await;
        let (status, rotated) = admin
            .post_json(&format!("/v1/admin/webhooks/{id}/rotate-secret"), json!({}))
            .await;
        assert_eq!(status, 200, "{rotated}");
        let second = rotated["secret"].as_str().unwrap().to_owned();
        award(&admin, "Sealed Secrets Trust").await;
        receiver
            .wait_for(Duration::from_secs(30), "a delivery", |r| !r.is_empty())
            .await;
        assert!(verifies(&receiver.received()[0], &second, scratch.path()));
        (id, first, second)
    };
    let (sealed, sealed_previous, clear, clear_previous) = stored(&db, &id).await;
    assert_eq!((clear, clear_previous), (None, None), "nothing in clear");
    let (sealed, sealed_previous) = (sealed.unwrap(), sealed_previous.unwrap());
    for secret in [&first_secret, &second_secret] {
        let part = &secret["whsec_".len()..];
        for bytes in [&sealed, &sealed_previous] {
            assert!(!bytes.windows(part.len()).any(|w| w == part.as_bytes()));
        }
        if backend == Backend::Sqlite {
            assert!(
                !sqlite_files_hold(&db, part),
                "the database file holds a secret"
            );
        }
    }
    // The sealing key is in the keys folder, private.
    let key_file = dir.path().join("keys").join(sealing::FILE_NAME);
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        SealingKey::from_bytes(&std::fs::read(&key_file).unwrap().try_into().unwrap())
            .open(&id, &sealed)
            .unwrap(),
        second_secret
    );

    // A row an earlier version wrote, its secret in clear: sealed at start, and it signs.
    execute(
        &db,
        "UPDATE webhook_subscriptions SET clear_secret = $2, sealed_secret = NULL, \
         sealed_previous_secret = NULL WHERE id = $1",
        &id,
        SECRET,
    )
    .await;
    {
        let (_server, base) = server(&db, dir.path(), 100, 5).await;
        let (sealed, _, clear, _) = stored(&db, &id).await;
        assert_eq!(clear, None, "sealed at start");
        assert!(sealed.is_some_and(|s| !s.is_empty()));
        let admin = Client::new(&base).with_token(&token);
        award(&admin, "Upgraded Trust").await;
        receiver
            .wait_for(Duration::from_secs(30), "a second delivery", |r| {
                r.len() >= 2
            })
            .await;
        assert!(verifies(&receiver.received()[1], SECRET, scratch.path()));
    }

    // Another sealing key: the server refuses to start, and says why.
    std::fs::write(&key_file, [9u8; 32]).unwrap();
    let out = std::process::Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_wexqs"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("WEXQS_DATA_DIR", dir.path())
        .env("DATABASE_URL", &db.url)
        .env_remove("WEXQS_CALENDAR")
        .output()
        .unwrap();
    let log = text(&out.stderr);
    assert!(
        !out.status.success() && out.status.code() != Some(124),
        "the server must stop at once: {log}"
    );
    assert!(
        log.contains("do not open with the sealing key") && log.contains(&id),
        "{log}"
    );
    for secret in [SECRET, &first_secret, &second_secret] {
        assert!(!log.contains(&secret["whsec_".len()..]), "{log}");
    }
}

on_both_databases!(backend: secrets_are_sealed_in_the_database_and_deliveries_verify);

/// A registry's database that a test copies and restores, the server stopped.
enum Site {
    Sqlite(Db),
    Postgres(ThrowawayPg, Db),
}

impl Site {
    async fn new(backend: Backend) -> Option<Site> {
        match backend {
            Backend::Sqlite => Some(Site::Sqlite(fresh_db(Backend::Sqlite).await?)),
            Backend::Postgres => {
                let pg = ThrowawayPg::start()?;
                pg_run(&pg, "CREATE DATABASE registry").await;
                let url = format!("{}/registry", pg.url().rsplit_once('/').unwrap().0);
                Some(Site::Postgres(pg, Db { url, _dir: None }))
            }
        }
    }

    fn db(&self) -> &Db {
        match self {
            Site::Sqlite(db) | Site::Postgres(_, db) => db,
        }
    }

    /// A copy of the database: `VACUUM INTO` for SQLite, a template copy for PostgreSQL.
    async fn back_up(&self) {
        match self {
            Site::Sqlite(db) => {
                let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
                sqlx::query("VACUUM INTO $1")
                    .bind(backup_path(db).display().to_string())
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
            }
            Site::Postgres(pg, _) => {
                pg_run(pg, "CREATE DATABASE backup TEMPLATE registry").await;
            }
        }
    }

    /// The copy put back in the database's place.
    async fn restore(&self) {
        match self {
            Site::Sqlite(db) => {
                let path = PathBuf::from(db.url.trim_start_matches("sqlite://"));
                for suffix in ["-wal", "-shm"] {
                    let mut name = path.clone().into_os_string();
                    name.push(suffix);
                    let _ = std::fs::remove_file(name);
                }
                std::fs::copy(backup_path(db), &path).unwrap();
            }
            Site::Postgres(pg, _) => {
                pg_run(pg, "DROP DATABASE registry WITH (FORCE)").await;
                pg_run(pg, "CREATE DATABASE registry TEMPLATE backup").await;
            }
        }
    }
}

fn backup_path(db: &Db) -> PathBuf {
    PathBuf::from(db.url.trim_start_matches("sqlite://")).with_extension("backup.db")
}

/// Runs `sql` on the cluster's `postgres` database, trying again for a few seconds while a
/// killed server's sessions are still going away.
async fn pg_run(pg: &ThrowawayPg, sql: &str) {
    use sqlx::Connection;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut conn = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
        match sqlx::query(sql).execute(&mut conn).await {
            Ok(_) => return,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "{sql}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Issues an award to each of `names` and waits until the receiver has had each; the positions
/// the subscription's deliveries of them had.
async fn issue_and_deliver(
    admin: &Client,
    receiver: &Receiver,
    id: &str,
    names: &[&str],
) -> BTreeSet<u64> {
    let mut numbers = Vec::new();
    for name in names {
        numbers.push(award(admin, name).await);
    }
    receiver
        .wait_for(Duration::from_secs(30), "the deliveries", |got| {
            numbers.iter().all(|n| {
                got.iter()
                    .any(|r| r.json()["data"]["certificate_number"] == n.as_str())
            })
        })
        .await;
    let mut positions = BTreeSet::new();
    for r in receiver.received() {
        if numbers
            .iter()
            .any(|n| r.json()["data"]["certificate_number"] == n.as_str())
        {
            positions.insert(position_of(admin, id, r.id()).await);
        }
    }
    positions
}

async fn webhook_receivers_never_see_one_id_for_two_events_across_a_restore(backend: Backend) {
    let Some(site) = Site::new(backend).await else {
        return;
    };
    let db = site.db();
    let dir = temp_dir();
    let token = admin_token(db, dir.path(), "restore drill");
    let receiver = Receiver::start(204).await;
    let id = {
        let (_server, base) = server(db, dir.path(), 100, 5).await;
        let admin = Client::new(&base).with_token(&token);
        let (id, _) = subscribe(&admin, &receiver.url, &["award.issued"]).await;
        issue_and_deliver(&admin, &receiver, &id, &["Kept One", "Kept Two"]).await;
        id
    };
    site.back_up().await;
    // The state folder goes back with the database, as when a whole machine is restored: the
    // lost events' checkpoint, if one was signed before the server stopped (a busy machine
    // gives it the second it needs), was never published beyond it. This is the drill in which
    // positions are used again; with the mark kept, the registry would refuse to write.
    let mark = dir.path().join("published-checkpoint");
    let mark_backed_up = std::fs::read(&mark).ok();
    let lost = {
        let (_server, base) = server(db, dir.path(), 100, 5).await;
        let admin = Client::new(&base).with_token(&token);
        issue_and_deliver(
            &admin,
            &receiver,
            &id,
            &["Lost One", "Lost Two", "Lost Three"],
        )
        .await
    };
    site.restore().await;
    match &mark_backed_up {
        Some(bytes) => std::fs::write(&mark, bytes).unwrap(),
        None => {
            let _ = std::fs::remove_file(&mark);
        }
    }
    let again = {
        let (_server, base) = server(db, dir.path(), 100, 5).await;
        let admin = Client::new(&base).with_token(&token);
        issue_and_deliver(&admin, &receiver, &id, &["New One", "New Two", "New Three"]).await
    };
    // The drill is the one that reused ids before: other events at the same positions.
    let shared: Vec<&u64> = lost.intersection(&again).collect();
    assert!(
        !shared.is_empty(),
        "the restored registry put its new events at {again:?}, the lost ones were at {lost:?}"
    );
    // Each id names one event: its type and award.
    let mut events_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in receiver.received() {
        let body: Value = r.json();
        events_of
            .entry(r.id().to_owned())
            .or_default()
            .insert(format!(
                "{} {}",
                body["type"], body["data"]["certificate_number"]
            ));
    }
    let reused: Vec<_> = events_of.iter().filter(|(_, e)| e.len() > 1).collect();
    assert!(reused.is_empty(), "one id for two events: {reused:?}");
    assert_eq!(
        events_of.len(),
        8,
        "one id for each of the eight events delivered: {events_of:?}"
    );
}

on_both_databases!(backend: webhook_receivers_never_see_one_id_for_two_events_across_a_restore);
