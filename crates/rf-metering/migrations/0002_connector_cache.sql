-- Answers of the marketing connectors (NewsAPI, Brave Search, ...), keyed
-- by the sha256 of the service, its base URL, the path and the sorted
-- query (never the key). Only successful, well-formed answers are kept.
CREATE TABLE connector_cache (
    request_sha256 BLOB PRIMARY KEY NOT NULL,
    service        TEXT NOT NULL,
    endpoint       TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX connector_cache_expiry ON connector_cache (expires_at_ms);

-- A service's calls of the day and its last call are looked up by provider.
CREATE INDEX model_calls_provider_time ON model_calls (provider, at_ms);
