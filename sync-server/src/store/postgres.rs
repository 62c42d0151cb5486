//! The PostgreSQL backend, for teams that run several server instances on one
//! database. Chunk keys are content addressed, so two instances writing the
//! same document never overwrite each other's changes, and a trigger
//! announces every stored chunk so that the other instances can pass it on to
//! their clients live (see [`PostgresBackend::open_chunk_feed`]).

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};
use tokio::sync::mpsc;

use super::{Result, StoreError, redact_url, sql_backend};

/// The channel the `chunks_notify` trigger (migration 0002) announces on.
const CHUNK_CHANNEL: &str = "raptorflow_chunks";

#[derive(Debug, Clone)]
pub struct PostgresBackend {
    pool: PgPool,
    /// This instance's `application_name`, which the trigger puts in front
    /// of each key so that an instance can skip its own writes.
    instance: Arc<str>,
}

impl PostgresBackend {
    pub async fn open(url: &str) -> Result<Self> {
        let instance: Arc<str> = format!("raptorflow-sync/{}", uuid::Uuid::now_v7()).into();
        let options = PgConnectOptions::from_str(url).map_err(|source| StoreError::Open { url: redact_url(url), source })?.application_name(&instance);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open { url: redact_url(url), source })?;
        // Two instances starting together must not both run the migration;
        // sqlx takes an advisory lock on PostgreSQL for exactly this.
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool, instance })
    }

    /// Listens (on one of the pool's connections) for chunks the other
    /// instances store. If the listening connection drops, it is re-made and
    /// a warning logged: changes written meanwhile reach this instance's
    /// clients when they next sync with an instance that has them.
    async fn open_chunk_feed(&self) -> Result<Option<mpsc::Receiver<String>>> {
        let action = "listening for other instances' changes";
        let mut listener = PgListener::connect_with(&self.pool).await.map_err(super::query(action))?;
        listener.listen(CHUNK_CHANNEL).await.map_err(super::query(action))?;
        let (tx, rx) = mpsc::channel(4096);
        let own_prefix = format!("{} ", self.instance);
        tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        let payload = notification.payload();
                        if payload.starts_with(&own_prefix) {
                            continue;
                        }
                        let Some((_, key)) = payload.split_once(' ') else { continue };
                        if tx.send(key.to_owned()).await.is_err() {
                            return; // the server stopped
                        }
                    }
                    Ok(None) => tracing::warn!("lost the connection that hears other instances' changes; reconnected"),
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not hear other instances' changes; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(rx))
    }
}

sql_backend!(PostgresBackend, "postgres");
