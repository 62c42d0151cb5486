-- Every chunk write, in order, so that a long-lived process (the desktop app)
-- sees within a moment what another process on the same data directory (the
-- CLI) saved, and applies it to the documents it holds in memory. Entries are
-- pruned after ten minutes; a process that missed some (it was suspended)
-- re-reads every document.
CREATE TABLE chunk_log (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    key   TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);

CREATE TRIGGER samod_chunks_insert_logged AFTER INSERT ON samod_chunks BEGIN
    INSERT INTO chunk_log (key, at_ms) VALUES (NEW.key, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER samod_chunks_update_logged AFTER UPDATE ON samod_chunks BEGIN
    INSERT INTO chunk_log (key, at_ms) VALUES (NEW.key, CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
