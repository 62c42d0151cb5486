//! The samod storage adapter: samod's key/value chunks in the `samod_chunks`
//! table, plus a record of which keys have been committed so that callers can
//! wait until a change is durable.
//!
//! samod's `Storage` methods cannot return errors. A failed write is retried a
//! few times; if it still fails, the key is recorded as failed so that the
//! operation waiting on it reports the failure instead of claiming success.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use samod::storage::Storage;
use samod_core::StorageKey;
use sqlx::SqlitePool;
use tokio::sync::watch;

/// Attempts per write before a key is recorded as failed.
const WRITE_ATTEMPTS: u32 = 5;

/// samod storage over SQLite. Cheap to clone: clones share the pool and the
/// record of written keys.
#[derive(Clone, Debug)]
pub struct SqliteChunkStorage {
    pool: SqlitePool,
    writes: Arc<WriteRecord>,
}

/// Which keys have been committed or have failed, and a counter that ticks on
/// every change so waiters wake up.
#[derive(Debug)]
pub(crate) struct WriteRecord {
    state: Mutex<WriteState>,
    tick: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct WriteState {
    committed: HashSet<String>,
    failed: HashMap<String, String>,
    /// The last read error, by key prefix, so a load that came back short is
    /// reported rather than mistaken for "no such document".
    read_failures: HashMap<String, String>,
}

/// What a waiter learns about a set of keys.
pub(crate) enum KeysState {
    /// Every key in one of the accepted sets is committed.
    Committed,
    /// A needed key failed to write.
    Failed(String),
    /// Not yet.
    Pending,
}

impl WriteRecord {
    fn new() -> Self {
        Self { state: Mutex::new(WriteState::default()), tick: watch::Sender::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WriteState> {
        // A panic while holding this lock cannot leave the sets inconsistent
        // (each update is a single insert), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn record_committed(&self, key: String) {
        {
            let mut state = self.lock();
            state.failed.remove(&key);
            state.committed.insert(key);
        }
        self.tick.send_modify(|n| *n += 1);
    }

    fn record_failed(&self, key: String, reason: String) {
        self.lock().failed.insert(key, reason);
        self.tick.send_modify(|n| *n += 1);
    }

    fn record_read_failure(&self, prefix: String, reason: String) {
        self.lock().read_failures.insert(prefix, reason);
    }

    pub(crate) fn take_read_failure(&self, document: &str) -> Option<String> {
        let mut state = self.lock();
        let key = state.read_failures.keys().find(|prefix| prefix.starts_with(document))?.clone();
        state.read_failures.remove(&key)
    }

    /// A receiver that changes whenever a write completes or fails.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.tick.subscribe()
    }

    /// Whether all keys of `all_of`, or the single key `or_this`, are committed.
    pub(crate) fn state_of(&self, all_of: &[String], or_this: &str) -> KeysState {
        let state = self.lock();
        if state.committed.contains(or_this) || all_of.iter().all(|k| state.committed.contains(k)) {
            return KeysState::Committed;
        }
        if let Some(reason) = all_of.iter().find_map(|k| state.failed.get(k)) {
            return KeysState::Failed(reason.clone());
        }
        if let Some(reason) = state.failed.get(or_this) {
            // The snapshot failed; the change may still be written as an
            // incremental chunk, but nothing else is coming for it.
            if all_of.iter().any(|k| !state.committed.contains(k)) {
                return KeysState::Failed(reason.clone());
            }
        }
        KeysState::Pending
    }
}

impl SqliteChunkStorage {
    /// Storage over an open, migrated pool.
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool, writes: Arc::new(WriteRecord::new()) }
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(crate) fn writes(&self) -> &Arc<WriteRecord> {
        &self.writes
    }

    /// Total bytes and number of chunks stored under a key prefix (or all).
    pub(crate) async fn stored_bytes(&self, prefix: Option<&str>) -> Result<(u64, u64), sqlx::Error> {
        let (bytes, n): (Option<i64>, i64) = match prefix {
            Some(prefix) => {
                let (lower, upper) = prefix_bounds(prefix);
                sqlx::query_as("SELECT SUM(LENGTH(data)), COUNT(*) FROM samod_chunks WHERE key >= ? AND key < ?")
                    .bind(lower)
                    .bind(upper)
                    .fetch_one(&self.pool)
                    .await?
            }
            None => sqlx::query_as("SELECT SUM(LENGTH(data)), COUNT(*) FROM samod_chunks").fetch_one(&self.pool).await?,
        };
        Ok((u64::try_from(bytes.unwrap_or(0)).unwrap_or(0), u64::try_from(n).unwrap_or(0)))
    }

    async fn put_once(&self, key: &str, data: &[u8]) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO samod_chunks (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data")
            .bind(key)
            .bind(data)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    async fn delete_once(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM samod_chunks WHERE key = ?").bind(key).execute(&self.pool).await.map(drop)
    }
}

/// The half-open key range `[prefix/, prefix0)` holding every key under a
/// prefix: '0' is the character after '/', and no component contains '/'.
pub(crate) fn prefix_bounds(prefix: &str) -> (String, String) {
    (format!("{prefix}/"), format!("{prefix}0"))
}

/// Changes up to this size are stored as they are; automerge itself only
/// compresses larger ones.
const COMPRESS_ABOVE: usize = 256;

/// samod stores each new change as its raw chunk. A large change (a whole
/// imported campaign, a pasted article) is stored as automerge's own
/// DEFLATE-compressed change chunk instead, which `load_incremental` reads
/// as it is and which hashes to the same change.
fn compress_change_chunk(key: &StorageKey, data: Vec<u8>) -> Vec<u8> {
    let is_incremental = key.into_iter().nth(1).is_some_and(|part| part == "incremental");
    if !is_incremental || data.len() <= COMPRESS_ABOVE {
        return data;
    }
    match automerge::Change::from_bytes(data.clone()) {
        Ok(mut change) => {
            let compressed = change.bytes();
            if compressed.len() < data.len() { compressed.into_owned() } else { data }
        }
        Err(err) => {
            tracing::warn!(%key, error = %err, "storing an unparseable change chunk uncompressed");
            data
        }
    }
}

fn parse_key(key: &str) -> Option<StorageKey> {
    StorageKey::from_parts(key.split('/')).ok()
}

async fn with_retries<F, Fut>(what: &str, key: &str, mut attempt: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), sqlx::Error>>,
{
    let mut delay = Duration::from_millis(20);
    let mut last_error = String::new();
    for n_attempt in 1..=WRITE_ATTEMPTS {
        match attempt().await {
            Ok(()) => return Ok(()),
            // The store is closing (the command is done): retrying cannot
            // help, and the caller decides whether that matters.
            Err(sqlx::Error::PoolClosed) => return Err(sqlx::Error::PoolClosed.to_string()),
            Err(err) => {
                tracing::warn!(key, attempt = n_attempt, error = %err, "storage {what} failed");
                last_error = err.to_string();
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }
    tracing::error!(key, error = %last_error, "storage {what} failed after {WRITE_ATTEMPTS} attempts");
    Err(last_error)
}

impl Storage for SqliteChunkStorage {
    async fn load(&self, key: StorageKey) -> Option<Vec<u8>> {
        let key = key.to_string();
        match sqlx::query_scalar("SELECT data FROM samod_chunks WHERE key = ?").bind(&key).fetch_optional(&self.pool).await {
            Ok(data) => data,
            Err(err) => {
                tracing::error!(key, error = %err, "storage load failed");
                self.writes.record_read_failure(key, err.to_string());
                None
            }
        }
    }

    async fn load_range(&self, prefix: StorageKey) -> HashMap<StorageKey, Vec<u8>> {
        let prefix_text = prefix.to_string();
        let rows: Result<Vec<(String, Vec<u8>)>, _> = if prefix_text.is_empty() {
            sqlx::query_as("SELECT key, data FROM samod_chunks").fetch_all(&self.pool).await
        } else {
            let (lower, upper) = prefix_bounds(&prefix_text);
            sqlx::query_as("SELECT key, data FROM samod_chunks WHERE key = ? OR (key >= ? AND key < ?)")
                .bind(&prefix_text)
                .bind(lower)
                .bind(upper)
                .fetch_all(&self.pool)
                .await
        };
        match rows {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|(key, data)| match parse_key(&key) {
                    Some(key) => Some((key, data)),
                    None => {
                        tracing::warn!(key, "ignoring a chunk with a malformed key");
                        None
                    }
                })
                .collect(),
            Err(err) => {
                tracing::error!(prefix = prefix_text, error = %err, "storage range load failed");
                self.writes.record_read_failure(prefix_text, err.to_string());
                HashMap::new()
            }
        }
    }

    async fn put(&self, key: StorageKey, data: Vec<u8>) {
        let data = compress_change_chunk(&key, data);
        let key = key.to_string();
        match with_retries("put", &key, || self.put_once(&key, &data)).await {
            Ok(()) => self.writes.record_committed(key),
            Err(reason) => self.writes.record_failed(key, reason),
        }
    }

    async fn delete(&self, key: StorageKey) {
        let key = key.to_string();
        // A failed delete leaves a chunk that is already covered by a
        // snapshot: extra bytes, never lost data. samod deletes it again
        // after the next load. samod may still be deleting compacted chunks
        // when the store closes at the end of a command; that is not worth
        // a warning.
        if self.pool.is_closed() {
            tracing::debug!(key, "skipped deleting a compacted chunk: the store is closed");
            return;
        }
        if let Err(reason) = with_retries("delete", &key, || self.delete_once(&key)).await {
            tracing::debug!(key, reason, "a compacted chunk stays until the next compaction");
        }
    }
}
