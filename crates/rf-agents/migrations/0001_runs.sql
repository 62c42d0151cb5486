-- Durable swarm runs: each step is written before and after it runs, so a
-- killed run resumes from its last finished step and never pays twice.

CREATE TABLE runs (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT,
    user_id TEXT NOT NULL,
    title TEXT NOT NULL,
    -- pending, running, paused (an approval waits), blocked (dead letters),
    -- finished, failed, cancelled, stopped (budget)
    status TEXT NOT NULL,
    -- Why it stopped, failed or waits.
    reason TEXT,
    -- 0: no per-run budget.
    budget_micro_usd INTEGER NOT NULL DEFAULT 0,
    spent_micro_usd INTEGER NOT NULL DEFAULT 0,
    parallelism INTEGER NOT NULL DEFAULT 1,
    -- A process asked the driver (maybe another process) to cancel.
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE steps (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    -- 1, 2, 3... in the order steps were added to the run.
    step INTEGER NOT NULL,
    -- agent, approval
    kind TEXT NOT NULL,
    agent_id TEXT,
    -- What a human sees: "RES-001 Market Researcher" or the approval's question.
    label TEXT NOT NULL,
    -- The step that added this one (a Lord's delegation, a review round).
    parent INTEGER,
    -- Steps that must finish first (JSON array of step numbers).
    deps TEXT NOT NULL DEFAULT '[]',
    -- pending, running, done, failed (will be retried), dead (dead letter),
    -- waiting (approval), approved, rejected, cancelled, skipped, dropped
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    input TEXT NOT NULL,
    -- Data the runtime adds (feedback, earlier results), JSON.
    extra TEXT NOT NULL DEFAULT '{}',
    -- How a review loop continues after this step (JSON), if it is in one.
    review TEXT,
    output TEXT,
    error TEXT,
    note TEXT,
    provider TEXT,
    model TEXT,
    calls INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micro_usd INTEGER NOT NULL DEFAULT 0,
    -- The ledger rows of its model calls (JSON array).
    ledger_ids TEXT NOT NULL DEFAULT '[]',
    -- The executor's own time, excluding generation.
    overhead_us INTEGER NOT NULL DEFAULT 0,
    started_ms INTEGER,
    finished_ms INTEGER,
    PRIMARY KEY (run_id, step)
);

CREATE INDEX steps_status ON steps (status);

-- The run's event log, replayed by a UI opened later and tailed by
-- `run watch` in another process.
CREATE TABLE run_events (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
