-- Uplink's one schema. Each table is owned by one service, which alone writes it; others may read.
-- Names of satellites and groups are NATS subject tokens (ARCHITECTURE §3).

-- ── registration ────────────────────────────────────────────────────────────────────────────────

-- A site of the fleet. Deleting one cascades to its assignments, config and desired state.
CREATE TABLE satellites (
  name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  labels      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- set when the satellite may no longer renew its credentials
  revoked_at  timestamptz
);

-- ── state-publisher ─────────────────────────────────────────────────────────────────────────────

-- A set of artifacts from one upstream registry, assigned to satellites.
CREATE TABLE groups (
  name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  -- upstream registry base URL, e.g. http://127.0.0.1:5000
  registry    text NOT NULL,
  -- the artifacts as the operator gave them: [{ repository, tags?, digest?, platforms? }]
  artifacts   jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- the same with every tag pinned to a digest (contracts DesiredArtifact[]); a tag never resolved is absent
  resolved    jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Which satellites a group is assigned to (written by state-publisher, and by registration when it
-- creates a satellite with its groups).
CREATE TABLE group_satellites (
  group_name  text NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
  satellite   text NOT NULL REFERENCES satellites (name) ON DELETE CASCADE,
  PRIMARY KEY (group_name, satellite)
);
-- "which groups does this satellite have" (the primary key answers the other direction)
CREATE INDEX group_satellites_satellite_idx ON group_satellites (satellite);

-- Per-satellite configuration (contracts SatelliteConfig, defaults filled in).
CREATE TABLE satellite_configs (
  satellite   text PRIMARY KEY REFERENCES satellites (name) ON DELETE CASCADE,
  config      jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The current desired state of each satellite and what it last reported as applied.
CREATE TABLE satellite_states (
  satellite         text PRIMARY KEY REFERENCES satellites (name) ON DELETE CASCADE,
  -- strictly increasing per satellite, also across deletion and re-creation (see state_tombstones)
  revision          bigint NOT NULL CHECK (revision > 0),
  -- contentDigest of the document's content
  digest            text NOT NULL,
  -- the contracts DesiredState document, as published on uplink.state.<satellite>
  document          jsonb NOT NULL,
  -- "<registry>/<repository>@<digest>" -> revision that introduced the artifact (for per-artifact status)
  artifact_since    jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  -- NULL: this revision is not yet on the hub's STATE stream (the republish loop retries it)
  published_at      timestamptz,
  applied_revision  bigint,
  applied_digest    text,
  applied_at        timestamptz
);
CREATE INDEX satellite_states_unpublished_idx ON satellite_states (satellite) WHERE published_at IS NULL;

-- The record of every revision that reached the STATE stream.
CREATE TABLE published_states (
  satellite     text NOT NULL,
  revision      bigint NOT NULL,
  digest        text NOT NULL,
  published_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (satellite, revision)
);

-- Tags resolved to digests against their upstream registry; the last known digest is kept while the
-- upstream is unreachable.
CREATE TABLE tag_resolutions (
  registry     text NOT NULL,
  repository   text NOT NULL,
  tag          text NOT NULL,
  -- NULL until the upstream first answered
  digest       text,
  resolved_at  timestamptz,
  -- last attempt and, when it failed, why
  checked_at   timestamptz NOT NULL DEFAULT now(),
  last_error   text,
  PRIMARY KEY (registry, repository, tag)
);

-- Satellites whose desired state was deleted with them: keeps revisions increasing if the name comes
-- back, and lists the STATE subjects still to purge.
CREATE TABLE state_tombstones (
  satellite      text PRIMARY KEY,
  last_revision  bigint NOT NULL,
  deleted_at     timestamptz NOT NULL DEFAULT now(),
  -- NULL: uplink.state.<satellite> may still hold a message on the hub
  purged_at      timestamptz
);
CREATE INDEX state_tombstones_unpurged_idx ON state_tombstones (satellite) WHERE purged_at IS NULL;

-- SET search_path FROM CURRENT: the function finds its table whatever the deleting session's path is
CREATE FUNCTION satellite_states_tombstone() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO state_tombstones (satellite, last_revision)
  VALUES (OLD.satellite, OLD.revision)
  ON CONFLICT (satellite) DO UPDATE
    SET last_revision = GREATEST(state_tombstones.last_revision, EXCLUDED.last_revision),
        deleted_at = now(),
        purged_at = NULL;
  RETURN OLD;
END;
$$;

CREATE TRIGGER satellite_states_tombstone
  AFTER DELETE ON satellite_states
  FOR EACH ROW EXECUTE FUNCTION satellite_states_tombstone();
