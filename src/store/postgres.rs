//! The PostgreSQL event store: for production and for many stateless instances sharing one
//! primary; writers serialise on the `log_head` row lock.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use super::StoreError;
use super::sql::SqlStore;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects with `pooling`, closing connections idle for ten seconds.
    pub(crate) async fn connect_pooled(
        url: &str,
        pooling: super::Pooling,
    ) -> Result<PostgresStore, super::StoreError> {
        let options = PgConnectOptions::from_str(url)?
            .statement_cache_capacity(super::sql::POSTGRES_STATEMENT_CACHE);
        check_root_certificate(url, &options)?;
        // One direct connection first, retried while the database is starting: the pool would
        // retry a refused connection until its timeout and then say only that it timed out,
        // where this says why ("Connection refused", an unknown host, a wrong password).
        let patience = pooling.acquire_timeout.max(Duration::from_secs(5));
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let error = match tokio::time::timeout(left, PgConnection::connect_with(&options)).await
            {
                Ok(Ok(conn)) => {
                    let _ = conn.close().await;
                    break;
                }
                Ok(Err(e)) => super::StoreError::from(e),
                Err(_) => super::StoreError::Unavailable {
                    outage: super::Outage::Unreachable,
                    cause: format!(
                        "no answer from the database within {} s",
                        patience.as_secs()
                    ),
                },
            };
            let starting = error.outage() == Some(super::Outage::Unreachable);
            if !starting || tokio::time::Instant::now() + Duration::from_millis(200) >= deadline {
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Lazily after that: a database that goes away later comes back without a restart,
        // each query waiting at most `acquire_timeout` for a connection meanwhile.
        let pool = PgPoolOptions::new()
            .max_connections(pooling.max_connections)
            .idle_timeout(Duration::from_secs(10))
            .acquire_timeout(pooling.acquire_timeout)
            .connect_lazy_with(options);
        Ok(PostgresStore { pool })
    }

    /// Applies or checks the migrations, as `mode` says (`super::migrations`).
    pub(super) async fn run_migrations(
        &self,
        mode: super::migrations::Migrations,
    ) -> Result<(), super::StoreError> {
        let (recorded,): (bool,) =
            sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await?;
        let applied: Vec<super::migrations::Applied> = if recorded {
            sqlx::query_as(super::migrations::APPLIED)
                .fetch_all(&self.pool)
                .await?
        } else {
            Vec::new()
        };
        super::migrations::run(
            sqlx::migrate!("migrations/postgres"),
            &applied,
            mode,
            &self.pool,
        )
        .await
    }

    /// The connection pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Checks that the authority's certificate a verifying `sslmode` trusts (`sslrootcert` in `url`,
/// or `PGSSLROOTCERT`) can be read: sqlx would say only "No such file or directory", naming no
/// file, and as if the network had failed.
fn check_root_certificate(url: &str, options: &PgConnectOptions) -> Result<(), super::StoreError> {
    use sqlx::postgres::PgSslMode;
    if !matches!(
        options.get_ssl_mode(),
        PgSslMode::VerifyCa | PgSslMode::VerifyFull
    ) {
        return Ok(());
    }
    let in_url = url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .filter(|(k, _)| matches!(&**k, "sslrootcert" | "ssl-root-cert" | "ssl-ca"))
            .last()
            .map(|(_, v)| v.into_owned())
    });
    let Some(root) = in_url.or_else(|| std::env::var("PGSSLROOTCERT").ok()) else {
        return Ok(());
    };
    let trimmed = root.trim();
    if trimmed.starts_with("-----BEGIN") {
        return Ok(()); // the certificate itself, not a file's name
    }
    match std::fs::File::open(trimmed) {
        Ok(_) => Ok(()),
        Err(e) => Err(super::StoreError::Unavailable {
            outage: super::Outage::Tls,
            cause: format!(
                "the authority's certificate (sslrootcert) {trimmed} cannot be read: {e}"
            ),
        }),
    }
}

/// One connection to the database at `url`, without migrating it: for the backup's and the
/// restore's questions about a database as a whole.
async fn connect_once(url: &str) -> Result<PgConnection, super::StoreError> {
    Ok(PgConnection::connect_with(&PgConnectOptions::from_str(url)?).await?)
}

/// How many other client sessions are connected to the database at `url` (a running instance
/// keeps at least one while it follows the log; PostgreSQL's own workers, such as autovacuum's,
/// are not counted).
pub(crate) async fn other_sessions(url: &str) -> Result<u64, super::StoreError> {
    let mut conn = connect_once(url).await?;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend'",
    )
    .fetch_one(&mut conn)
    .await?;
    let _ = conn.close().await;
    Ok(n.max(0) as u64)
}

/// How many events the log at `url` holds, or `None` when the database holds no log (it has
/// never been migrated).
pub(crate) async fn log_size(url: &str) -> Result<Option<u64>, super::StoreError> {
    let mut conn = connect_once(url).await?;
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass('log_head') IS NOT NULL")
        .fetch_one(&mut conn)
        .await?;
    let size = if exists {
        let row: Option<(i64,)> = sqlx::query_as("SELECT size FROM log_head")
            .fetch_optional(&mut conn)
            .await?;
        Some(row.map_or(0, |(n,)| n.max(0) as u64))
    } else {
        None
    };
    let _ = conn.close().await;
    Ok(size)
}

/// Creates the empty database `name` on the server of `url` (the role needs CREATEDB).
pub(crate) async fn create_database(url: &str, name: &str) -> Result<(), super::StoreError> {
    let mut conn = connect_once(url).await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok(())
}

/// Drops the database `name` on the server of `url`, closing its sessions.
pub(crate) async fn drop_database(url: &str, name: &str) -> Result<(), super::StoreError> {
    let mut conn = connect_once(url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok(())
}

/// The shared SQL (`sql.rs`) runs on this database's pool: that is its `EventStore`.
impl SqlStore for PostgresStore {
    type Driver = sqlx::Postgres;
    fn pool(&self) -> &PgPool {
        &self.pool
    }
    async fn apply_migrations(&self) -> Result<(), StoreError> {
        self.run_migrations(super::migrations::Migrations::Apply)
            .await
    }
}
