-- ── telemetry-ingest ────────────────────────────────────────────────────────────────────────────

-- Every heartbeat and event a site reported, partitioned by day on the time the site gave it.
-- telemetry-ingest creates the daily partitions (telemetry_pYYYYMMDD) ahead of time and drops those
-- older than its retention. The key includes `at`, the partition key: a message forwarded again at any
-- later time carries the same id and the same `at`, so it lands on the same key and is never stored
-- twice, whatever the hub's dedupe window. The key also serves "one site's telemetry in a time range".
CREATE TABLE telemetry (
  satellite    text NOT NULL,
  at           timestamptz NOT NULL,
  -- the site's OUTBOX message id (Nats-Msg-Id), else a hash of subject and body
  msg_id       text NOT NULL,
  -- heartbeat, sync, … (the last token of uplink.telemetry.<satellite>.<kind>)
  kind         text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  body         jsonb NOT NULL,
  PRIMARY KEY (satellite, at, msg_id)
) PARTITION BY RANGE (at);

-- The latest heartbeat of each site that ever sent one. `status` is the last evaluated status
-- (online, stale, offline), recorded by telemetry-ingest's sweep; readers evaluate it again from
-- last_heartbeat_at. Not tied to satellites: telemetry of a deleted site ages out on its own.
CREATE TABLE satellite_status (
  satellite          text PRIMARY KEY,
  status             text NOT NULL CHECK (status IN ('online', 'stale', 'offline')),
  status_since       timestamptz NOT NULL DEFAULT now(),
  -- the newest heartbeat's `at` (never later than when it was received)
  last_heartbeat_at  timestamptz NOT NULL,
  interval_seconds   integer NOT NULL CHECK (interval_seconds > 0),
  heartbeat          jsonb NOT NULL,
  -- the newest full inventory (heartbeats carry it only when it changed) and the `at` of its heartbeat
  inventory          jsonb,
  inventory_at       timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
);
