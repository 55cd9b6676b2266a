-- ── command ─────────────────────────────────────────────────────────────────────────────────────

-- A command an operator issued: one action for a set of satellites, possibly rolled out in stages.
CREATE TABLE commands (
  id               uuid PRIMARY KEY,
  action           text NOT NULL,
  -- validated against the action's schema (contracts commandActions)
  args             jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- the target as the operator gave it: { satellite } | { group } | { selector }
  target           jsonb NOT NULL,
  timeout_seconds  integer NOT NULL CHECK (timeout_seconds > 0),
  -- no site runs it after this; queued and delivered targets are expired by the sweep
  deadline         timestamptz NOT NULL,
  -- contracts RolloutPolicy, NULL = every target released at once
  rollout          jsonb,
  status           text NOT NULL DEFAULT 'in_progress'
                   CHECK (status IN ('in_progress', 'succeeded', 'failed', 'aborted', 'cancelled')),
  abort_reason     text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE INDEX commands_created_idx ON commands (created_at DESC);
CREATE INDEX commands_in_progress_idx ON commands (deadline) WHERE status = 'in_progress';

-- The command on one satellite (an "execution"): its lifecycle, the exact signed message, its result.
-- No foreign key to satellites: a deleted satellite's command history stays.
CREATE TABLE command_targets (
  -- the execution id: `id` of the command/1 message, the Nats-Msg-Id everywhere, run at most once
  execution_id  uuid PRIMARY KEY,
  command_id    uuid NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
  satellite     text NOT NULL,
  -- order of release in a rollout (satellites sorted by name)
  position      integer NOT NULL,
  -- cursor of the pending-commands catch-up
  seq           bigserial NOT NULL UNIQUE,
  status        text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'delivered', 'running', 'succeeded', 'failed', 'timed_out', 'expired', 'rejected', 'cancelled')),
  -- set when the rollout released it: the command/1 body exactly as signed, and its signature
  released_at   timestamptz,
  body          text,
  signature     text,
  -- NULL while not yet on the hub's COMMANDS stream (the sweep publishes it again)
  published_at  timestamptz,
  delivered_at  timestamptz,
  started_at    timestamptz,
  finished_at   timestamptz,
  exit_code     integer,
  output        text,
  error         text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (command_id, satellite)
);
CREATE INDEX command_targets_satellite_idx ON command_targets (satellite, command_id);
-- what the catch-up hands a site that comes back
CREATE INDEX command_targets_pending_idx ON command_targets (satellite, seq)
  WHERE status IN ('queued', 'delivered') AND released_at IS NOT NULL;
CREATE INDEX command_targets_open_idx ON command_targets (command_id) WHERE status IN ('queued', 'delivered', 'running');
CREATE INDEX command_targets_unpublished_idx ON command_targets (released_at) WHERE released_at IS NOT NULL AND published_at IS NULL;

-- Every transition, written in the transaction that made it and then published to EVENTS
-- (`uplink.events.command.<event>`); published_at is NULL until the hub acknowledged it.
CREATE TABLE command_events (
  id            bigserial PRIMARY KEY,
  command_id    uuid NOT NULL REFERENCES commands (id) ON DELETE CASCADE,
  event         text NOT NULL,
  -- the contracts CommandEvent
  body          jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX command_events_command_idx ON command_events (command_id, id);
CREATE INDEX command_events_unpublished_idx ON command_events (id) WHERE published_at IS NULL;
