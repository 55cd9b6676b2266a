-- ── telemetry-ingest ────────────────────────────────────────────────────────────────────────────

-- Every heartbeat and event a site reported, partitioned by day on the time the site gave it.
-- telemetry-ingest creates the daily partitions (telemetry_pYYYYMMDD) ahead of time and drops those
-- older than its retention. The key includes `at`, the partition key: a message forwarded again at any
-- later time carries the same id and the same `at`, so it lands on the same key and is never stored
-- twice, whatever the hub's dedupe window. The key also serves "one site's telemetry in a time range".
-- `body` is json, not jsonb: the text as the site sent it (validated), stored without re-encoding.
CREATE TABLE telemetry (
  satellite    text NOT NULL,
  at           timestamptz NOT NULL,
  -- the site's OUTBOX message id (Nats-Msg-Id), else a hash of subject and body
  msg_id       text NOT NULL,
  -- heartbeat, sync, … (the last token of uplink.telemetry.<satellite>.<kind>)
  kind         text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  body         json NOT NULL,
  PRIMARY KEY (satellite, at, msg_id)
) PARTITION BY RANGE (at);

-- The latest heartbeat of each site that ever sent one: when, and the few fields fleet summaries
-- count; the heartbeat itself is the telemetry row (heartbeat_at, heartbeat_msg_id), and Redis holds
-- a copy. `status` is the last evaluated status (online, stale, offline), recorded by the sweep;
-- readers evaluate it again from last_heartbeat_at. Updated once per heartbeat without touching an
-- indexed column, so fillfactor leaves room for HOT updates. Not tied to satellites: the status of a
-- deleted site ages out with its telemetry.
CREATE TABLE satellite_status (
  satellite          text PRIMARY KEY,
  status             text NOT NULL CHECK (status IN ('online', 'stale', 'offline')),
  status_since       timestamptz NOT NULL DEFAULT now(),
  -- the newest heartbeat's `at`, never later than when it was received
  last_heartbeat_at  timestamptz NOT NULL,
  interval_seconds   integer NOT NULL CHECK (interval_seconds > 0),
  heartbeat_at       timestamptz NOT NULL,
  heartbeat_msg_id   text NOT NULL,
  sync_status        text,
  applied_revision   bigint,
  versions           jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- the newest full inventory (heartbeats carry it only when it changed) and the `at` of its heartbeat
  inventory          jsonb,
  inventory_at       timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 50);
