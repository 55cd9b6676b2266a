// Postgres side of telemetry-ingest: daily partitions, batch writes, the status sweep.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { sqlState, type Pool, type PoolClient } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import { daysToPrepare, partitionDay, partitionName, partitionsToDrop, DAY_MS } from './partitions.js';
import type { LatestHeartbeat, TelemetryRecord } from './records.js';
import { livenessSql, type Liveness, type StatusRules } from './status.js';

// Each batch goes by COPY into per-connection temp tables, then into the real tables with one
// statement each: rows already stored are skipped by the key, and each site's status moves only forward
// (batches may commit out of order).
const TEMP_TABLES = `
CREATE TEMP TABLE IF NOT EXISTS telemetry_in (satellite text, at timestamptz, msg_id text, kind text, body text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS satellite_status_in (
  satellite text, last_heartbeat_at timestamptz, heartbeat_seq bigint, interval_seconds integer, heartbeat_at timestamptz, heartbeat_msg_id text,
  sync_status text, applied_revision bigint, versions text, inventory text, inventory_at timestamptz
) ON COMMIT DELETE ROWS`;

const COPY_TELEMETRY = 'COPY telemetry_in (satellite, at, msg_id, kind, body) FROM STDIN';
const INSERT_TELEMETRY = `
WITH ins AS (
  INSERT INTO telemetry (satellite, at, msg_id, kind, body)
  SELECT satellite, at, msg_id, kind, body::json FROM telemetry_in
  ORDER BY satellite, at, msg_id
  ON CONFLICT DO NOTHING
  RETURNING kind
)
SELECT kind, count(*)::int AS n FROM ins GROUP BY kind`;

const COPY_STATUS = 'COPY satellite_status_in FROM STDIN';
// heartbeats of the same millisecond are ordered by their seq
const newer = '(EXCLUDED.last_heartbeat_at, EXCLUDED.heartbeat_seq) > (s.last_heartbeat_at, s.heartbeat_seq)';
const newerInventory = 'EXCLUDED.inventory_at > s.inventory_at OR (s.inventory_at IS NULL AND EXCLUDED.inventory_at IS NOT NULL)';
const UPSERT_STATUS = `
INSERT INTO satellite_status AS s (satellite, status, last_heartbeat_at, heartbeat_seq, interval_seconds, heartbeat_at, heartbeat_msg_id,
  sync_status, applied_revision, versions, inventory, inventory_at)
SELECT satellite, 'online', last_heartbeat_at, heartbeat_seq, interval_seconds, heartbeat_at, heartbeat_msg_id,
  sync_status, applied_revision, versions::jsonb, inventory::jsonb, inventory_at
FROM satellite_status_in ORDER BY satellite
ON CONFLICT (satellite) DO UPDATE SET
  last_heartbeat_at = GREATEST(s.last_heartbeat_at, EXCLUDED.last_heartbeat_at),
  heartbeat_seq = CASE WHEN ${newer} THEN EXCLUDED.heartbeat_seq ELSE s.heartbeat_seq END,
  interval_seconds = CASE WHEN ${newer} THEN EXCLUDED.interval_seconds ELSE s.interval_seconds END,
  heartbeat_at = CASE WHEN ${newer} THEN EXCLUDED.heartbeat_at ELSE s.heartbeat_at END,
  heartbeat_msg_id = CASE WHEN ${newer} THEN EXCLUDED.heartbeat_msg_id ELSE s.heartbeat_msg_id END,
  sync_status = CASE WHEN ${newer} THEN EXCLUDED.sync_status ELSE s.sync_status END,
  applied_revision = CASE WHEN ${newer} THEN EXCLUDED.applied_revision ELSE s.applied_revision END,
  versions = CASE WHEN ${newer} THEN EXCLUDED.versions ELSE s.versions END,
  inventory = CASE WHEN ${newerInventory} THEN EXCLUDED.inventory ELSE s.inventory END,
  inventory_at = CASE WHEN ${newerInventory} THEN EXCLUDED.inventory_at ELSE s.inventory_at END,
  updated_at = now()
WHERE ${newer} OR ${newerInventory}`;

/** A value in COPY's text format: backslash, tab, newline and carriage return escaped; null as \\N. */
export function copyText(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const s = String(value);
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : s;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

async function copyIn(client: PoolClient, sql: string, text: string): Promise<void> {
  await pipeline(Readable.from([text]), client.query(copyFrom(sql)));
}

export interface WriteResult {
  /** records newly stored, by kind (the rest were stored before) */
  inserted: Map<string, number>;
}

export class TelemetryStore {
  /** partitions known to exist (days, ms) */
  private readonly known = new Set<number>();
  /** pooled connections that have their temp tables */
  private readonly prepared = new WeakSet<PoolClient>();

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
      if (!this.prepared.has(client)) {
        await client.query(TEMP_TABLES);
        this.prepared.add(client);
      }
      await client.query('BEGIN');
      const inserted = new Map<string, number>();
      if (records.length > 0) {
        let text = '';
        for (const r of records) text += `${r.satellite}\t${r.at}\t${copyText(r.msgId)}\t${r.kind}\t${copyText(r.raw)}\n`;
        await copyIn(client, COPY_TELEMETRY, text);
        const res = await client.query<{ kind: string; n: number }>(INSERT_TELEMETRY);
        for (const r of res.rows) inserted.set(r.kind, r.n);
      }
      if (latest.length > 0) {
        let text = '';
        for (const l of latest) {
          const h = l.heartbeat;
          text +=
            `${l.satellite}\t${iso(l.atMs)}\t${h.seq}\t${l.intervalSeconds}\t${h.at}\t${copyText(l.msgId)}\t${h.sync.status}\t` +
            `${copyText(h.applied?.revision)}\t${copyText(JSON.stringify(h.versions))}\t` +
            `${l.inventory ? copyText(JSON.stringify(l.inventory.images)) : '\\N'}\t${l.inventory ? iso(l.inventory.atMs) : '\\N'}\n`;
        }
        await copyIn(client, COPY_STATUS, text);
        await client.query(UPSERT_STATUS);
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
