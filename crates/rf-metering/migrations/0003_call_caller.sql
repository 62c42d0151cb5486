-- Which program made a call when it was not RaptorFlow's own shells or
-- swarm: `api` for the local OpenAI-compatible API. NULL for the rest.
ALTER TABLE model_calls ADD COLUMN caller TEXT;
