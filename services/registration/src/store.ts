// SQL of registration: the satellites table (owned here) and, at creation, the satellite's group
// assignments (group_satellites, shared with state-publisher).
import type { PoolClient, Queryable } from '@uplink/db';

export interface SatelliteRow {
  name: string;
  labels: Record<string, string>;
  groups: string[];
  createdAt: Date;
  revokedAt: Date | null;
  registeredAt: Date | null;
  credentialsExpireAt: Date | null;
}

const COLUMNS = `s.name, s.labels, s.created_at AS "createdAt", s.revoked_at AS "revokedAt",
  s.registered_at AS "registeredAt", s.credentials_expire_at AS "credentialsExpireAt",
  coalesce((SELECT array_agg(gs.group_name ORDER BY gs.group_name) FROM group_satellites gs WHERE gs.satellite = s.name), '{}') AS groups`;

/** Insert a satellite; false when the name is taken. */
export async function insertSatellite(c: PoolClient, name: string, labels: Record<string, string>): Promise<boolean> {
  const res = await c.query(`INSERT INTO satellites (name, labels) VALUES ($1, $2::jsonb) ON CONFLICT (name) DO NOTHING`, [name, JSON.stringify(labels)]);
  return (res.rowCount ?? 0) > 0;
}

/** Which of these groups do not exist. */
export async function missingGroups(q: Queryable, groups: string[]): Promise<string[]> {
  if (groups.length === 0) return [];
  const { rows } = await q.query<{ name: string }>(
    `SELECT g.name FROM unnest($1::text[]) AS g(name) WHERE NOT EXISTS (SELECT 1 FROM groups WHERE groups.name = g.name) ORDER BY g.name`,
    [groups],
  );
  return rows.map((r) => r.name);
}

export async function assignGroups(c: PoolClient, satellite: string, groups: string[]): Promise<void> {
  if (groups.length === 0) return;
  await c.query(`INSERT INTO group_satellites (group_name, satellite) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`, [groups, satellite]);
}

export async function getSatellite(q: Queryable, name: string): Promise<SatelliteRow | undefined> {
  const { rows } = await q.query<SatelliteRow>(`SELECT ${COLUMNS} FROM satellites s WHERE s.name = $1`, [name]);
  return rows[0];
}

export async function listSatellites(q: Queryable, group: string | undefined): Promise<SatelliteRow[]> {
  const { rows } = group
    ? await q.query<SatelliteRow>(
        `SELECT ${COLUMNS} FROM satellites s JOIN group_satellites m ON m.satellite = s.name AND m.group_name = $1 ORDER BY s.name`,
        [group],
      )
    : await q.query<SatelliteRow>(`SELECT ${COLUMNS} FROM satellites s ORDER BY s.name`);
  return rows;
}

export async function groupExists(q: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await q.query(`SELECT 1 FROM groups WHERE name = $1`, [name]);
  return (rowCount ?? 0) > 0;
}

/** Delete a satellite (its assignments, config and desired state go with it); false when there was none. */
export async function deleteSatellite(q: Queryable, name: string): Promise<boolean> {
  const res = await q.query(`DELETE FROM satellites WHERE name = $1`, [name]);
  return (res.rowCount ?? 0) > 0;
}
