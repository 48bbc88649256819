//! The SQLite event store: the embedded default, one file in the data folder, WAL journal and
//! `synchronous=FULL` so that an acknowledged append survives a crash or power cut. The file is
//! created readable by its owner alone (SQLite gives its `-wal` and `-shm` files the same mode),
//! and every process that opens it holds a shared lock on `FILE.lock` for as long as it does,
//! so a restore can tell that nothing has the database open (`lock_exclusively`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};

use super::StoreError;
use super::sql::SqlStore;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The shared lock on the database's lock file, held while any clone of the store lives
    /// (none for a database in memory).
    _open: Option<Arc<File>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH` or a plain path).
    pub(crate) async fn open(url: &str) -> Result<SqliteStore, super::StoreError> {
        let url = if url.starts_with("sqlite:") {
            url.to_owned()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&url)?;
        let file = options.get_filename().to_owned();
        let open = if in_memory(&file) {
            None
        } else {
            create_private(&file)?;
            lock_shared(&file)?.map(Arc::new)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .after_release(|connection, meta| {
                Box::pin(async move {
                    if opened_before_last_file_fault(meta.age) {
                        return Ok(false);
                    }
                    ended_cleanly(connection).await
                })
            })
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool, _open: open })
    }

    /// Writes a consistent copy of the whole database to `to`, which must not exist or be
    /// empty (`VACUUM INTO`: one read transaction, so appends made meanwhile go on and are not
    /// in the copy).
    pub(crate) async fn copy_into(&self, to: &Path) -> Result<(), super::StoreError> {
        let to = to.to_str().ok_or_else(|| {
            super::StoreError::Corrupt(format!("the path {} is not UTF-8", to.display()))
        })?;
        sqlx::query("VACUUM INTO ?")
            .bind(to)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes every connection, waiting until they are closed (SQLite then folds its `-wal`
    /// file back into the database and removes it).
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Puts the database file at `path` (a copy `VACUUM INTO` wrote, in rollback mode) in WAL
    /// mode through one connection, before a pool opens it: the pool's connections each ask for
    /// WAL mode as they open, and two asking at once for a file not in it yet find it locked.
    pub(crate) async fn to_wal(path: &Path) -> Result<(), super::StoreError> {
        let mut connection = Self::single(path).await?;
        let done = sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&mut connection)
            .await;
        connection.close().await?;
        done?;
        Ok(())
    }

    /// Folds the `-wal` file of the closed database at `path` back into it, so that the
    /// database is one file again (a copy about to be renamed): the last connection to close
    /// removes the `-wal` and `-shm` files. A connection the pool retired may still be closing
    /// on its own thread: the fold is tried again until it has gone, for up to 30 s.
    pub(crate) async fn settle(path: &Path) -> Result<(), super::StoreError> {
        let side = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        let (wal, shm) = (side("-wal"), side("-shm"));
        let started = std::time::Instant::now();
        loop {
            if !wal.exists() && !shm.exists() {
                return Ok(());
            }
            let mut connection = Self::single(path).await?;
            let folded = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut connection)
                .await;
            connection.close().await?;
            if !wal.exists() && !shm.exists() {
                return Ok(());
            }
            // Still there after a while: a connection of the closed pool is still open (sqlx
            // lets one go on its own thread). Once the checkpoint has emptied the `-wal` file
            // it holds nothing, and it and the `-shm` index of it can go.
            let empty = std::fs::metadata(&wal).map_or(true, |m| m.len() == 0);
            if folded.is_ok() && empty && started.elapsed() > Duration::from_secs(2) {
                for file in [&wal, &shm] {
                    match std::fs::remove_file(file) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(super::StoreError::Backend(sqlx::Error::Io(e)));
                        }
                        _ => {}
                    }
                }
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                folded?;
                return Err(super::StoreError::Backend(sqlx::Error::Io(
                    std::io::Error::other(format!(
                        "{} keeps a write-ahead log that cannot be folded back into it",
                        path.display()
                    )),
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One connection to the existing database at `path`, outside any pool.
    async fn single(path: &Path) -> Result<SqliteConnection, super::StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(false)
            .busy_timeout(Duration::from_secs(30));
        Ok(SqliteConnection::connect_with(&options).await?)
    }

    /// Applies or checks the migrations, as `mode` says (`super::migrations`).
    pub(super) async fn run_migrations(
        &self,
        mode: super::migrations::Migrations,
    ) -> Result<(), super::StoreError> {
        let (recorded,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.pool)
        .await?;
        let applied: Vec<super::migrations::Applied> = if recorded > 0 {
            sqlx::query_as(super::migrations::APPLIED)
                .fetch_all(&self.pool)
                .await?
        } else {
            Vec::new()
        };
        super::migrations::run(
            sqlx::migrate!("migrations/sqlite"),
            &applied,
            mode,
            &self.pool,
        )
        .await
    }

    /// The connection pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The database file a SQLite URL (`sqlite://PATH`, `sqlite:PATH` or a plain path) names, or
/// `None` for a database in memory.
pub(crate) fn sqlite_file(url: &str) -> Result<Option<PathBuf>, super::StoreError> {
    let url = if url.starts_with("sqlite:") {
        url.to_owned()
    } else {
        format!("sqlite://{url}")
    };
    let file = SqliteConnectOptions::from_str(&url)?
        .get_filename()
        .to_owned();
    Ok((!in_memory(&file)).then_some(file))
}

/// Whether `file` names a database in memory (sqlx's name for one, or a `file:` URI).
fn in_memory(file: &Path) -> bool {
    file.to_str()
        .is_none_or(|f| f.starts_with("file:") || f == ":memory:")
}

/// Creates the database file `file`, if it is missing, readable and writable by its owner alone
/// (SQLite would create it with the process's umask, usually readable by everyone).
fn create_private(file: &Path) -> Result<(), super::StoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    if file.exists() {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(sqlx::Error::Io(e).into()),
    }
}

/// The lock file beside the database `file`: `FILE.lock`, which never holds anything.
pub(crate) fn lock_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn open_lock_file(file: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(lock_path(file))
}

/// A shared lock on the database's lock file (`flock`, which SQLite's own POSIX locks do not
/// touch): refused while a restore holds it exclusively. None where the lock file cannot be
/// made (a folder this process may only read): a restore, which must write there, cannot run.
fn lock_shared(file: &Path) -> Result<Option<File>, super::StoreError> {
    let Ok(lock) = open_lock_file(file) else {
        return Ok(None);
    };
    match lock.try_lock_shared() {
        Ok(()) => Ok(Some(lock)),
        Err(std::fs::TryLockError::WouldBlock) => Err(super::StoreError::Unavailable {
            outage: super::Outage::Unreachable,
            cause: format!(
                "{} is being restored (its lock file is held by 'wexqs restore')",
                file.display()
            ),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(sqlx::Error::Io(e).into()),
    }
}

/// The database file `file` locked against every process that would open it, or `None` when a
/// process (a server, a command) has it open now. Held until the file handed back is dropped.
pub(crate) fn lock_exclusively(file: &Path) -> std::io::Result<Option<File>> {
    let lock = open_lock_file(file)?;
    match lock.try_lock() {
        Ok(()) => Ok(Some(lock)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// When this process last saw SQLite refuse a write for its file or disk (milliseconds since the
/// Unix epoch; 0: never).
static LAST_FILE_FAULT_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Records that SQLite refused a write for its file or disk (read-only, full, failing). A
/// connection opened while the file could not be written stays read-only for life, so every
/// connection opened before the fault is retired as it comes back to the pool; writes recover
/// by themselves, with fresh connections, once the file can be written again.
pub(super) fn note_file_fault() {
    LAST_FILE_FAULT_MS.store(now_ms(), Ordering::Relaxed);
}

fn opened_before_last_file_fault(age: Duration) -> bool {
    let fault = LAST_FILE_FAULT_MS.load(Ordering::Relaxed);
    fault != 0 && now_ms().saturating_sub(age.as_millis() as u64) <= fault
}

/// Whether a connection given back to the pool may serve again: only if no transaction is left
/// open on it. When a COMMIT fails for want of disk (or a failed write), SQLite rolls the whole
/// transaction back itself; sqlx still counts it open, its `ROLLBACK` then fails ("no
/// transaction is active"), and the count stays up. A connection left so would start its next
/// transaction with `SAVEPOINT` instead of `BEGIN`; after a second such failure SQLite keeps an
/// empty transaction open, and the next "commit" merely releases a savepoint inside it: success
/// answered for a write no one else sees, lost when the connection closes. Such a connection is
/// closed instead (closing rolls back whatever it held), and the pool opens a fresh one.
async fn ended_cleanly(connection: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    if !connection.is_in_transaction() {
        return Ok(true);
    }
    // A dropped transaction queued its rollback: it has run once the ping answers.
    connection.ping().await?;
    let clean = !connection.is_in_transaction();
    if !clean {
        tracing::warn!(
            "a SQLite connection was left in a transaction SQLite had already ended: closed"
        );
    }
    Ok(clean)
}

/// The shared SQL (`sql.rs`) runs on this database's pool: that is its `EventStore`.
impl SqlStore for SqliteStore {
    type Driver = sqlx::Sqlite;
    fn pool(&self) -> &SqlitePool {
        &self.pool
    }
    async fn apply_migrations(&self) -> Result<(), StoreError> {
        self.run_migrations(super::migrations::Migrations::Apply)
            .await
    }
}
