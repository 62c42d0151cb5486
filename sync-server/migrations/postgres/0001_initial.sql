-- samod's document chunks: '/'-joined storage keys, content-addressed.
CREATE TABLE chunks (
    key  TEXT PRIMARY KEY NOT NULL,
    data BYTEA NOT NULL
);

CREATE TABLE workspaces (
    workspace_id  TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL UNIQUE,
    root_document TEXT,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE members (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (workspace_id),
    user_name     TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    added_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_name)
);

-- Tokens are stored only as a salted SHA-256 of their secret.
CREATE TABLE tokens (
    token_id      TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (workspace_id),
    user_name     TEXT NOT NULL,
    salt          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

-- Which workspace each document belongs to: the workspace of the first
-- writer that sent it. Document ids are random 128-bit values.
CREATE TABLE documents (
    document_id   TEXT PRIMARY KEY NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (workspace_id),
    claimed_at_ms BIGINT NOT NULL
);

-- Bumped by every change to workspaces, members or tokens, so that running
-- servers notice admin commands run from another process.
CREATE TABLE access_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);
