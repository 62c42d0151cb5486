//! Typed access to Automerge documents held by a samod repo over SQLite.
//!
//! Every change goes through [`DocStore::update`] (or [`DocStore::create`]),
//! which returns only after the chunks samod writes for that change are
//! committed to SQLite. samod saves each new change either as an incremental
//! chunk keyed by its change hash or, when it compacts, as a snapshot keyed by
//! a hash of the document's heads; both keys are known the moment the change
//! is made, so the wait is exact rather than a guess.

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use automerge::{
    Automerge, ChangeHash,
    transaction::{CommitOptions, Transaction},
};
use autosurgeon::{Hydrate, Reconcile};
use samod::{DocumentId, Repo};
use samod_core::{CompactionHash, StorageKey};
use sqlx::SqlitePool;

use crate::{
    Result, SqliteChunkStorage, StoreError,
    chunk_storage::{KeysState, WriteRecord},
};

/// How long a change may take to reach the database before the caller is told
/// it could not be confirmed. Generous: a busy laptop disk can stall for seconds.
const SAVE_TIMEOUT: Duration = Duration::from_secs(60);

/// The id of a stored document (samod's document id, as text in the
/// automerge-repo format, e.g. `2DrjgbFdyexuH2u3T8yB1YmxZmvd`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DocId(pub(crate) DocumentId);

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({})", self.0)
    }
}

impl FromStr for DocId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        s.parse::<DocumentId>().map(DocId).map_err(|_| StoreError::InvalidDocumentId { document: s.to_string() })
    }
}

/// Stored size of a document next to what automerge's `save()` would take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageStats {
    /// Bytes of every chunk stored for the document.
    pub stored_bytes: u64,
    /// Number of chunks stored for the document.
    pub n_chunks: u64,
    /// Bytes of a fresh `Automerge::save()` of the same document.
    pub save_bytes: u64,
}

/// How syncing one document went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Both sides have the same changes (or, without push, we have theirs).
    Synced,
    /// Neither this device nor the peer has the document (or may see it).
    Unavailable,
    /// The exchange did not finish in time.
    TimedOut,
}

/// A samod repo over SQLite, with typed, durable document operations.
#[derive(Debug, Clone)]
pub struct DocStore {
    repo: Repo,
    pub(crate) storage: SqliteChunkStorage,
}

impl DocStore {
    /// Starts a repo over the documents in `pool`. Must be called inside a
    /// tokio runtime.
    pub async fn open(pool: SqlitePool) -> Self {
        Self::open_as(pool, None).await
    }

    /// Like [`DocStore::open`], with the peer id this repo syncs as (samod
    /// picks a random one otherwise).
    pub async fn open_as(pool: SqlitePool, peer_id: Option<String>) -> Self {
        let storage = SqliteChunkStorage::new(pool);
        let mut builder = Repo::build_tokio().with_storage(storage.clone());
        if let Some(peer_id) = peer_id {
            builder = builder.with_peer_id(samod::PeerId::from(peer_id));
        }
        let repo = builder.load().await;
        Self { repo, storage }
    }

    /// The underlying samod repo, for wiring up sync.
    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    fn writes(&self) -> &Arc<WriteRecord> {
        self.storage.writes()
    }

    /// Creates a document holding `value` and returns once it is stored.
    pub async fn create<T: Reconcile>(&self, value: &T, expected: &'static str) -> Result<DocId> {
        let mut doc = Automerge::new();
        doc.transact_with::<_, _, autosurgeon::ReconcileError, _>(
            |_| CommitOptions::default().with_message(format!("create {expected}")),
            |tx| autosurgeon::reconcile(tx, value),
        )
        .map_err(|failure| StoreError::Reconcile { document: "(new)".into(), expected, source: Box::new(failure.error) })?;
        let hashes: Vec<ChangeHash> = doc.get_changes(&[]).iter().map(|c| c.hash()).collect();
        let heads = doc.get_heads();
        let handle = self.repo.create(doc).await.map_err(|_| StoreError::Stopped)?;
        let document_id = handle.document_id().clone();
        self.wait_until_saved(&document_id, &hashes, &heads).await?;
        Ok(DocId(document_id))
    }

    pub(crate) async fn handle(&self, doc_id: &DocId) -> Result<samod::DocHandle> {
        let found = self.repo.find(doc_id.0.clone()).await.map_err(|_| StoreError::Stopped)?;
        let document = doc_id.to_string();
        if let Some(reason) = self.writes().take_read_failure(&document) {
            return Err(StoreError::LoadFailed { document, reason });
        }
        found.ok_or(StoreError::DocumentNotFound { document })
    }

    /// Reads a document as a `T`.
    pub async fn read<T: Hydrate + Send + 'static>(&self, doc_id: &DocId, expected: &'static str) -> Result<T> {
        let handle = self.handle(doc_id).await?;
        handle
            .with_document_async(move |doc| autosurgeon::hydrate::<_, T>(&*doc))
            .await
            .map_err(|_| StoreError::Stopped)?
            .map_err(|source| StoreError::Hydrate { document: doc_id.to_string(), expected, source: Box::new(source) })
    }

    /// Runs `edit` in one Automerge transaction on a document and returns once
    /// the resulting change is stored. If `edit` fails the transaction is
    /// rolled back and nothing is written.
    pub async fn change<R, E, F>(&self, doc_id: &DocId, message: String, edit: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Transaction<'_>) -> Result<R, E> + Send + 'static,
    {
        let handle = self.handle(doc_id).await?;
        let (result, new_hashes, heads) = handle
            .with_document_async(move |doc| -> Result<(R, Vec<ChangeHash>, Vec<ChangeHash>), E> {
                let before = doc.get_heads();
                let success = doc.transact_with(|_| CommitOptions::default().with_message(message), edit).map_err(|failure| failure.error)?;
                let new_hashes = doc.get_changes(&before).iter().map(|c| c.hash()).collect();
                Ok((success.result, new_hashes, doc.get_heads()))
            })
            .await
            .map_err(|_| StoreError::Stopped)??;
        if !new_hashes.is_empty() {
            self.wait_until_saved(handle.document_id(), &new_hashes, &heads).await?;
        }
        Ok(result)
    }

    /// Reads a whole document as a `T`, lets `edit` change it, and writes the
    /// difference back as one change (see [`DocStore::change`]). Meant for
    /// small documents; large ones are better edited in place with `change`.
    pub async fn update<T, R, E, F>(&self, doc_id: &DocId, expected: &'static str, message: String, edit: F) -> Result<R, E>
    where
        T: Hydrate + Reconcile + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut T) -> Result<R, E> + Send + 'static,
    {
        let document = doc_id.to_string();
        self.change(doc_id, message, move |tx| {
            let mut value: T =
                autosurgeon::hydrate(&*tx).map_err(|source| StoreError::Hydrate { document: document.clone(), expected, source: Box::new(source) })?;
            let result = edit(&mut value)?;
            autosurgeon::reconcile(tx, &value).map_err(|source| StoreError::Reconcile { document, expected, source: Box::new(source) })?;
            Ok(result)
        })
        .await
    }

    /// Waits until samod has committed either an incremental chunk for every
    /// one of `hashes` or a snapshot taken at `heads`.
    async fn wait_until_saved(&self, document_id: &DocumentId, hashes: &[ChangeHash], heads: &[ChangeHash]) -> Result<()> {
        let incremental_keys: Vec<String> = hashes.iter().map(|h| StorageKey::incremental_path(document_id, *h).to_string()).collect();
        let snapshot_key = StorageKey::snapshot_path(document_id, &CompactionHash::new(heads)).to_string();
        let mut ticks = self.writes().subscribe();
        let deadline = tokio::time::Instant::now() + SAVE_TIMEOUT;
        loop {
            match self.writes().state_of(&incremental_keys, &snapshot_key) {
                KeysState::Committed => return Ok(()),
                KeysState::Failed(reason) => {
                    return Err(StoreError::NotSaved { document: document_id.to_string(), reason });
                }
                KeysState::Pending => {}
            }
            match tokio::time::timeout_at(deadline, ticks.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(StoreError::Stopped),
                Err(_) => {
                    return Err(StoreError::NotSaved {
                        document: document_id.to_string(),
                        reason: format!("the database did not confirm the write within {} s", SAVE_TIMEOUT.as_secs()),
                    });
                }
            }
        }
    }

    /// How many bytes a document takes in storage, next to its `save()` size.
    pub async fn storage_stats(&self, doc_id: &DocId) -> Result<StorageStats> {
        let handle = self.handle(doc_id).await?;
        let save_bytes = handle.with_document_async(|doc| doc.save().len() as u64).await.map_err(|_| StoreError::Stopped)?;
        let (stored_bytes, n_chunks) =
            self.storage.stored_bytes(Some(&doc_id.to_string())).await.map_err(|source| StoreError::Query { action: "measuring stored bytes", source })?;
        Ok(StorageStats { stored_bytes, n_chunks, save_bytes })
    }

    /// The document's heads (hex change hashes, sorted), to compare copies.
    pub async fn heads(&self, doc_id: &DocId) -> Result<Vec<String>> {
        let handle = self.handle(doc_id).await?;
        let mut heads: Vec<String> =
            handle.with_document_async(|doc| doc.get_heads().iter().map(|h| h.to_string()).collect()).await.map_err(|_| StoreError::Stopped)?;
        heads.sort();
        Ok(heads)
    }

    /// Syncs one document over an open connection: finds it (asking the peer
    /// if this device does not have it), then waits until we have every change
    /// the peer has and, if `push`, until the peer has every change we have.
    pub async fn sync_over(&self, doc_id: &DocId, connection: samod::ConnectionId, push: bool, timeout: Duration) -> Result<SyncOutcome> {
        let work = async {
            let handle = match self.handle(doc_id).await {
                Ok(handle) => handle,
                Err(StoreError::DocumentNotFound { .. }) => return Ok(SyncOutcome::Unavailable),
                Err(err) => return Err(err),
            };
            handle.we_have_their_changes(connection).await;
            if push {
                handle.they_have_our_changes(connection).await;
            }
            Ok(SyncOutcome::Synced)
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Ok(SyncOutcome::TimedOut),
        }
    }

    /// Stops the repo after every pending write has finished, then closes
    /// the database (which checkpoints the write-ahead log).
    pub async fn close(&self) {
        self.repo.stop().await;
        self.storage.close().await;
    }
}

#[cfg(test)]
mod tests {
    use autosurgeon::{Hydrate, Reconcile};

    use super::*;
    use crate::open_database;

    #[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
    struct Counter {
        name: String,
        items: Vec<u64>,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn changes_survive_a_reopen_and_storage_stays_near_save_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let doc_id = {
            let store = DocStore::open(open_database(&path).await.unwrap()).await;
            let doc_id = store.create(&Counter { name: "c".into(), items: vec![] }, "counter").await.unwrap();
            for i in 0..60u64 {
                store
                    .update::<Counter, _, StoreError, _>(&doc_id, "counter", format!("push {i}"), move |c| {
                        c.items.push(i);
                        Ok(())
                    })
                    .await
                    .unwrap();
            }
            // samod compacts once more than ten chunks pile up, and deletes
            // the chunks a snapshot covers along with the next change: what
            // is stored stays within a snapshot, ten new changes and the
            // eleven chunks awaiting deletion, however many changes are made.
            // The deletes are not awaited by a change, so on a busy machine
            // the last ones may land a moment later (without compaction there
            // would be 61 chunks).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let stats = loop {
                let stats = store.storage_stats(&doc_id).await.unwrap();
                if stats.n_chunks <= 22 || std::time::Instant::now() > deadline {
                    break stats;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            };
            assert!(stats.n_chunks <= 22, "{stats:?}");
            store.close().await;
            doc_id
        };
        let store = DocStore::open(open_database(&path).await.unwrap()).await;
        let counter: Counter = store.read(&doc_id, "counter").await.unwrap();
        assert_eq!(counter.items, (0..60).collect::<Vec<_>>());
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_first_change_is_stored_compressed_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let big = Counter { name: "imported ".repeat(200), items: (0..3000).collect() };
        let (doc_id, stats) = {
            let store = DocStore::open(open_database(&path).await.unwrap()).await;
            let doc_id = store.create(&big, "counter").await.unwrap();
            let stats = store.storage_stats(&doc_id).await.unwrap();
            store.close().await;
            (doc_id, stats)
        };
        let mut raw = Automerge::new();
        raw.transact::<_, _, autosurgeon::ReconcileError>(|tx| autosurgeon::reconcile(tx, &big)).unwrap();
        let raw_change_len = raw.get_changes(&[])[0].raw_bytes().len() as u64;
        assert_eq!(stats.n_chunks, 1);
        assert!(stats.stored_bytes * 4 < raw_change_len * 3, "stored {} bytes for a {raw_change_len}-byte change", stats.stored_bytes);
        let store = DocStore::open(open_database(&path).await.unwrap()).await;
        assert_eq!(store.read::<Counter>(&doc_id, "counter").await.unwrap(), big);
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_edit_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DocStore::open(open_database(&dir.path().join("db.sqlite3")).await.unwrap()).await;
        let doc_id = store.create(&Counter { name: "c".into(), items: vec![1] }, "counter").await.unwrap();
        let err = store
            .update::<Counter, (), StoreError, _>(&doc_id, "counter", "fail".into(), |c| {
                c.items.push(2);
                Err(StoreError::Stopped)
            })
            .await;
        assert!(err.is_err());
        let counter: Counter = store.read(&doc_id, "counter").await.unwrap();
        assert_eq!(counter.items, vec![1]);
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_document_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = DocStore::open(open_database(&dir.path().join("db.sqlite3")).await.unwrap()).await;
        let missing = DocId(DocumentId::try_from(vec![7u8; 16]).unwrap());
        assert_eq!(missing.to_string().parse::<DocId>().unwrap(), missing);
        let err = store.read::<Counter>(&missing, "counter").await.unwrap_err();
        assert!(matches!(err, StoreError::DocumentNotFound { .. }), "{err}");
        store.close().await;
    }
}
