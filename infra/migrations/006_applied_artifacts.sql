-- Per-artifact sync status a satellite reports with its applied revision (ready, syncing, pending,
-- failed with the error), shown by GET /satellites/{name}/state.
ALTER TABLE satellite_states ADD COLUMN IF NOT EXISTS applied_artifacts jsonb;
