//! The Codex: a workspace's knowledge base.
//!
//! A source's extracted text is workspace data (rf-core keeps it in a synced
//! document). What this crate keeps is derived and local, in
//! `codex.sqlite3`: the text split into passages ([`chunk`]), one embedding
//! per passage, and an FTS5 keyword index. A search embeds the query, scans
//! the workspace's vectors in memory ([`vectors`]), asks FTS5 for BM25
//! matches, and fuses the two rankings; every result carries the character
//! span of its passage in the source text, so it can be cited.

pub mod chunk;
mod error;
pub mod extract;
pub mod vectors;
pub mod walk;

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
};

use rf_ai::{Embedder, ModelId};
use rf_domain::{SourceId, WorkspaceId};
use sha2::{Digest, Sha256};
use sqlx::{Row, SqlitePool, migrate::Migrator};

pub use chunk::{BLOCK_BYTES, ChunkOptions, ChunkSpan, char_slice, chunk_text, chunk_text_with_progress};
pub use error::{CodexError, FileProblem, Result, format_bytes};
pub use extract::{Extracted, Limits, MediaType, extract_file};
use vectors::VectorIndex;
pub use walk::{ExcludedDir, Found, FoundEntry, SkipReason, WalkOptions, collect_files};

/// The file, in a data directory, that holds the Codex's local index.
pub const CODEX_FILE_NAME: &str = "codex.sqlite3";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Passages embedded per call: enough to keep the matrix products busy,
/// few enough that progress moves.
const EMBED_BATCH: usize = 16;

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A source to index: its text as stored in the workspace.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub id: SourceId,
    pub path: String,
    pub title: String,
    pub media_type: String,
    pub content_hash: String,
    pub text: String,
}

/// A source as this device has indexed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedSource {
    pub content_hash: String,
    pub model_id: ModelId,
    pub n_chunks: usize,
}

impl IndexedSource {
    /// Whether this is the index of the source's current text, embedded by
    /// `model_id`: nothing to redo.
    pub fn is_current(&self, content_hash: &str, model_id: &ModelId) -> bool {
        self.content_hash == content_hash && self.model_id == *model_id
    }
}

/// What indexing one source did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexReport {
    /// Passages the source has now.
    pub n_chunks: usize,
    /// Passages run through the embedder.
    pub n_embedded: usize,
    /// Passages whose vector was already in the index.
    pub n_reused: usize,
}

/// How far indexing one source has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexProgress {
    /// Splitting the text into passages: `done_bytes` of its `n_bytes` bytes.
    Splitting { done_bytes: usize, n_bytes: usize },
    /// The text is split; `n_to_embed` of `n_chunks` passages need the embedder.
    Chunked { n_chunks: usize, n_to_embed: usize },
    /// `done` of `n_to_embed` passages embedded.
    Embedded { done: usize, n_to_embed: usize },
}

/// Which ranking a search uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchMode {
    /// Vector and keyword rankings fused by reciprocal rank.
    #[default]
    Hybrid,
    /// Cosine similarity of embeddings only.
    Vector,
    /// FTS5 BM25 only.
    Keyword,
}

impl std::str::FromStr for SearchMode {
    type Err = CodexError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hybrid" => Ok(Self::Hybrid),
            "vector" => Ok(Self::Vector),
            "keyword" => Ok(Self::Keyword),
            other => Err(CodexError::InvalidQuery(format!("unknown search mode {other:?}; use hybrid, vector or keyword"))),
        }
    }
}

/// One search result: a passage and where it comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Passage {
    pub source_id: SourceId,
    pub path: String,
    pub title: String,
    /// Characters `[start, end)` of the source's text; cutting them out of it
    /// gives `text`.
    pub span: [usize; 2],
    /// Higher is better. Hybrid: the fused reciprocal-rank score; vector:
    /// cosine similarity; keyword: negated BM25.
    pub score: f32,
    pub text: String,
}

/// Tuning of hybrid search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    pub mode: SearchMode,
    /// Results returned.
    pub k: usize,
    /// Candidates taken from each ranking before fusing.
    pub candidates: usize,
    /// Reciprocal rank fusion's constant: larger flattens the ranks.
    pub rrf_k: f32,
    /// Weight of the vector ranking against the keyword ranking's 1.0.
    pub vector_weight: f32,
    // The defaults (rrf_k 10, vector weight 2) were chosen on the retrieval
    // set in tests/fixtures/codex: the usual rrf_k of 60 with equal weights
    // let keyword noise on paraphrased questions (which match only common
    // words) push hybrid below vector search there.
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { mode: SearchMode::Hybrid, k: 10, candidates: 50, rrf_k: 10.0, vector_weight: 2.0 }
    }
}

/// The local index of one data directory.
#[derive(Debug)]
pub struct Codex {
    pool: SqlitePool,
    chunking: ChunkOptions,
    /// Each workspace's vectors for one model, loaded on first search and
    /// dropped when the workspace's passages change.
    vectors: Mutex<HashMap<(WorkspaceId, ModelId), Arc<VectorIndex>>>,
}

impl Codex {
    /// Opens (creating if missing) the index file at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        let pool = rf_store::open_sqlite(path, &MIGRATOR).await?;
        Ok(Self { pool, chunking: ChunkOptions::default(), vectors: Mutex::default() })
    }

    /// Opens the index file at `path` like [`Codex::open`], but when the file
    /// is not SQLite or fails SQLite's quick check, moves it (and its WAL and
    /// shared-memory files) aside to `<name>.damaged-<unix millis>` and starts
    /// an empty index: everything in it is derived from the workspace's
    /// documents, and the next refresh rebuilds it. Other failures
    /// (permissions, a full disk, a newer schema) are returned as they are.
    pub async fn open_or_rebuild(path: &Path) -> Result<Self> {
        let detail = match Self::open(path).await {
            Err(CodexError::Store(rf_store::StoreError::NotADatabase { detail, .. } | rf_store::StoreError::Corrupt { detail, .. })) => detail,
            other => return other,
        };
        let aside = move_aside(path)?;
        tracing::warn!(
            "the Codex index {} is damaged ({detail}): moved it to {} and rebuilding it from the workspace's documents",
            path.display(),
            aside.display()
        );
        Self::open(path).await
    }

    /// Uses other passage sizes for sources indexed from now on.
    pub fn with_chunking(mut self, chunking: ChunkOptions) -> Self {
        self.chunking = chunking;
        self
    }

    /// Closes the file.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn forget_vectors(&self, workspace: WorkspaceId) {
        self.vectors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).retain(|(w, _), _| *w != workspace);
    }

    /// The sources of `workspace` indexed on this device.
    pub async fn indexed(&self, workspace: WorkspaceId) -> Result<HashMap<SourceId, IndexedSource>> {
        let rows = sqlx::query("SELECT source_id, content_hash, model_id, n_chunks FROM codex_sources WHERE workspace_id = ?1")
            .bind(workspace.to_string())
            .fetch_all(&self.pool)
            .await?;
        let mut out = HashMap::new();
        for row in rows {
            let id: String = row.get(0);
            let id = id.parse::<SourceId>().map_err(|err| CodexError::Damaged(format!("source id {id:?}: {err}")))?;
            let n_chunks: i64 = row.get(3);
            let model_id: String = row.get(2);
            let model_id = model_id.parse::<ModelId>().map_err(|err| CodexError::Damaged(format!("source {id}: {err}")))?;
            out.insert(id, IndexedSource { content_hash: row.get(1), model_id, n_chunks: usize::try_from(n_chunks).unwrap_or(0) });
        }
        Ok(out)
    }

    /// Splits, embeds and indexes `source`, replacing what was indexed for it
    /// before. Passages whose text is unchanged keep their vectors. The old
    /// passages stay searchable until the new ones are committed, in one
    /// transaction.
    pub async fn index_source(
        &self,
        workspace: WorkspaceId,
        source: &SourceText,
        embedder: Arc<dyn Embedder>,
        progress: &mut (dyn FnMut(IndexProgress) + Send),
    ) -> Result<IndexReport> {
        let text = source.text.clone();
        let media_type = source.media_type.clone();
        let chunking = self.chunking;
        let splitter = embedder.clone();
        // Splitting runs off the runtime and says how far it got through a
        // channel, which closes when it is done.
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        let splitting = tokio::task::spawn_blocking(move || {
            let n_bytes = text.len();
            let mut report = |done_bytes| {
                let _ = sender.send(IndexProgress::Splitting { done_bytes, n_bytes });
            };
            chunk::chunk_text_with_progress(&text, &media_type, splitter.as_ref(), chunking, &mut report)
        });
        while let Some(event) = receiver.recv().await {
            progress(event);
        }
        let spans = splitting.await.map_err(|err| CodexError::Task(format!("splitting: {err}")))??;

        let model_id = embedder.model_id().clone();
        let inputs: Vec<String> = spans.iter().map(|span| embedding_input(&source.title, &span.text)).collect();
        let hashes: Vec<Vec<u8>> = inputs.iter().map(|input| input_hash(&model_id, input)).collect();

        // Vectors already known for the same input and model.
        let mut vectors: Vec<Option<Vec<f32>>> = Vec::with_capacity(spans.len());
        for hash in &hashes {
            let row = sqlx::query("SELECT embedding FROM codex_chunks WHERE input_hash = ?1 AND model_id = ?2 LIMIT 1")
                .bind(hash)
                .bind(model_id.as_str())
                .fetch_optional(&self.pool)
                .await?;
            let known = row.and_then(|row| vectors::from_bytes(row.get::<&[u8], _>(0))).filter(|v| v.len() == embedder.dimensions());
            vectors.push(known);
        }
        let mut to_embed: Vec<usize> = (0..spans.len()).filter(|&i| vectors[i].is_none()).collect();
        let n_to_embed = to_embed.len();
        progress(IndexProgress::Chunked { n_chunks: spans.len(), n_to_embed });
        // Similar lengths together: each batch pads to its longest.
        to_embed.sort_by_key(|&i| inputs[i].len());
        let mut done = 0;
        for batch in to_embed.chunks(EMBED_BATCH) {
            let batch_inputs: Vec<String> = batch.iter().map(|&i| inputs[i].clone()).collect();
            let worker = embedder.clone();
            let embedded = tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = batch_inputs.iter().map(String::as_str).collect();
                worker.embed(&refs)
            })
            .await
            .map_err(|err| CodexError::Task(format!("embedding: {err}")))??;
            for (&i, vector) in batch.iter().zip(embedded) {
                vectors[i] = Some(vector);
            }
            done += batch.len();
            progress(IndexProgress::Embedded { done, n_to_embed });
        }

        let workspace_text = workspace.to_string();
        let source_text = source.id.to_string();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM codex_sources WHERE workspace_id = ?1 AND source_id = ?2").bind(&workspace_text).bind(&source_text).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO codex_sources (workspace_id, source_id, content_hash, path, title, model_id, n_chunks, indexed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&workspace_text)
        .bind(&source_text)
        .bind(&source.content_hash)
        .bind(&source.path)
        .bind(&source.title)
        .bind(model_id.as_str())
        .bind(i64::try_from(spans.len()).unwrap_or(i64::MAX))
        .bind(rf_domain::Timestamp::now().0)
        .execute(&mut *tx)
        .await?;
        for (chunk_idx, ((span, hash), vector)) in spans.iter().zip(&hashes).zip(&vectors).enumerate() {
            let vector = vector.as_ref().ok_or_else(|| CodexError::Task("a passage was left without a vector".to_owned()))?;
            sqlx::query(
                "INSERT INTO codex_chunks (workspace_id, source_id, chunk_idx, span_start, span_end, title, text, input_hash, model_id, embedding) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(&workspace_text)
            .bind(&source_text)
            .bind(i64::try_from(chunk_idx).unwrap_or(i64::MAX))
            .bind(i64::try_from(span.start).unwrap_or(i64::MAX))
            .bind(i64::try_from(span.end).unwrap_or(i64::MAX))
            .bind(&source.title)
            .bind(&span.text)
            .bind(hash)
            .bind(model_id.as_str())
            .bind(vectors::to_bytes(vector))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.forget_vectors(workspace);
        Ok(IndexReport { n_chunks: spans.len(), n_embedded: n_to_embed, n_reused: spans.len() - n_to_embed })
    }

    /// Drops a source's passages from the index. False if it had none.
    pub async fn remove_source(&self, workspace: WorkspaceId, source: SourceId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM codex_sources WHERE workspace_id = ?1 AND source_id = ?2")
            .bind(workspace.to_string())
            .bind(source.to_string())
            .execute(&self.pool)
            .await?;
        self.forget_vectors(workspace);
        Ok(done.rows_affected() > 0)
    }

    /// Passages in a workspace's index.
    pub async fn n_chunks(&self, workspace: WorkspaceId) -> Result<usize> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM codex_chunks WHERE workspace_id = ?1").bind(workspace.to_string()).fetch_one(&self.pool).await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The workspace's vectors for the embedder's model, from memory or the file.
    pub async fn vector_index(&self, workspace: WorkspaceId, embedder: &dyn Embedder) -> Result<Arc<VectorIndex>> {
        let key = (workspace, embedder.model_id().clone());
        if let Some(index) = self.vectors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(index.clone());
        }
        let dims = embedder.dimensions();
        let n = self.n_chunks(workspace).await?;
        let mut index = VectorIndex::with_capacity(dims, n);
        let rows = sqlx::query("SELECT id, embedding FROM codex_chunks WHERE workspace_id = ?1 AND model_id = ?2 ORDER BY id")
            .bind(workspace.to_string())
            .bind(embedder.model_id().as_str())
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let id: i64 = row.get(0);
            let vector = vectors::from_bytes(row.get::<&[u8], _>(1)).ok_or_else(|| CodexError::Damaged(format!("passage {id} has a malformed vector")))?;
            if !index.push(id, &vector) {
                return Err(CodexError::Damaged(format!("passage {id} has {} dimensions, the model {}", vector.len(), dims)));
            }
        }
        let index = Arc::new(index);
        self.vectors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, index.clone());
        Ok(index)
    }

    /// What the embedder read for each passage of a workspace, in index
    /// order (the ingest benchmark's anchor embeds these again).
    pub async fn passage_inputs(&self, workspace: WorkspaceId) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT title, text FROM codex_chunks WHERE workspace_id = ?1 ORDER BY id").bind(workspace.to_string()).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|row| embedding_input(row.get(0), row.get(1))).collect())
    }

    /// Embeds a query (blocking work, off the runtime).
    pub async fn embed_query(&self, query: &str, embedder: Arc<dyn Embedder>) -> Result<Vec<f32>> {
        let query = query.to_owned();
        let mut vectors =
            tokio::task::spawn_blocking(move || embedder.embed(&[&query])).await.map_err(|err| CodexError::Task(format!("embedding the query: {err}")))??;
        vectors.pop().ok_or_else(|| CodexError::Task("the embedder returned no vector for the query".to_owned()))
    }

    /// The best passages for `query` in `workspace`.
    pub async fn search(&self, workspace: WorkspaceId, query: &str, options: SearchOptions, embedder: Arc<dyn Embedder>) -> Result<Vec<Passage>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(CodexError::InvalidQuery("the query is empty".to_owned()));
        }
        if options.k == 0 {
            return Err(CodexError::InvalidQuery("k must be at least 1".to_owned()));
        }
        let candidates = options.candidates.max(options.k);
        let vector_ranking = if options.mode == SearchMode::Keyword {
            Vec::new()
        } else {
            let query_vector = self.embed_query(query, embedder.clone()).await?;
            let index = self.vector_index(workspace, embedder.as_ref()).await?;
            let n = if options.mode == SearchMode::Vector { options.k } else { candidates };
            index.nearest(&query_vector, n)
        };
        let keyword_ranking = if options.mode == SearchMode::Vector {
            Vec::new()
        } else {
            let n = if options.mode == SearchMode::Keyword { options.k } else { candidates };
            self.keyword_ranking(workspace, query, n).await?
        };
        let ranked: Vec<(i64, f32)> = match options.mode {
            SearchMode::Vector => vector_ranking,
            SearchMode::Keyword => keyword_ranking,
            SearchMode::Hybrid => fuse(&vector_ranking, &keyword_ranking, options.rrf_k, options.vector_weight, options.k),
        };
        self.passages(&ranked).await
    }

    /// Chunk ids by BM25, best first, with the negated BM25 score.
    pub async fn keyword_ranking(&self, workspace: WorkspaceId, query: &str, n: usize) -> Result<Vec<(i64, f32)>> {
        let Some(expression) = fts_query(query) else { return Ok(Vec::new()) };
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            // CROSS JOIN keeps FTS5 as the outer loop: with a plain JOIN the
            // planner may walk the workspace's passages and run the full-text
            // query once per passage (seconds at 10k passages).
            "SELECT c.id, bm25(codex_fts, 0.5, 1.0) AS rank FROM codex_fts CROSS JOIN codex_chunks c ON c.id = codex_fts.rowid \
             WHERE codex_fts MATCH ?1 AND c.workspace_id = ?2 ORDER BY rank LIMIT ?3",
        )
        .bind(expression)
        .bind(workspace.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|row| (row.get::<i64, _>(0), -(row.get::<f64, _>(1) as f32))).collect())
    }

    async fn passages(&self, ranked: &[(i64, f32)]) -> Result<Vec<Passage>> {
        let mut out = Vec::with_capacity(ranked.len());
        for &(id, score) in ranked {
            let row = sqlx::query(
                "SELECT c.source_id, s.path, c.title, c.span_start, c.span_end, c.text FROM codex_chunks c \
                 JOIN codex_sources s ON s.workspace_id = c.workspace_id AND s.source_id = c.source_id WHERE c.id = ?1",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            // A passage replaced since the ranking was taken is skipped.
            let Some(row) = row else { continue };
            let source_id: String = row.get(0);
            let start: i64 = row.get(3);
            let end: i64 = row.get(4);
            out.push(Passage {
                source_id: source_id.parse().map_err(|err| CodexError::Damaged(format!("source id {source_id:?}: {err}")))?,
                path: row.get(1),
                title: row.get(2),
                span: [usize::try_from(start).unwrap_or(0), usize::try_from(end).unwrap_or(0)],
                score,
                text: row.get(5),
            });
        }
        Ok(out)
    }
}

/// Renames a damaged index file and its SQLite companions to
/// `<name>.damaged-<unix millis>`; returns the new name of the main file.
fn move_aside(path: &Path) -> Result<std::path::PathBuf> {
    let stamp = rf_domain::Timestamp::now().as_millis();
    let with_suffix = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    let aside = with_suffix(&format!(".damaged-{stamp}"));
    for companion in ["-wal", "-shm"] {
        let from = with_suffix(companion);
        let to = with_suffix(&format!(".damaged-{stamp}{companion}"));
        match std::fs::rename(&from, &to) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(CodexError::MoveAside { path: from, source: err });
            }
            _ => {}
        }
    }
    std::fs::rename(path, &aside).map_err(|source| CodexError::MoveAside { path: path.to_owned(), source })?;
    Ok(aside)
}

/// What the embedder reads for a passage: its source's title, then the text,
/// so that a passage about "the battery" knows which bike it is about.
fn embedding_input(title: &str, text: &str) -> String {
    if title.is_empty() { text.to_owned() } else { format!("{title}\n\n{text}") }
}

fn input_hash(model_id: &str, input: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(model_id.as_bytes());
    hasher.update([0]);
    hasher.update(input.as_bytes());
    hasher.finalize().to_vec()
}

/// Words too common to say anything about which passage is meant.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i", "in", "is", "it", "of", "on", "or", "our", "that", "the",
    "this", "to", "was", "we", "what", "when", "where", "which", "who", "why", "with", "you", "your",
];

/// The query as an FTS5 expression: each word quoted (so that no character
/// of the user's text is read as FTS5 syntax), any of them may match.
pub fn fts_query(query: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()) {
        let word = word.to_lowercase();
        if word.is_empty() || STOP_WORDS.contains(&word.as_str()) || terms.contains(&word) {
            continue;
        }
        terms.push(word);
    }
    if terms.is_empty() {
        return None;
    }
    Some(terms.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" OR "))
}

/// Reciprocal rank fusion: each ranking adds `weight / (rrf_k + rank)`.
pub fn fuse(vector: &[(i64, f32)], keyword: &[(i64, f32)], rrf_k: f32, vector_weight: f32, k: usize) -> Vec<(i64, f32)> {
    let mut scores: HashMap<i64, f32> = HashMap::new();
    for (rank, (id, _)) in vector.iter().enumerate() {
        *scores.entry(*id).or_default() += vector_weight / (rrf_k + rank as f32 + 1.0);
    }
    for (rank, (id, _)) in keyword.iter().enumerate() {
        *scores.entry(*id).or_default() += 1.0 / (rrf_k + rank as f32 + 1.0);
    }
    let mut fused: Vec<(i64, f32)> = scores.into_iter().collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    fused.truncate(k);
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_query_quotes_words_and_drops_syntax() {
        assert_eq!(fts_query("What is the KC-BAT-500's price?").as_deref(), Some("\"kc\" OR \"bat\" OR \"500\" OR \"s\" OR \"price\""));
        assert_eq!(fts_query("\"NEAR(a b)\" OR *").as_deref(), Some("\"near\" OR \"b\""));
        assert_eq!(fts_query("?? the !!"), None);
    }

    #[test]
    fn fusion_rewards_agreement() {
        let vector = [(1, 0.9), (2, 0.8), (3, 0.7)];
        let keyword = [(3, 5.0), (4, 4.0)];
        let fused = fuse(&vector, &keyword, 60.0, 1.0, 3);
        assert_eq!(fuse(&[(1, 0.5)], &[(2, 9.0)], 10.0, 2.0, 2), vec![(1, 2.0 / 11.0), (2, 1.0 / 11.0)], "the heavier vector ranking wins a tie of ranks");
        assert_eq!(fused[0].0, 3);
        assert_eq!(fused.iter().map(|f| f.0).collect::<Vec<_>>(), vec![3, 1, 2]);
    }
}
