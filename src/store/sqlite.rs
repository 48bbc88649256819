//! The SQLite event store: the embedded default, one file in the data folder, WAL journal and
//! `synchronous=FULL` so that an acknowledged append survives a crash or power cut.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection, SqlitePool};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH` or a plain path).
    pub async fn open(url: &str) -> Result<SqliteStore, super::StoreError> {
        let url = if url.starts_with("sqlite:") {
            url.to_owned()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&url)?
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
        Ok(SqliteStore { pool })
    }

    async fn run_migrations(&self) -> Result<(), super::StoreError> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    /// The connection pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
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

super::sql::shared_sql_store!(SqliteStore, sqlx::Sqlite);
