//! The PostgreSQL event store: for production and for many stateless instances sharing one
//! primary; writers serialise on the `log_head` row lock.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> Result<PostgresStore, super::StoreError> {
        PostgresStore::connect_with(url, 16).await
    }

    /// Connects with at most `max_connections`, closing connections idle for ten seconds.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
    ) -> Result<PostgresStore, super::StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .idle_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        Ok(PostgresStore { pool })
    }

    async fn run_migrations(&self) -> Result<(), super::StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// The connection pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

super::sql::shared_sql_store!(PostgresStore, sqlx::Postgres);
