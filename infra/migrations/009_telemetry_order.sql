-- ── telemetry-ingest ────────────────────────────────────────────────────────────────────────────

-- Heartbeats sent in the same millisecond are ordered by their seq (per process start), so "latest"
-- is well defined: (last_heartbeat_at, heartbeat_seq) only moves forward.
ALTER TABLE satellite_status ADD COLUMN heartbeat_seq bigint NOT NULL DEFAULT 0;
