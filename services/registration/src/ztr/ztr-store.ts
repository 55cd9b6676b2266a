// SQL of zero-touch registration: join tokens and the device/account columns of satellites.
import type { PoolClient, Queryable } from '@uplink/db';

export interface JoinTokenRow {
  id: string;
  satellite: string;
  secretHash: Buffer;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface SiteRow {
  name: string;
  deviceKey: string | null;
  accountKey: string | null;
  revokedAt: Date | null;
  revokedKeys: Record<string, number>;
}

export async function insertJoinToken(c: Queryable, t: { id: string; satellite: string; secretHash: Buffer; ttlSeconds: number }): Promise<Date> {
  const { rows } = await c.query<{ expiresAt: Date }>(
    `INSERT INTO join_tokens (id, satellite, secret_hash, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))
     RETURNING expires_at AS "expiresAt"`,
    [t.id, t.satellite, t.secretHash, t.ttlSeconds],
  );
  return rows[0]!.expiresAt;
}

/** Void the satellite's tokens not used yet (a new one replaces them). */
export async function deleteUnusedJoinTokens(c: Queryable, satellite: string): Promise<void> {
  await c.query(`DELETE FROM join_tokens WHERE satellite = $1 AND used_at IS NULL`, [satellite]);
}

/** The token row, locked until the transaction ends (two registrations with one token: one wins). */
export async function lockJoinToken(c: PoolClient, id: string): Promise<(JoinTokenRow & { expired: boolean }) | undefined> {
  const { rows } = await c.query<JoinTokenRow & { expired: boolean }>(
    `SELECT id, satellite, secret_hash AS "secretHash", expires_at AS "expiresAt", used_at AS "usedAt", expires_at <= now() AS expired
     FROM join_tokens WHERE id = $1 FOR UPDATE`,
    [id],
  );
  return rows[0];
}

export async function markJoinTokenUsed(c: PoolClient, id: string, from: string): Promise<void> {
  await c.query(`UPDATE join_tokens SET used_at = now(), used_from = $2 WHERE id = $1`, [id, from]);
}

/** The satellite's registration columns, locked until the transaction ends (serialises register, renew, revoke). */
export async function lockSite(c: PoolClient, name: string): Promise<SiteRow | undefined> {
  const { rows } = await c.query<SiteRow>(
    `SELECT name, device_key AS "deviceKey", account_key AS "accountKey", revoked_at AS "revokedAt", revoked_keys AS "revokedKeys"
     FROM satellites WHERE name = $1 FOR UPDATE`,
    [name],
  );
  return rows[0];
}

export async function recordRegistration(
  c: PoolClient,
  r: { name: string; deviceKey: string; fingerprint: string; accountKey: string; accountJwt: string; expiresAt: Date; revokedKeys: Record<string, number> },
): Promise<void> {
  await c.query(
    `UPDATE satellites SET device_key = $2, fingerprint = $3, account_key = $4, account_jwt = $5, registered_at = now(), credentials_expire_at = $6, revoked_keys = $7::jsonb
     WHERE name = $1`,
    [r.name, r.deviceKey, r.fingerprint, r.accountKey, r.accountJwt, r.expiresAt, JSON.stringify(r.revokedKeys)],
  );
}

export async function recordRenewal(c: PoolClient, name: string, expiresAt: Date): Promise<void> {
  await c.query(`UPDATE satellites SET credentials_expire_at = $2 WHERE name = $1`, [name, expiresAt]);
}

/** `accountJwt` undefined: no account was pushed (none configured), the stored one stays. */
export async function recordRevocation(c: PoolClient, name: string, revokedKeys: Record<string, number>, accountJwt: string | undefined): Promise<void> {
  await c.query(
    `UPDATE satellites SET revoked_at = now(), credentials_expire_at = NULL, revoked_keys = $2::jsonb, account_jwt = COALESCE($3, account_jwt) WHERE name = $1`,
    [name, JSON.stringify(revokedKeys), accountJwt ?? null],
  );
}

export interface SiteAccountRow extends SiteRow {
  accountKey: string;
  /** as last pushed; null for sites registered before it was kept */
  accountJwt: string | null;
}

/** The next `limit` sites with a NATS account after `after` (by name), locked until the transaction ends. */
export async function lockSiteAccounts(c: PoolClient, after: string, limit: number): Promise<SiteAccountRow[]> {
  const { rows } = await c.query<SiteAccountRow>(
    `SELECT name, device_key AS "deviceKey", account_key AS "accountKey", account_jwt AS "accountJwt", revoked_at AS "revokedAt", revoked_keys AS "revokedKeys"
     FROM satellites WHERE account_key IS NOT NULL AND name > $1 ORDER BY name LIMIT $2 FOR UPDATE`,
    [after, limit],
  );
  return rows;
}

export async function countSiteAccountsAfter(c: Queryable, after: string): Promise<number> {
  const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM satellites WHERE account_key IS NOT NULL AND name > $1`, [after]);
  return rows[0]!.n;
}

export async function saveAccountJwt(c: PoolClient, name: string, accountJwt: string): Promise<void> {
  await c.query(`UPDATE satellites SET account_jwt = $2 WHERE name = $1`, [name, accountJwt]);
}
