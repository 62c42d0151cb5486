-- Local facts about the catalog itself, as key/value rows.
--
-- `entity_locations` holds `complete` when the location table lists every
-- campaign, move and asset of every workspace on this device, so that a lookup
-- miss means "not here" without reading any document. Anything else means it
-- may have holes (a sync or import that stopped before recording what it
-- brought), and the next open rebuilds it from the documents. Data
-- directories made before this table existed filled the location table lazily,
-- so they start out incomplete and get one rebuild.
CREATE TABLE catalog_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

INSERT INTO catalog_meta (key, value) VALUES ('entity_locations', 'incomplete');
