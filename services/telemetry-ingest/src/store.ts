// Postgres side of telemetry-ingest: daily partitions, batch writes, the status sweep.
import { sqlState, type Pool } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import { daysToPrepare, partitionDay, partitionName, partitionsToDrop, DAY_MS } from './partitions.js';
import type { LatestHeartbeat, TelemetryRecord } from './records.js';
import { livenessSql, type Liveness, type StatusRules } from './status.js';

const INSERT_TELEMETRY = `
WITH ins AS (
  INSERT INTO telemetry (satellite, at, msg_id, kind, body)
  SELECT r.satellite, r.at, r.msg_id, r.kind, r.body
  FROM json_to_recordset($1::json) AS r(satellite text, at timestamptz, msg_id text, kind text, body jsonb)
  ON CONFLICT DO NOTHING
  RETURNING kind
)
SELECT kind, count(*)::int AS n FROM ins GROUP BY kind`;

// Newest wins per site (by heartbeat time, then by inventory time): batches may commit out of order.
const UPSERT_STATUS = `
INSERT INTO satellite_status AS s (satellite, status, last_heartbeat_at, interval_seconds, heartbeat, inventory, inventory_at)
SELECT r.satellite, 'online', to_timestamp(r.at_ms / 1000.0), r.interval_seconds, r.heartbeat, r.inventory,
       to_timestamp(r.inventory_at_ms / 1000.0)
FROM json_to_recordset($1::json) AS r(satellite text, at_ms float8, interval_seconds integer, heartbeat jsonb, inventory jsonb, inventory_at_ms float8)
ON CONFLICT (satellite) DO UPDATE SET
  last_heartbeat_at = GREATEST(s.last_heartbeat_at, EXCLUDED.last_heartbeat_at),
  interval_seconds = CASE WHEN EXCLUDED.last_heartbeat_at > s.last_heartbeat_at THEN EXCLUDED.interval_seconds ELSE s.interval_seconds END,
  heartbeat = CASE WHEN EXCLUDED.last_heartbeat_at > s.last_heartbeat_at THEN EXCLUDED.heartbeat ELSE s.heartbeat END,
  inventory = CASE WHEN EXCLUDED.inventory_at > s.inventory_at OR (s.inventory_at IS NULL AND EXCLUDED.inventory_at IS NOT NULL)
                   THEN EXCLUDED.inventory ELSE s.inventory END,
  inventory_at = CASE WHEN EXCLUDED.inventory_at > s.inventory_at OR (s.inventory_at IS NULL AND EXCLUDED.inventory_at IS NOT NULL)
                   THEN EXCLUDED.inventory_at ELSE s.inventory_at END,
  updated_at = now()
WHERE EXCLUDED.last_heartbeat_at > s.last_heartbeat_at
   OR EXCLUDED.inventory_at > s.inventory_at
   OR (s.inventory_at IS NULL AND EXCLUDED.inventory_at IS NOT NULL)`;

export interface WriteResult {
  /** records newly stored, by kind (the rest were stored before) */
  inserted: Map<string, number>;
}

export class TelemetryStore {
  /** partitions known to exist (days, ms) */
  private readonly known = new Set<number>();

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
  ) {}

  /** Create the partitions of these days when missing (serialised across instances by an advisory lock). */
  async ensurePartitions(days: Iterable<number>): Promise<string[]> {
    const missing = [...new Set(days)].filter((d) => !this.known.has(d)).sort((a, b) => a - b);
    if (missing.length === 0) return [];
    const client = await this.pool.connect();
    const created: string[] = [];
    let broken = false;
    try {
      await client.query('BEGIN');
      await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('uplink.telemetry.partitions:' || current_schema(), 0))`);
      const { rows } = await client.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry'::regclass`,
      );
      const existing = new Set(rows.map((r) => r.name));
      for (const day of missing) {
        const name = partitionName(day);
        if (!existing.has(name)) {
          const from = new Date(day).toISOString();
          const to = new Date(day + DAY_MS).toISOString();
          await client.query(`CREATE TABLE IF NOT EXISTS ${name} PARTITION OF telemetry FOR VALUES FROM ('${from}') TO ('${to}')`);
          created.push(name);
        }
      }
      await client.query('COMMIT');
      for (const day of missing) this.known.add(day);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
    if (created.length > 0) this.log.info({ partitions: created }, 'telemetry partitions created');
    return created;
  }

  /** Forget which partitions exist (after a write found one missing). */
  forgetPartitions(): void {
    this.known.clear();
  }

  /** Create partitions ahead and drop those past the retention. */
  async maintain(nowMs: number, opts: { aheadDays: number; retentionDays: number }): Promise<{ created: string[]; dropped: string[] }> {
    const created = await this.ensurePartitions(daysToPrepare(nowMs, opts.aheadDays));
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry'::regclass`,
    );
    const dropped: string[] = [];
    for (const name of partitionsToDrop(rows.map((r) => r.name), nowMs, opts.retentionDays)) {
      // names come from partitionsToDrop, which accepts only telemetry_pYYYYMMDD
      await this.pool.query(`DROP TABLE IF EXISTS ${name}`);
      const day = partitionDay(name);
      if (day !== undefined) this.known.delete(day);
      dropped.push(name);
    }
    if (dropped.length > 0) this.log.info({ partitions: dropped }, 'telemetry partitions past retention dropped');
    return { created, dropped };
  }

  /** Store records (skipping those stored before) and the newest status per site, in one transaction. */
  async write(records: TelemetryRecord[], latest: LatestHeartbeat[]): Promise<WriteResult> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const inserted = new Map<string, number>();
      if (records.length > 0) {
        const rows = records.map((r) => ({ satellite: r.satellite, at: r.at, msg_id: r.msgId, kind: r.kind, body: r.body }));
        const res = await client.query<{ kind: string; n: number }>(INSERT_TELEMETRY, [JSON.stringify(rows)]);
        for (const r of res.rows) inserted.set(r.kind, r.n);
      }
      if (latest.length > 0) {
        const rows = latest.map((l) => ({
          satellite: l.satellite,
          at_ms: l.atMs,
          interval_seconds: l.intervalSeconds,
          heartbeat: l.heartbeat,
          inventory: l.inventory?.images ?? null,
          inventory_at_ms: l.inventory?.atMs ?? null,
        }));
        await client.query(UPSERT_STATUS, [JSON.stringify(rows)]);
      }
      await client.query('COMMIT');
      return { inserted };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Evaluate every site's status again and record the changes; one instance at a time (others skip).
   * Returns the transitions, or undefined when another instance holds the sweep.
   */
  async sweep(rules: StatusRules): Promise<{ satellite: string; status: Liveness }[] | undefined> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const lock = await client.query<{ ok: boolean }>(
        `SELECT pg_try_advisory_xact_lock(hashtextextended('uplink.telemetry.sweep:' || current_schema(), 0)) AS ok`,
      );
      if (!lock.rows[0]?.ok) {
        await client.query('COMMIT');
        return undefined;
      }
      const expr = livenessSql('satellite_status', '$1::float8', '$2::float8');
      const { rows } = await client.query<{ satellite: string; status: Liveness }>(
        `UPDATE satellite_status SET status = ${expr}, status_since = now() WHERE status <> ${expr} RETURNING satellite, status`,
        [rules.staleAfterIntervals, rules.offlineAfterMs / 1000],
      );
      await client.query('COMMIT');
      return rows;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Sites by recorded status, and the newest heartbeat time of the `limit` longest silent sites. */
  async overview(limit: number): Promise<{ byStatus: Record<string, number>; oldest: Map<string, number> }> {
    const counts = await this.pool.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM satellite_status GROUP BY status');
    const oldest = await this.pool.query<{ satellite: string; at_ms: string }>(
      'SELECT satellite, (extract(epoch FROM last_heartbeat_at) * 1000)::bigint AS at_ms FROM satellite_status ORDER BY last_heartbeat_at LIMIT $1',
      [limit],
    );
    return {
      byStatus: Object.fromEntries(counts.rows.map((r) => [r.status, Number(r.n)])),
      oldest: new Map(oldest.rows.map((r) => [r.satellite, Number(r.at_ms)])),
    };
  }
}

/** SQLSTATE class 22 (data exception): the row itself is bad, e.g. "\u0000" in a JSON string. */
export function isBadData(err: unknown): boolean {
  return sqlState(err)?.startsWith('22') ?? false;
}

/** A row's time has no partition (23514 from a partitioned insert). */
export function isMissingPartition(err: unknown): boolean {
  return sqlState(err) === '23514' && /no partition/i.test((err as Error).message);
}
