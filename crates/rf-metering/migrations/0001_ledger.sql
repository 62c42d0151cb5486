-- The cost ledger: one row per model call, local or cloud, answered or not.
-- Amounts are integer micro-dollars. `month` (YYYY-MM, UTC) is what budgets
-- are counted by.
CREATE TABLE model_calls (
    id                 INTEGER PRIMARY KEY,
    at_ms              INTEGER NOT NULL,
    month              TEXT NOT NULL,
    workspace_id       TEXT,
    user_id            TEXT NOT NULL,
    agent_id           TEXT,
    run_id             TEXT,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cached_tokens      INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    usage_estimated    INTEGER NOT NULL,
    latency_ms         INTEGER NOT NULL,
    cost_micro_usd     INTEGER NOT NULL,
    cache_hit          INTEGER NOT NULL,
    -- `ok`, `cancelled`, or the error's code (`rate_limited`, `timeout`, ...).
    outcome            TEXT NOT NULL
);
CREATE INDEX model_calls_workspace_month ON model_calls (workspace_id, month);
CREATE INDEX model_calls_user_month ON model_calls (user_id, month);

-- Money set aside for calls in flight: reserved before a call is sent,
-- replaced by its model_calls row when it ends. A crashed process's rows
-- lapse at expires_at_ms.
CREATE TABLE budget_reservations (
    id               INTEGER PRIMARY KEY,
    month            TEXT NOT NULL,
    workspace_id     TEXT,
    user_id          TEXT NOT NULL,
    amount_micro_usd INTEGER NOT NULL,
    expires_at_ms    INTEGER NOT NULL
);

-- Monthly limits set by the user; a scope without a row has the default.
CREATE TABLE budgets (
    scope            TEXT NOT NULL CHECK (scope IN ('workspace', 'user')),
    subject          TEXT NOT NULL,
    limit_micro_usd  INTEGER NOT NULL CHECK (limit_micro_usd >= 0),
    PRIMARY KEY (scope, subject)
) WITHOUT ROWID;

-- Answers to identical requests, keyed by the sha256 of the request.
CREATE TABLE response_cache (
    request_sha256 BLOB PRIMARY KEY NOT NULL,
    provider       TEXT NOT NULL,
    model          TEXT NOT NULL,
    completion     TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    expires_at_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX response_cache_expiry ON response_cache (expires_at_ms);
