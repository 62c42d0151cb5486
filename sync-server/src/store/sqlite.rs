//! The SQLite backend: one file, WAL, full fsync on commit.

use std::{path::Path, str::FromStr, time::Duration};

use rf_store::SetupError;
use sqlx::{
    SqlitePool,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous},
};

use super::{Result, StoreError, sql_backend};

#[derive(Debug, Clone)]
pub struct SqliteBackend {
    pool: SqlitePool,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &str) -> Result<Self> {
        let url = format!("sqlite://{path}");
        if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| StoreError::Open { url: url.clone(), source: sqlx::Error::Io(err) })?;
        }
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|source| StoreError::Open { url: url.clone(), source })?
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // A server and admin commands open this file together: WAL and the
        // schema are set up under a lock they take turns on.
        static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");
        rf_store::set_up_sqlite(Path::new(path), &options, &MIGRATOR, rf_store::DamageCheck::Skip).await.map_err(|err| match err {
            SetupError::Migrate(source) => StoreError::Migrate(source),
            SetupError::Open(source) => StoreError::Open { url: url.clone(), source },
            other => StoreError::Setup { url: url.clone(), detail: other.to_string() },
        })?;
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(|source| StoreError::Open { url: url.clone(), source })?;
        Ok(Self { pool })
    }

    /// One server owns a SQLite file, so no other instance writes chunks.
    #[allow(clippy::unused_async)]
    async fn open_chunk_feed(&self) -> Result<Option<tokio::sync::mpsc::Receiver<Vec<String>>>> {
        Ok(None)
    }
}

sql_backend!(SqliteBackend, "sqlite");
