// SQL of the state-publisher, one function per statement. Every statement over satellites works on
// arrays (unnest / jsonb_to_recordset), so a change touching 10,000 satellites is a handful of them.
import type { PoolClient, Queryable } from '@uplink/db';
import type { DesiredArtifact, DesiredState, DesiredStateContent, PutGroupBody } from '@uplink/contracts';
import type { GroupArtifact } from './group-artifacts.js';
import type { ReportedArtifact } from './revisions.js';

/** Transaction-level advisory locks, one per schema so separate schemas do not wait on each other. */
export const Lock = {
  /** held while computing and writing revisions: they stay strictly increasing across processes */
  compute: 'uplink.state.compute',
  /** held while publishing and purging: an older revision never lands after a newer one */
  publish: 'uplink.state.publish',
} as const;

export async function lock(c: PoolClient, name: (typeof Lock)[keyof typeof Lock]): Promise<void> {
  await c.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || current_schema(), 0))`, [name]);
}

// ── groups ──────────────────────────────────────────────────────────────────────────────────────

export interface GroupRow {
  name: string;
  registry: string;
  artifacts: GroupArtifact[];
  resolved: DesiredArtifact[];
  satellites: string[];
  updatedAt: Date;
}

const GROUP_COLUMNS = `g.name, g.registry, g.artifacts, g.resolved, g.updated_at AS "updatedAt",
  coalesce((SELECT array_agg(gs.satellite ORDER BY gs.satellite) FROM group_satellites gs WHERE gs.group_name = g.name), '{}') AS satellites`;

export async function getGroup(q: Queryable, name: string): Promise<GroupRow | undefined> {
  const { rows } = await q.query<GroupRow>(`SELECT ${GROUP_COLUMNS} FROM groups g WHERE g.name = $1`, [name]);
  return rows[0];
}

export async function listGroups(q: Queryable): Promise<GroupRow[]> {
  const { rows } = await q.query<GroupRow>(`SELECT ${GROUP_COLUMNS} FROM groups g ORDER BY g.name`);
  return rows;
}

/** Every group's name, registry and artifacts (for re-resolving tags). */
export async function listGroupSources(q: Queryable): Promise<{ name: string; registry: string; artifacts: GroupArtifact[]; resolved: DesiredArtifact[] }[]> {
  const { rows } = await q.query(`SELECT name, registry, artifacts, resolved FROM groups ORDER BY name`);
  return rows;
}

export async function upsertGroup(c: PoolClient, name: string, body: PutGroupBody, resolved: DesiredArtifact[]): Promise<void> {
  await c.query(
    `INSERT INTO groups (name, registry, artifacts, resolved) VALUES ($1, $2, $3::jsonb, $4::jsonb)
     ON CONFLICT (name) DO UPDATE SET registry = EXCLUDED.registry, artifacts = EXCLUDED.artifacts,
       resolved = EXCLUDED.resolved, updated_at = now()`,
    [name, body.registry, JSON.stringify(body.artifacts), JSON.stringify(resolved)],
  );
}

/** Store new pinned artifacts of several groups at once. */
export async function updateResolved(c: PoolClient, groups: { name: string; resolved: DesiredArtifact[] }[]): Promise<void> {
  if (groups.length === 0) return;
  await c.query(
    `UPDATE groups g SET resolved = u.resolved, updated_at = now()
     FROM jsonb_to_recordset($1::jsonb) AS u(name text, resolved jsonb) WHERE g.name = u.name`,
    [JSON.stringify(groups)],
  );
}

/** Delete a group; returns the satellites it was assigned to, or undefined when there was no such group. */
export async function deleteGroup(c: PoolClient, name: string): Promise<string[] | undefined> {
  const { rows } = await c.query<{ satellites: string[] }>(
    `WITH gone AS (DELETE FROM groups WHERE name = $1 RETURNING name)
     SELECT coalesce((SELECT array_agg(satellite ORDER BY satellite) FROM group_satellites WHERE group_name = $1), '{}') AS satellites
     FROM gone`,
    [name],
  );
  return rows[0]?.satellites;
}

/** Satellites assigned to any of these groups (one query, whatever the fleet size). */
export async function satellitesOfGroups(q: Queryable, groups: string[]): Promise<string[]> {
  if (groups.length === 0) return [];
  const { rows } = await q.query<{ satellite: string }>(
    `SELECT DISTINCT satellite FROM group_satellites WHERE group_name = ANY($1::text[]) ORDER BY satellite`,
    [groups],
  );
  return rows.map((r) => r.satellite);
}

export async function exists(q: Queryable, group: string | undefined, satellite: string | undefined): Promise<{ group: boolean; satellite: boolean }> {
  const { rows } = await q.query<{ group: boolean; satellite: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM groups WHERE name = $1) AS "group", EXISTS (SELECT 1 FROM satellites WHERE name = $2) AS satellite`,
    [group ?? null, satellite ?? null],
  );
  return rows[0]!;
}

export async function assign(c: PoolClient, group: string, satellite: string): Promise<void> {
  await c.query(`INSERT INTO group_satellites (group_name, satellite) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [group, satellite]);
}

export async function unassign(c: PoolClient, group: string, satellite: string): Promise<void> {
  await c.query(`DELETE FROM group_satellites WHERE group_name = $1 AND satellite = $2`, [group, satellite]);
}

// ── tag resolutions ─────────────────────────────────────────────────────────────────────────────

export interface TagResolution {
  registry: string;
  repository: string;
  tag: string;
  digest: string | undefined;
  error: string | undefined;
}

export async function loadTagResolutions(q: Queryable, registries: string[]): Promise<TagResolution[]> {
  if (registries.length === 0) return [];
  const { rows } = await q.query<{ registry: string; repository: string; tag: string; digest: string | null; last_error: string | null }>(
    `SELECT registry, repository, tag, digest, last_error FROM tag_resolutions WHERE registry = ANY($1::text[])`,
    [registries],
  );
  return rows.map((r) => ({ registry: r.registry, repository: r.repository, tag: r.tag, digest: r.digest ?? undefined, error: r.last_error ?? undefined }));
}

/**
 * Record lookups: a success sets the digest, a failure keeps the last known digest and notes the error.
 */
export async function saveTagResolutions(
  q: Queryable,
  results: { registry: string; repository: string; tag: string; digest?: string | undefined; error?: string | undefined }[],
): Promise<void> {
  if (results.length === 0) return;
  await q.query(
    `INSERT INTO tag_resolutions AS t (registry, repository, tag, digest, resolved_at, checked_at, last_error)
     SELECT registry, repository, tag, digest, CASE WHEN digest IS NULL THEN NULL ELSE now() END, now(), error
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(registry, repository, tag, digest, error)
     ON CONFLICT (registry, repository, tag) DO UPDATE SET
       digest = coalesce(EXCLUDED.digest, t.digest),
       resolved_at = coalesce(EXCLUDED.resolved_at, t.resolved_at),
       checked_at = now(),
       last_error = EXCLUDED.last_error`,
    [
      results.map((r) => r.registry),
      results.map((r) => r.repository),
      results.map((r) => r.tag),
      results.map((r) => r.digest ?? null),
      results.map((r) => r.error ?? null),
    ],
  );
}

// ── desired states ──────────────────────────────────────────────────────────────────────────────

export interface SatelliteInputRow {
  name: string;
  /** current revision, else the last one of a deleted namesake, else 0 */
  revision: number;
  digest: string | undefined;
  config: unknown;
  groups: string[];
}

/** What computing the satellites' desired states needs, except the groups' contents. */
export async function loadSatelliteInputs(q: Queryable, satellites: string[]): Promise<SatelliteInputRow[]> {
  if (satellites.length === 0) return [];
  const { rows } = await q.query<{ name: string; revision: string; digest: string | null; config: unknown; groups: string[] }>(
    `SELECT s.name, coalesce(ss.revision, t.last_revision, 0) AS revision, ss.digest, c.config,
       coalesce(array_agg(gs.group_name ORDER BY gs.group_name) FILTER (WHERE gs.group_name IS NOT NULL), '{}') AS groups
     FROM satellites s
     LEFT JOIN satellite_states ss ON ss.satellite = s.name
     LEFT JOIN satellite_configs c ON c.satellite = s.name
     LEFT JOIN state_tombstones t ON t.satellite = s.name
     LEFT JOIN group_satellites gs ON gs.satellite = s.name
     WHERE s.name = ANY($1::text[])
     GROUP BY s.name, ss.revision, ss.digest, c.config, t.last_revision`,
    [satellites],
  );
  return rows.map((r) => ({ name: r.name, revision: Number(r.revision), digest: r.digest ?? undefined, config: r.config, groups: r.groups }));
}

export async function loadGroupContents(q: Queryable, groups: string[]): Promise<{ name: string; registry: string; resolved: DesiredArtifact[] }[]> {
  if (groups.length === 0) return [];
  const { rows } = await q.query(`SELECT name, registry, resolved FROM groups WHERE name = ANY($1::text[])`, [groups]);
  return rows;
}

/** The part of a desired state that satellites share: stored once, pointed at by each satellite's row. */
export interface SharedContent {
  /** sha256 of its canonical JSON */
  id: string;
  content: Omit<DesiredStateContent, 'satellite'>;
  /** artifact keys, for artifact_since */
  keys: string[];
}

export interface RevisionRow {
  satellite: string;
  revision: number;
  digest: string;
  contentId: string;
}

/**
 * Write new revisions, unpublished, in bulk: each distinct shared content once, then one row per
 * satellite pointing at it. The "introduced at" revision of each artifact carries over from the
 * previous row; a revision never goes down (the guard makes a stale write a no-op). Returns how many
 * rows were written.
 */
export async function writeRevisions(c: PoolClient, contents: SharedContent[], rows: RevisionRow[], issuedAt: string): Promise<number> {
  if (rows.length === 0) return 0;
  await c.query(
    `INSERT INTO state_contents (id, content, artifact_keys)
     SELECT * FROM unnest($1::text[], $2::jsonb[], $3::jsonb[]) ON CONFLICT (id) DO NOTHING`,
    [contents.map((x) => x.id), contents.map((x) => JSON.stringify(x.content)), contents.map((x) => JSON.stringify(x.keys))],
  );
  const res = await c.query<{ n: string }>(
    `WITH input AS (
       SELECT i.*, (SELECT coalesce(jsonb_object_agg(k, i.revision), '{}'::jsonb) FROM jsonb_array_elements_text(sc.artifact_keys) AS k) AS since
       FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS i(satellite, revision, digest, content_id)
       JOIN state_contents sc ON sc.id = i.content_id
     ), revived AS (
       DELETE FROM state_tombstones t USING input i WHERE t.satellite = i.satellite
     ), upserted AS (
       INSERT INTO satellite_states AS ss (satellite, revision, digest, document, content_id, issued_at, artifact_since, updated_at, published_at)
       SELECT i.satellite, i.revision, i.digest, NULL, i.content_id, $5, i.since, now(), NULL
       FROM input i
       ON CONFLICT (satellite) DO UPDATE SET
         revision = EXCLUDED.revision,
         digest = EXCLUDED.digest,
         document = NULL,
         content_id = EXCLUDED.content_id,
         issued_at = EXCLUDED.issued_at,
         artifact_since = (SELECT coalesce(jsonb_object_agg(k, coalesce(ss.artifact_since -> k, EXCLUDED.artifact_since -> k)), '{}'::jsonb)
                           FROM jsonb_object_keys(EXCLUDED.artifact_since) AS k),
         updated_at = now(),
         published_at = NULL
       WHERE ss.revision < EXCLUDED.revision
       RETURNING 1
     )
     SELECT count(*) AS n FROM upserted`,
    [rows.map((r) => r.satellite), rows.map((r) => r.revision), rows.map((r) => r.digest), rows.map((r) => r.contentId), issuedAt],
  );
  return Number(res.rows[0]?.n ?? 0);
}

/**
 * Drop shared contents no satellite points at any more (older than `minAgeS`, so a change being
 * computed keeps its own) and the record of revisions published more than `historyDays` ago. Runs
 * under the compute lock: no change can point at a content while it goes.
 */
export async function collectGarbage(c: PoolClient, opts: { minAgeS: number; historyDays: number }): Promise<{ contents: number; published: number }> {
  const contents = await c.query(
    `DELETE FROM state_contents sc WHERE sc.created_at < now() - make_interval(secs => $1)
       AND NOT EXISTS (SELECT 1 FROM satellite_states ss WHERE ss.content_id = sc.id)`,
    [opts.minAgeS],
  );
  const published = await c.query(`DELETE FROM published_states WHERE published_at < now() - make_interval(days => $1)`, [opts.historyDays]);
  return { contents: contents.rowCount ?? 0, published: published.rowCount ?? 0 };
}

export interface UnpublishedRef {
  satellite: string;
  revision: number;
  updatedAt: Date;
}

export interface UnpublishedRow extends UnpublishedRef {
  document: DesiredState;
}

/** Rows whose current revision is not yet on the hub, oldest first; `satellites` restricts. */
export async function loadUnpublished(q: Queryable, satellites: string[] | undefined, limit: number): Promise<UnpublishedRef[]> {
  const { rows } = await q.query<{ satellite: string; revision: string; updatedAt: Date }>(
    `SELECT satellite, revision, updated_at AS "updatedAt" FROM satellite_states
     WHERE published_at IS NULL ${satellites ? 'AND satellite = ANY($2::text[])' : ''}
     ORDER BY updated_at LIMIT $1`,
    satellites ? [limit, satellites] : [limit],
  );
  return rows.map((r) => ({ ...r, revision: Number(r.revision) }));
}

/** The stored documents of these revisions (rows that moved on since are left out). */
export async function loadDocuments(q: Queryable, refs: { satellite: string; revision: number }[]): Promise<Map<string, DesiredState>> {
  if (refs.length === 0) return new Map();
  const { rows } = await q.query<{ satellite: string; document: DesiredState }>(
    `SELECT ss.satellite, d.document FROM satellite_states ss
     JOIN unnest($1::text[], $2::bigint[]) AS u(satellite, revision) ON ss.satellite = u.satellite AND ss.revision = u.revision
     JOIN satellite_documents d ON d.satellite = ss.satellite`,
    [refs.map((r) => r.satellite), refs.map((r) => r.revision)],
  );
  return new Map(rows.map((r) => [r.satellite, r.document]));
}

/** Mark revisions published (only if still current) and record them, in one statement. */
export async function markPublished(q: Queryable, rows: { satellite: string; revision: number; digest: string }[]): Promise<void> {
  if (rows.length === 0) return;
  await q.query(
    `WITH p AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(satellite, revision, digest)),
     marked AS (
       UPDATE satellite_states ss SET published_at = now() FROM p WHERE ss.satellite = p.satellite AND ss.revision = p.revision
     )
     INSERT INTO published_states (satellite, revision, digest) SELECT satellite, revision, digest FROM p ON CONFLICT DO NOTHING`,
    [rows.map((r) => r.satellite), rows.map((r) => r.revision), rows.map((r) => r.digest)],
  );
}

export async function countUnpublished(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ n: string }>(`SELECT count(*) AS n FROM satellite_states WHERE published_at IS NULL`);
  return Number(rows[0]?.n ?? 0);
}

/** Satellites that have never had a desired state computed (e.g. the recompute after creation was lost). */
export async function satellitesWithoutState(q: Queryable, limit: number): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>(
    `SELECT s.name FROM satellites s WHERE s.revoked_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM satellite_states ss WHERE ss.satellite = s.name)
     ORDER BY s.created_at LIMIT $1`,
    [limit],
  );
  return rows.map((r) => r.name);
}

/** Deleted satellites whose STATE subject may still hold a message; `satellites` restricts. */
export async function unpurgedTombstones(q: Queryable, satellites: string[] | undefined, limit: number): Promise<string[]> {
  const { rows } = await q.query<{ satellite: string }>(
    `SELECT t.satellite FROM state_tombstones t
     WHERE t.purged_at IS NULL ${satellites ? 'AND t.satellite = ANY($2::text[])' : ''}
       AND NOT EXISTS (SELECT 1 FROM satellite_states ss WHERE ss.satellite = t.satellite)
     ORDER BY t.deleted_at LIMIT $1`,
    satellites ? [limit, satellites] : [limit],
  );
  return rows.map((r) => r.satellite);
}

export async function markPurged(q: Queryable, satellites: string[]): Promise<void> {
  if (satellites.length === 0) return;
  await q.query(`UPDATE state_tombstones SET purged_at = now() WHERE satellite = ANY($1::text[])`, [satellites]);
}

// ── config, state view, applied reports ─────────────────────────────────────────────────────────

export async function loadConfig(q: Queryable, satellite: string): Promise<{ exists: boolean; config: unknown }> {
  const { rows } = await q.query<{ config: unknown }>(
    `SELECT c.config FROM satellites s LEFT JOIN satellite_configs c ON c.satellite = s.name WHERE s.name = $1`,
    [satellite],
  );
  return rows[0] ? { exists: true, config: rows[0].config } : { exists: false, config: undefined };
}

export async function saveConfig(c: PoolClient, satellite: string, config: unknown): Promise<void> {
  await c.query(
    `INSERT INTO satellite_configs (satellite, config) VALUES ($1, $2::jsonb)
     ON CONFLICT (satellite) DO UPDATE SET config = EXCLUDED.config, updated_at = now()`,
    [satellite, JSON.stringify(config)],
  );
}

export interface StateRow {
  revision: number | undefined;
  digest: string | undefined;
  document: DesiredState | undefined;
  since: Record<string, number>;
  applied: { revision: number; digest: string; at: Date } | null;
  /** per-artifact status reported with the applied revision (satellites that report it) */
  appliedArtifacts: ReportedArtifact[] | null;
}

/** The stored state of a satellite; undefined when there is no such satellite. */
export async function loadState(q: Queryable, satellite: string): Promise<StateRow | undefined> {
  const { rows } = await q.query<{
    revision: string | null;
    digest: string | null;
    document: DesiredState | null;
    artifact_since: Record<string, number> | null;
    applied_revision: string | null;
    applied_digest: string | null;
    applied_at: Date | null;
    applied_artifacts: ReportedArtifact[] | null;
  }>(
    `SELECT ss.revision, ss.digest, d.document, ss.artifact_since, ss.applied_revision, ss.applied_digest, ss.applied_at, ss.applied_artifacts
     FROM satellites s LEFT JOIN satellite_states ss ON ss.satellite = s.name LEFT JOIN satellite_documents d ON d.satellite = s.name
     WHERE s.name = $1`,
    [satellite],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    revision: r.revision === null ? undefined : Number(r.revision),
    digest: r.digest ?? undefined,
    document: r.document ?? undefined,
    since: r.artifact_since ?? {},
    applied:
      r.applied_revision !== null && r.applied_digest !== null && r.applied_at !== null
        ? { revision: Number(r.applied_revision), digest: r.applied_digest, at: r.applied_at }
        : null,
    appliedArtifacts: r.applied_artifacts ?? null,
  };
}

/** Record an applied report when it is newer than the last one; false when nothing changed. */
export async function recordApplied(
  q: Queryable,
  a: { satellite: string; revision: number; digest: string; at: string; artifacts?: ReportedArtifact[] | undefined },
): Promise<boolean> {
  // a later report of the same revision carries newer per-artifact status (a failed artifact recovered)
  const res = await q.query(
    `UPDATE satellite_states SET applied_revision = $2, applied_digest = $3, applied_at = $4, applied_artifacts = $5::jsonb
     WHERE satellite = $1 AND (applied_revision IS NULL OR applied_revision < $2 OR (applied_revision = $2 AND $5::jsonb IS NOT NULL))`,
    [a.satellite, a.revision, a.digest, a.at, a.artifacts ? JSON.stringify(a.artifacts) : null],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Names among these that exist as satellites. */
export async function existingSatellites(q: Queryable, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const { rows } = await q.query<{ name: string }>(`SELECT name FROM satellites WHERE name = ANY($1::text[])`, [names]);
  return new Set(rows.map((r) => r.name));
}
