//! The PostgreSQL backend, for teams that run several server instances on one
//! database. Chunk keys are content addressed, so two instances writing the
//! same document never overwrite each other's changes, and a trigger
//! announces every inserted chunk so that the other instances can pass it on
//! to their clients live (see [`PostgresBackend::open_chunk_feed`]).
//!
//! The trigger (migration 0003) fires once per statement, and a group commit
//! puts its chunks in one statement, so one notification carries many keys:
//! `"<writer's application_name>\n<key>\n<key>..."`, split where it would
//! pass PostgreSQL's 8,000-byte payload limit. It fires on insert only: a
//! chunk written again (an instance re-saving a change another relayed to
//! it, under the same content-addressed key) is news to nobody.

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};
use tokio::sync::mpsc;

use super::{Result, StoreError, redact_url, sql_backend};

/// The channel the `chunks_notify` trigger (migration 0003) announces on.
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
    async fn open_chunk_feed(&self) -> Result<Option<mpsc::Receiver<Vec<String>>>> {
        let action = "listening for other instances' changes";
        let mut listener = PgListener::connect_with(&self.pool).await.map_err(super::query(action))?;
        listener.listen(CHUNK_CHANNEL).await.map_err(super::query(action))?;
        let (tx, rx) = mpsc::channel(1024);
        let instance = self.instance.clone();
        tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        let Some(keys) = others_keys(notification.payload(), &instance) else { continue };
                        if tx.send(keys).await.is_err() {
                            return; // the server stopped
                        }
                    }
                    Ok(None) => tracing::warn!("lost the connection that hears other instances' changes; reconnected"),
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(err) => {
                        tracing::warn!(error = %err, "could not hear other instances' changes; retrying in 1 s");
                        tokio::time::sleep(Duration::from_millis(1000)).await;
                    }
                }
            }
        });
        Ok(Some(rx))
    }
}

/// The keys a notification announces, unless this instance wrote them (or
/// the payload is not one the trigger makes).
fn others_keys(payload: &str, instance: &str) -> Option<Vec<String>> {
    let mut lines = payload.split('\n');
    let writer = lines.next()?;
    if writer == instance {
        return None;
    }
    let keys: Vec<String> = lines.filter(|key| !key.is_empty()).map(str::to_owned).collect();
    (!keys.is_empty()).then_some(keys)
}

#[cfg(test)]
mod tests {
    use super::others_keys;

    #[test]
    fn a_notification_names_its_writer_then_its_keys() {
        let payload = "raptorflow-sync/b\ndoc1/incremental/h1\ndoc2/snapshot/s1";
        assert_eq!(others_keys(payload, "raptorflow-sync/a"), Some(vec!["doc1/incremental/h1".to_owned(), "doc2/snapshot/s1".to_owned()]));
        assert_eq!(others_keys(payload, "raptorflow-sync/b"), None, "an instance skips its own writes");
        assert_eq!(others_keys("raptorflow-sync/b", "raptorflow-sync/a"), None);
        // Migration 0002's one-key format, from an instance not yet upgraded:
        // no newline, so nothing is misread as a key.
        assert_eq!(others_keys("raptorflow-sync/b doc1/incremental/h1", "raptorflow-sync/a"), None);
    }
}

sql_backend!(PostgresBackend, "postgres");
