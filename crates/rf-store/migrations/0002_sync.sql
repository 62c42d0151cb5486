-- This device's id, used in its sync peer id (`<user>/<device>`).
CREATE TABLE device (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    device_id TEXT NOT NULL
);

-- Workspaces shared through a sync server. The token itself is in the OS
-- keyring, never here.
CREATE TABLE sync_bindings (
    workspace_id          TEXT PRIMARY KEY NOT NULL,
    server_url            TEXT NOT NULL,
    server_workspace_id   TEXT NOT NULL,
    server_workspace_name TEXT NOT NULL,
    user_name             TEXT NOT NULL,
    role                  TEXT NOT NULL,
    joined_at_ms          INTEGER NOT NULL,
    last_sync_at_ms       INTEGER,
    last_error            TEXT
) WITHOUT ROWID;
