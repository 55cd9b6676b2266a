// SQL of operators: users, bearer tokens (sessions and API tokens, stored as sha256) and the audit trail.
import type { AuditEvent, AuditQuery, Role } from '@uplink/contracts';
import type { Queryable } from '@uplink/db';

export interface UserRow {
  name: string;
  role: Role;
  passwordHash: string;
  disabledAt: Date | null;
  failedLogins: number;
  lockedUntil: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const USER_COLUMNS = `name, role, password_hash AS "passwordHash", disabled_at AS "disabledAt", failed_logins AS "failedLogins",
  locked_until AS "lockedUntil", created_at AS "createdAt", updated_at AS "updatedAt"`;

/** Insert a user; false when the name is taken. */
export async function insertUser(q: Queryable, u: { name: string; role: Role; passwordHash: string }): Promise<boolean> {
  const res = await q.query(`INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, [u.name, u.role, u.passwordHash]);
  return (res.rowCount ?? 0) > 0;
}

export async function getUser(q: Queryable, name: string): Promise<UserRow | undefined> {
  const { rows } = await q.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE name = $1`, [name]);
  return rows[0];
}

export async function listUsers(q: Queryable): Promise<UserRow[]> {
  const { rows } = await q.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY name`);
  return rows;
}

/** Change the given fields; undefined when there is no such user. */
export async function updateUser(
  q: Queryable,
  name: string,
  change: { role?: Role | undefined; disabled?: boolean | undefined; passwordHash?: string | undefined },
): Promise<UserRow | undefined> {
  const { rows } = await q.query<UserRow>(
    `UPDATE users SET
       role = coalesce($2, role),
       disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at WHEN $3 THEN coalesce(disabled_at, now()) ELSE NULL END,
       password_hash = coalesce($4, password_hash),
       -- a new password or re-enabling the account clears a lockout
       failed_logins = CASE WHEN $4::text IS NOT NULL OR $3 = false THEN 0 ELSE failed_logins END,
       locked_until = CASE WHEN $4::text IS NOT NULL OR $3 = false THEN NULL ELSE locked_until END,
       updated_at = now()
     WHERE name = $1
     RETURNING ${USER_COLUMNS}`,
    [name, change.role ?? null, change.disabled ?? null, change.passwordHash ?? null],
  );
  return rows[0];
}

/**
 * Count a failed login: the count restarts when the previous failures are older than the window, and
 * reaching `maxFailures` locks the account for `lockoutSeconds`. Returns the lock, if any.
 */
export async function recordFailedLogin(
  q: Queryable,
  name: string,
  opts: { maxFailures: number; windowSeconds: number; lockoutSeconds: number },
): Promise<{ failedLogins: number; lockedUntil: Date | null } | undefined> {
  const { rows } = await q.query<{ failedLogins: number; lockedUntil: Date | null }>(
    `WITH next AS (
       SELECT name, CASE WHEN failed_since IS NULL OR failed_since < now() - make_interval(secs => $2) THEN 1 ELSE failed_logins + 1 END AS n,
              CASE WHEN failed_since IS NULL OR failed_since < now() - make_interval(secs => $2) THEN now() ELSE failed_since END AS since
       FROM users WHERE name = $1 FOR UPDATE
     )
     UPDATE users u SET
       failed_logins = CASE WHEN next.n >= $3 THEN 0 ELSE next.n END,
       failed_since = CASE WHEN next.n >= $3 THEN NULL ELSE next.since END,
       locked_until = CASE WHEN next.n >= $3 THEN now() + make_interval(secs => $4) ELSE u.locked_until END
     FROM next WHERE u.name = next.name
     RETURNING next.n AS "failedLogins", u.locked_until AS "lockedUntil"`,
    [name, opts.windowSeconds, opts.maxFailures, opts.lockoutSeconds],
  );
  return rows[0];
}

export async function countEnabledAdmins(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL`);
  return rows[0]?.n ?? 0;
}

export async function clearFailedLogins(q: Queryable, name: string): Promise<void> {
  await q.query(`UPDATE users SET failed_logins = 0, failed_since = NULL, locked_until = NULL WHERE name = $1 AND (failed_logins > 0 OR locked_until IS NOT NULL)`, [name]);
}

export interface TokenRow {
  id: string;
  name: string;
  user: string;
  role: Role;
  kind: 'session' | 'api';
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const TOKEN_COLUMNS = `t.id, t.name, t.username AS "user", t.role, t.kind, t.created_at AS "createdAt", t.expires_at AS "expiresAt",
  t.revoked_at AS "revokedAt", t.last_used_at AS "lastUsedAt"`;

export async function insertToken(
  q: Queryable,
  t: { id: string; tokenHash: string; user: string; name: string; kind: 'session' | 'api'; role: Role; expiresAt: Date },
): Promise<TokenRow> {
  const { rows } = await q.query<TokenRow>(
    `INSERT INTO auth_tokens AS t (id, token_hash, username, name, kind, role, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${TOKEN_COLUMNS}`,
    [t.id, t.tokenHash, t.user, t.name, t.kind, t.role, t.expiresAt],
  );
  return rows[0]!;
}

export interface TokenCheckRow extends TokenRow {
  userRole: Role;
  userDisabledAt: Date | null;
  /** whether expiry is past by the database clock */
  expired: boolean;
}

export async function findToken(q: Queryable, tokenHash: string): Promise<TokenCheckRow | undefined> {
  const { rows } = await q.query<TokenCheckRow>(
    `SELECT ${TOKEN_COLUMNS}, u.role AS "userRole", u.disabled_at AS "userDisabledAt", t.expires_at <= now() AS expired
     FROM auth_tokens t JOIN users u ON u.name = t.username WHERE t.token_hash = $1`,
    [tokenHash],
  );
  return rows[0];
}

/** Note a use, at most once a minute per token (the gateway caches verified tokens anyway). */
export async function touchToken(q: Queryable, id: string): Promise<void> {
  await q.query(`UPDATE auth_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, [id]);
}

export async function listTokens(q: Queryable, user: string | undefined): Promise<TokenRow[]> {
  const { rows } = await q.query<TokenRow>(
    `SELECT ${TOKEN_COLUMNS} FROM auth_tokens t
     WHERE ($1::text IS NULL OR t.username = $1) AND t.expires_at > now() - interval '30 days'
     ORDER BY t.created_at DESC, t.id LIMIT 1000`,
    [user ?? null],
  );
  return rows;
}

/** Revoke one token; undefined when there is no such token. Revoking twice keeps the first time. */
export async function revokeToken(q: Queryable, id: string): Promise<TokenRow | undefined> {
  const { rows } = await q.query<TokenRow>(
    `UPDATE auth_tokens t SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING ${TOKEN_COLUMNS}`,
    [id],
  );
  return rows[0];
}

/** Delete tokens that expired more than `days` ago (they are refused anyway; this keeps the table small). */
export async function purgeExpiredTokens(q: Queryable, days = 30): Promise<number> {
  const res = await q.query(`DELETE FROM auth_tokens WHERE expires_at < now() - make_interval(days => $1)`, [days]);
  return res.rowCount ?? 0;
}

/** Revoke every live session of a user (after a password change or when disabled). */
export async function revokeSessions(q: Queryable, user: string): Promise<number> {
  const res = await q.query(`UPDATE auth_tokens SET revoked_at = now() WHERE username = $1 AND kind = 'session' AND revoked_at IS NULL AND expires_at > now()`, [user]);
  return res.rowCount ?? 0;
}

/** Store an audit event once, whatever how often it is delivered. */
export async function insertAuditEvent(q: Queryable, e: AuditEvent): Promise<void> {
  await q.query(
    `INSERT INTO audit_events (id, at, actor, role, action, entity, entity_id, outcome, status, code, request_id, ip, method, path, body)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb)
     ON CONFLICT (id) DO NOTHING`,
    [
      e.id,
      e.at,
      e.actor,
      e.role,
      e.action,
      e.entity,
      e.entityId,
      e.outcome,
      e.status,
      e.code ?? null,
      e.requestId,
      e.ip,
      e.method,
      e.path,
      e.body === undefined ? null : JSON.stringify(e.body),
    ],
  );
}

export interface AuditRow {
  seq: string;
  id: string;
  at: Date;
  actor: string | null;
  role: Role | null;
  action: string;
  entity: string;
  entityId: string | null;
  outcome: AuditEvent['outcome'];
  status: number;
  code: string | null;
  requestId: string;
  ip: string | null;
  method: string;
  path: string;
  body: unknown;
}

/** Newest first, `limit + 1` rows so the caller knows whether there is a next page. */
export async function queryAudit(q: Queryable, f: AuditQuery): Promise<AuditRow[]> {
  const { rows } = await q.query<AuditRow>(
    `SELECT seq, id, at, actor, role, action, entity, entity_id AS "entityId", outcome, status, code, request_id AS "requestId", ip, method, path, body
     FROM audit_events
     WHERE ($1::text IS NULL OR entity = $1)
       AND ($2::text IS NULL OR entity_id = $2)
       AND ($3::text IS NULL OR actor = $3)
       AND ($4::text IS NULL OR action = $4)
       AND ($5::text IS NULL OR outcome = $5)
       AND ($6::timestamptz IS NULL OR at >= $6)
       AND ($7::timestamptz IS NULL OR at < $7)
       AND ($8::bigint IS NULL OR seq < $8)
     ORDER BY seq DESC
     LIMIT $9`,
    [f.entity ?? null, f.entityId ?? null, f.actor ?? null, f.action ?? null, f.outcome ?? null, f.from ?? null, f.to ?? null, f.before ?? null, f.limit + 1],
  );
  return rows;
}
