-- Market signals: one value per series and day, per workspace, local to
-- this device (not synced). `day` counts days since 1970-01-01 (UTC). A
-- sweep that runs twice in a day replaces the day's value. `evidence` is
-- JSON: what the value was read from (the connector, the endpoint, the
-- query, a few titles and URLs).
CREATE TABLE signal_points (
    workspace_id   TEXT NOT NULL,
    series         TEXT NOT NULL,
    day            INTEGER NOT NULL,
    value          REAL NOT NULL,
    evidence       TEXT NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, series, day)
) WITHOUT ROWID;
