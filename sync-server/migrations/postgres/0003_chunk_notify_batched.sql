-- Announce inserted chunks once per statement instead of once per row, and
-- not on update. A group commit inserts its chunks in one statement, so one
-- notification now carries many keys:
--   "<writer's application_name>\n<key>\n<key>..."
-- split where a payload would pass PostgreSQL's 8,000-byte limit. A chunk
-- written again under the same (content-addressed) key is an update: an
-- instance re-saving a change that another relayed to it, which every
-- instance has already heard of.
DROP TRIGGER chunks_notify ON chunks;
DROP FUNCTION raptorflow_notify_chunk();

CREATE FUNCTION raptorflow_notify_chunks() RETURNS trigger AS $$
DECLARE
    writer  text := current_setting('application_name');
    payload text := writer;
    chunk_key text;
BEGIN
    FOR chunk_key IN SELECT key FROM inserted_chunks LOOP
        IF octet_length(payload) + 1 + octet_length(chunk_key) > 7900 AND payload <> writer THEN
            PERFORM pg_notify('raptorflow_chunks', payload);
            payload := writer;
        END IF;
        payload := payload || E'\n' || chunk_key;
    END LOOP;
    IF payload <> writer THEN
        PERFORM pg_notify('raptorflow_chunks', payload);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER chunks_notify
    AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS inserted_chunks
    FOR EACH STATEMENT EXECUTE FUNCTION raptorflow_notify_chunks();
