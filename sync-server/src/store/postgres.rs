//! The PostgreSQL backend, for teams that run several server instances on one
//! database. Chunk keys are content addressed, so two instances writing the
//! same document never overwrite each other's changes.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgPoolOptions};

use super::{Result, StoreError, redact_url, sql_backend};

#[derive(Debug, Clone)]
pub struct PostgresBackend {
    pool: PgPool,
}

impl PostgresBackend {
    pub async fn open(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|source| StoreError::Open { url: redact_url(url), source })?;
        // Two instances starting together must not both run the migration;
        // sqlx takes an advisory lock on PostgreSQL for exactly this.
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
}

sql_backend!(PostgresBackend, "postgres");
