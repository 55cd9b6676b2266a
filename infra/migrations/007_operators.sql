-- ── registration: operators ─────────────────────────────────────────────────────────────────────

-- People (and robots) who use the REST API. Passwords are scrypt hashes with a per-user salt.
CREATE TABLE users (
  name              text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  role              text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  -- "scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>"
  password_hash     text NOT NULL,
  disabled_at       timestamptz,
  -- failed logins since failed_since; reset by a successful login or when the window has passed
  failed_logins     integer NOT NULL DEFAULT 0,
  failed_since      timestamptz,
  locked_until      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens: sessions from a login and API tokens. Only the sha256 of a token is stored.
CREATE TABLE auth_tokens (
  id            text PRIMARY KEY,
  token_hash    text NOT NULL UNIQUE,
  username      text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
  name          text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('session', 'api')),
  -- the most this token grants; the user's current role caps it
  role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  last_used_at  timestamptz
);
CREATE INDEX auth_tokens_username_idx ON auth_tokens (username);
CREATE INDEX auth_tokens_expires_idx ON auth_tokens (expires_at);

-- Every change made through the REST API (contracts AuditEvent), stored from the EVENTS stream.
CREATE TABLE audit_events (
  seq         bigserial PRIMARY KEY,
  id          uuid NOT NULL UNIQUE,
  at          timestamptz NOT NULL,
  actor       text,
  role        text,
  action      text NOT NULL,
  entity      text NOT NULL,
  entity_id   text,
  outcome     text NOT NULL CHECK (outcome IN ('ok', 'failed', 'denied')),
  status      integer NOT NULL,
  code        text,
  request_id  text NOT NULL,
  ip          text,
  method      text NOT NULL,
  path        text NOT NULL,
  -- the request body with secrets redacted
  body        jsonb
);
CREATE INDEX audit_events_at_idx ON audit_events (at);
CREATE INDEX audit_events_entity_idx ON audit_events (entity, entity_id, seq);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, seq);
