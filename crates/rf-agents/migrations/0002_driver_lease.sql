-- One driver per run: the process driving a run holds a lease it renews
-- while it works, so that a second `run resume` (or the app and the CLI at
-- once) cannot run the same steps twice. A lease whose process is gone, or
-- that was not renewed in time, is taken over.
ALTER TABLE runs ADD COLUMN lease_owner TEXT;
ALTER TABLE runs ADD COLUMN lease_until_ms INTEGER;
