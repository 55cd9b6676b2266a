-- ── registration: zero-touch registration ───────────────────────────────────────────────────────

-- What registration knows of a site's device and its NATS account. No secret is stored: the device
-- keeps its seed, the site account's seed is thrown away once its JWT is signed (its users are issued
-- by a shared site signing key).
ALTER TABLE satellites
  -- the device's NATS user public key ("U…"), from its registration
  ADD COLUMN device_key             text,
  -- what the device said about its hardware
  ADD COLUMN fingerprint            text,
  -- public key of the site's NATS account SITE_<name>
  ADD COLUMN account_key            text,
  ADD COLUMN registered_at          timestamptz,
  -- expiry of the device's current user JWT
  ADD COLUMN credentials_expire_at  timestamptz,
  -- device keys no longer valid -> when (unix seconds); the account JWT's `revocations`
  ADD COLUMN revoked_keys           jsonb NOT NULL DEFAULT '{}'::jsonb;

-- One-time join tokens `ujt_<id>_<secret>`: only the sha256 of the secret is stored.
CREATE TABLE join_tokens (
  id           text PRIMARY KEY,
  satellite    text NOT NULL REFERENCES satellites (name) ON DELETE CASCADE,
  secret_hash  bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  -- set by the registration that used it; a used token is refused
  used_at      timestamptz,
  used_from    text
);
CREATE INDEX join_tokens_satellite_idx ON join_tokens (satellite);
