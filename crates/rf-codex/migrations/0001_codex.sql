-- The Codex's local index: derived from the workspace's source documents on
-- each device (chunks, embeddings, keyword index), never synced. Deleting
-- this file loses nothing; it is rebuilt on the next search.

CREATE TABLE codex_sources (
    workspace_id TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    -- sha256 of the imported file; differs from the index entry's when the
    -- source changed since it was indexed here.
    content_hash TEXT NOT NULL,
    path         TEXT NOT NULL,
    title        TEXT NOT NULL,
    -- The embedding model the chunks were embedded with.
    model_id     TEXT NOT NULL,
    n_chunks     INTEGER NOT NULL,
    indexed_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, source_id)
) STRICT;

CREATE TABLE codex_chunks (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    chunk_idx    INTEGER NOT NULL,
    -- Character span of the passage in the source's text, end exclusive.
    span_start   INTEGER NOT NULL,
    span_end     INTEGER NOT NULL,
    title        TEXT NOT NULL,
    text         TEXT NOT NULL,
    -- sha256 of the model id and the embedded input: an unchanged passage
    -- reuses its vector instead of being embedded again.
    input_hash   BLOB NOT NULL,
    model_id     TEXT NOT NULL,
    -- Little-endian f32 values, unit length.
    embedding    BLOB NOT NULL,
    FOREIGN KEY (workspace_id, source_id) REFERENCES codex_sources (workspace_id, source_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX codex_chunks_by_source ON codex_chunks (workspace_id, source_id, chunk_idx);
CREATE INDEX codex_chunks_by_input ON codex_chunks (input_hash);

-- Keywords: BM25 over titles and passages, stemmed, accents folded.
CREATE VIRTUAL TABLE codex_fts USING fts5 (
    title, text,
    content = 'codex_chunks', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER codex_chunks_ai AFTER INSERT ON codex_chunks BEGIN
    INSERT INTO codex_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER codex_chunks_ad AFTER DELETE ON codex_chunks BEGIN
    INSERT INTO codex_fts (codex_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
END;
