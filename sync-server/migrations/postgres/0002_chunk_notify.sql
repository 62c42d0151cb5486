-- Several server instances may share this database. Each keeps documents in
-- memory, so each must hear of chunks the others write: every stored chunk
-- is announced on `raptorflow_chunks` as "<writer's application_name> <key>",
-- delivered when the writing transaction commits.
CREATE FUNCTION raptorflow_notify_chunk() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('raptorflow_chunks', current_setting('application_name') || ' ' || NEW.key);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER chunks_notify
    AFTER INSERT OR UPDATE ON chunks
    FOR EACH ROW EXECUTE FUNCTION raptorflow_notify_chunk();
