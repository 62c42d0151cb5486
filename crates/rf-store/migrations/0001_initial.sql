-- Automerge document chunks written by samod: one row per storage key
-- (`<document id>/incremental/<change hash>`, `<document id>/snapshot/<heads hash>`,
-- `storage-adapter-id`). Keys are '/'-joined components that never contain '/'.
CREATE TABLE samod_chunks (
    key  TEXT PRIMARY KEY NOT NULL,
    data BLOB NOT NULL
) WITHOUT ROWID;

-- The workspaces this device holds, and the document that is each one's index.
CREATE TABLE workspaces (
    workspace_id   TEXT PRIMARY KEY NOT NULL,
    index_document TEXT NOT NULL,
    added_at_ms    INTEGER NOT NULL
) WITHOUT ROWID;

-- Where campaigns and moves live, so that a command given only a move id finds
-- its campaign document without opening every campaign. Derived data: it can
-- be rebuilt from the documents at any time.
CREATE TABLE entity_locations (
    entity_id    TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('campaign', 'move', 'asset')),
    workspace_id TEXT NOT NULL,
    campaign_id  TEXT NOT NULL
) WITHOUT ROWID;
