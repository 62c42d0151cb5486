//! samod's storage over a [`Backend`]. samod's storage calls cannot return
//! errors, so each one is retried; a call that still fails is counted, logged
//! and marks the server unhealthy until a later storage call succeeds.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use samod::storage::Storage;
use samod_core::StorageKey;

use tokio::sync::{mpsc, oneshot};

use crate::{
    metrics::Metrics,
    store::{Backend, ChunkOp, StoreError},
};

const ATTEMPTS: u32 = 5;

/// Whether storage is working, for `/healthz`.
#[derive(Debug, Default)]
pub struct Health {
    failing: AtomicBool,
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        !self.failing.load(Ordering::Relaxed)
    }
}

/// Most chunk writes in one transaction.
const GROUP_MAX: usize = 512;
/// Writes waiting for the committer; a full queue makes writers wait.
const QUEUE: usize = 4 * GROUP_MAX;

type Queued = (ChunkOp, oneshot::Sender<()>);

/// samod's storage on the server's database.
///
/// Writes go through one committer task, which stores everything that
/// queued up while the previous transaction was committing in the next one:
/// one fsync for many changes (group commit). A write's future completes
/// only after its transaction committed, in the order writes were made.
#[derive(Debug, Clone)]
pub struct ServerStorage<B> {
    shared: Arc<Shared<B>>,
    writes: mpsc::Sender<Queued>,
}

#[derive(Debug)]
struct Shared<B> {
    backend: B,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl<B: Backend> ServerStorage<B> {
    /// Must be called within a tokio runtime: starts the committer, which
    /// ends when the last clone of this storage is dropped.
    pub fn new(backend: B, metrics: Arc<Metrics>, health: Arc<Health>) -> Self {
        let shared = Arc::new(Shared { backend, metrics, health });
        let (writes, queue) = mpsc::channel(QUEUE);
        tokio::spawn(commit_groups(shared.clone(), queue));
        Self { shared, writes }
    }

    async fn write(&self, op: ChunkOp) {
        let (done, committed) = oneshot::channel();
        if self.writes.send((op, done)).await.is_err() {
            tracing::error!("the storage committer stopped; a chunk was not stored");
            return;
        }
        // The committer answers after the transaction, failed or not.
        let _ = committed.await;
    }
}

async fn commit_groups<B: Backend>(shared: Arc<Shared<B>>, mut queue: mpsc::Receiver<Queued>) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    while queue.recv_many(&mut group, GROUP_MAX).await > 0 {
        let (ops, waiting): (Vec<ChunkOp>, Vec<oneshot::Sender<()>>) = group.drain(..).unzip();
        let first_key = match &ops[0] {
            ChunkOp::Put { key, .. } | ChunkOp::Delete { key } => key.clone(),
        };
        if shared.retry("write", &first_key, || shared.backend.chunk_write(&ops)).await.is_some() {
            Metrics::add(&shared.metrics.storage_commits_total, 1);
            Metrics::add(&shared.metrics.storage_chunk_writes_total, ops.len() as u64);
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

impl<B: Backend> Shared<B> {
    async fn retry<T, F, Fut>(&self, what: &'static str, key: &str, mut attempt: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut delay = Duration::from_millis(20);
        for n_attempt in 1..=ATTEMPTS {
            match attempt().await {
                Ok(value) => {
                    self.health.failing.store(false, Ordering::Relaxed);
                    return Some(value);
                }
                Err(err) if n_attempt < ATTEMPTS => {
                    Metrics::add(&self.metrics.storage_retries_total, 1);
                    tracing::warn!(key, attempt = n_attempt, error = %err, "storage {what} failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 3;
                }
                Err(err) => {
                    Metrics::add(&self.metrics.storage_errors_total, 1);
                    self.health.failing.store(true, Ordering::Relaxed);
                    tracing::error!(key, error = %err, "storage {what} failed after {ATTEMPTS} attempts");
                }
            }
        }
        None
    }
}

fn parse_rows(rows: Vec<(String, Vec<u8>)>) -> HashMap<StorageKey, Vec<u8>> {
    rows.into_iter()
        .filter_map(|(key, data)| match StorageKey::from_parts(key.split('/')) {
            Ok(parsed) => Some((parsed, data)),
            Err(_) => {
                tracing::warn!(key, "ignoring a chunk with a malformed key");
                None
            }
        })
        .collect()
}

impl<B: Backend> Storage for ServerStorage<B> {
    async fn load(&self, key: StorageKey) -> Option<Vec<u8>> {
        let key = key.to_string();
        let shared = &self.shared;
        shared.retry("load", &key, || shared.backend.chunk_load(&key)).await.flatten()
    }

    async fn load_range(&self, prefix: StorageKey) -> HashMap<StorageKey, Vec<u8>> {
        let prefix = prefix.to_string();
        let shared = &self.shared;
        let rows = if prefix.is_empty() {
            shared.retry("range load", "", || shared.backend.chunk_load_all()).await
        } else {
            // Every key under `prefix/`: '0' is the character after '/'.
            let (lower, upper) = (format!("{prefix}/"), format!("{prefix}0"));
            shared.retry("range load", &prefix, || shared.backend.chunk_load_range(&prefix, &lower, &upper)).await
        };
        rows.map(parse_rows).unwrap_or_default()
    }

    async fn put(&self, key: StorageKey, data: Vec<u8>) {
        self.write(ChunkOp::Put { key: key.to_string(), data }).await;
    }

    async fn delete(&self, key: StorageKey) {
        self.write(ChunkOp::Delete { key: key.to_string() }).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::store::{AnyBackend, sqlite::SqliteBackend};

    async fn storage() -> (tempfile::TempDir, ServerStorage<SqliteBackend>, Arc<Metrics>) {
        let dir = tempfile::tempdir().unwrap();
        let AnyBackend::Sqlite(backend) = AnyBackend::open(&format!("sqlite://{}", dir.path().join("sync.db").display())).await.unwrap() else {
            unreachable!("a sqlite:// URL opens SQLite")
        };
        let metrics = Arc::new(Metrics::default());
        (dir, ServerStorage::new(backend, metrics.clone(), Arc::new(Health::default())), metrics)
    }

    fn key(doc: usize, n: usize) -> StorageKey {
        StorageKey::from_parts([format!("doc{doc}"), "incremental".into(), format!("h{n}")]).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_transactions_and_each_completes_after_its_commit() {
        let (_dir, storage, metrics) = storage().await;
        let writes = (0..600).map(|i| {
            let storage = storage.clone();
            async move {
                storage.put(key(i % 7, i), vec![i as u8; 32]).await;
                // Completed means committed: a read on another connection sees it.
                assert_eq!(storage.load(key(i % 7, i)).await, Some(vec![i as u8; 32]));
            }
        });
        futures::future::join_all(writes).await;
        let commits = metrics.storage_commits_total.load(Ordering::Relaxed);
        assert_eq!(metrics.storage_chunk_writes_total.load(Ordering::Relaxed), 600);
        assert!(commits < 600, "600 writes made {commits} transactions: no grouping");
        assert!(commits >= 2, "600 writes fit in {commits} transaction, over the group limit of {GROUP_MAX}");
        let doc3 = storage.load_range(StorageKey::from_parts(["doc3"]).unwrap()).await;
        assert_eq!(doc3.len(), (0..600).filter(|i| i % 7 == 3).count());
    }

    #[tokio::test]
    async fn a_delete_queued_after_a_put_of_the_same_key_wins() {
        let (_dir, storage, _metrics) = storage().await;
        let (put, delete) = (storage.put(key(1, 1), b"chunk".to_vec()), storage.delete(key(1, 1)));
        // Queued in this order, committed in this order (possibly together).
        futures::future::join(put, delete).await;
        assert_eq!(storage.load(key(1, 1)).await, None);
        storage.put(key(1, 2), b"kept".to_vec()).await;
        assert_eq!(storage.load(key(1, 2)).await, Some(b"kept".to_vec()));
    }
}
