//! What other processes saved to the same data directory. Every chunk write
//! is logged (migration 0004) in order; a long-lived [`DocStore`] polls the
//! log and loads the new chunks of a document into the copy it holds in
//! memory, so that its reads show them without reopening.

use std::collections::{BTreeMap, BTreeSet};

use samod::DocumentId;

use crate::{DocId, DocStore, Result, StoreError, chunk_storage::prefix_bounds};

/// How long chunk log entries are kept.
pub const CHUNK_LOG_KEEP_MS: i64 = 10 * 60 * 1000;

/// Documents written since a point of the chunk log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    /// The newest entry read: pass it to the next call.
    pub seq: i64,
    /// Documents with chunks written after the given point, in id order,
    /// each with the keys of those chunks.
    pub documents: Vec<(DocId, Vec<String>)>,
    /// Entries after the given point were pruned before they were read:
    /// anything may have changed.
    pub gap: bool,
}

impl DocStore {
    /// The newest entry of the chunk log (0 when it is empty).
    pub async fn change_seq(&self) -> Result<i64> {
        let (seq,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM chunk_log")
            .fetch_one(self.storage.pool())
            .await
            .map_err(|source| StoreError::Query { action: "reading the chunk log", source })?;
        Ok(seq.unwrap_or(0))
    }

    /// The documents written after `seq`.
    pub async fn changed_since(&self, seq: i64) -> Result<Changed> {
        let pool = self.storage.pool();
        let (oldest,): (Option<i64>,) = sqlx::query_as("SELECT MIN(seq) FROM chunk_log")
            .fetch_one(pool)
            .await
            .map_err(|source| StoreError::Query { action: "reading the chunk log", source })?;
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT seq, key FROM chunk_log WHERE seq > ? ORDER BY seq")
            .bind(seq)
            .fetch_all(pool)
            .await
            .map_err(|source| StoreError::Query { action: "reading the chunk log", source })?;
        let newest = rows.last().map_or(seq, |(seq, _)| *seq);
        let mut by_document: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, key) in rows {
            if let Some(document) = key.split('/').next() {
                by_document.entry(document.to_owned()).or_default().insert(key);
            }
        }
        let documents = by_document.into_iter().filter_map(|(id, keys)| Some((DocId(id.parse::<DocumentId>().ok()?), keys.into_iter().collect()))).collect();
        let gap = oldest.is_some_and(|oldest| oldest > seq + 1);
        Ok(Changed { seq: newest, documents, gap })
    }

    /// Every document with chunks stored, for a re-read after a gap.
    pub async fn stored_documents(&self) -> Result<Vec<DocId>> {
        let keys: Vec<(String,)> = sqlx::query_as("SELECT key FROM samod_chunks")
            .fetch_all(self.storage.pool())
            .await
            .map_err(|source| StoreError::Query { action: "reading the chunk log", source })?;
        let documents: BTreeSet<String> = keys.iter().filter_map(|(key,)| key.split('/').next().map(str::to_owned)).collect();
        Ok(documents.iter().filter_map(|id| id.parse::<DocumentId>().ok()).map(DocId).collect())
    }

    /// Loads stored chunks of `doc_id` into the document held in memory
    /// (chunks it has already change nothing): the chunks under `keys`, or
    /// every chunk of the document if `keys` is empty or one of them is gone
    /// (compacted into a snapshot). Returns whether its heads moved.
    pub async fn refresh(&self, doc_id: &DocId, keys: &[String]) -> Result<bool> {
        let document = doc_id.to_string();
        let pool = self.storage.pool();
        let query = |source| StoreError::Query { action: "reading changed chunks", source };
        let mut chunks: Vec<(Vec<u8>,)> = Vec::with_capacity(keys.len());
        for key in keys {
            match sqlx::query_as("SELECT data FROM samod_chunks WHERE key = ?").bind(key).fetch_optional(pool).await.map_err(query)? {
                Some(chunk) => chunks.push(chunk),
                None => {
                    chunks.clear();
                    break;
                }
            }
        }
        if chunks.is_empty() {
            let (lower, upper) = prefix_bounds(&format!("{document}/"));
            chunks = sqlx::query_as("SELECT data FROM samod_chunks WHERE key >= ? AND key < ?").bind(lower).bind(upper).fetch_all(pool).await.map_err(query)?;
        }
        if chunks.is_empty() {
            return Ok(false);
        }
        let handle = self.handle(doc_id).await?;
        handle
            .with_document_async(move |doc| {
                let before = doc.get_heads();
                for (bytes,) in &chunks {
                    if let Err(err) = doc.load_incremental(bytes) {
                        tracing::warn!(document, error = %err, "a stored chunk does not load");
                    }
                }
                doc.get_heads() != before
            })
            .await
            .map_err(|_| StoreError::Stopped)
    }

    /// Deletes chunk log entries older than [`CHUNK_LOG_KEEP_MS`].
    pub async fn prune_chunk_log(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM chunk_log WHERE at_ms < ?")
            .bind(now_ms - CHUNK_LOG_KEEP_MS)
            .execute(self.storage.pool())
            .await
            .map_err(|source| StoreError::Query { action: "pruning the chunk log", source })?;
        Ok(done.rows_affected())
    }
}
