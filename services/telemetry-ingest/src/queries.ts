// The reads behind the RPC methods: one site's status, the fleet summary and list, stored telemetry,
// images.
import {
  ErrorCode,
  UplinkError,
  fleetSatellitesCursor,
  imagesCursor,
  type FleetSatellitesPage,
  type FleetView,
  type Heartbeat,
  type ImagesView,
  type SatelliteLifecycle,
  type SatelliteLiveness,
  type SatelliteStatusView,
  type TelemetryPage,
  type TelemetryQuery,
} from '@uplink/contracts';
import type { Pool } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import { imagesReport, type SiteImages } from './images.js';
import type { StatusCache } from './status-cache.js';
import { livenessSql, satelliteStatus, type StatusRules } from './status.js';

const HOUR_MS = 3_600_000;

function notFound(name: string): UplinkError {
  return new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `satellite "${name}" does not exist`, { details: { satellite: name } });
}

export class TelemetryQueries {
  constructor(
    private readonly pool: Pool,
    private readonly cache: StatusCache,
    private readonly rules: StatusRules,
    private readonly log: Logger,
  ) {}

  /** ARCHITECTURE §7 status of a registered satellite: the latest heartbeat from Redis, else Postgres. */
  async status(name: string): Promise<SatelliteStatusView> {
    const sat = await this.pool.query<{ revoked: boolean }>('SELECT revoked_at IS NOT NULL AS revoked FROM satellites WHERE name = $1', [name]);
    const row = sat.rows[0];
    if (!row) throw notFound(name);
    let latest: { atMs: number; intervalSeconds: number; heartbeat: Heartbeat | null } | undefined;
    try {
      latest = await this.cache.get(name);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, satellite: name }, 'redis unavailable; reading status from postgres');
    }
    if (!latest) {
      // the heartbeat itself is its telemetry row (gone once its partition passed the retention)
      const { rows } = await this.pool.query<{ at_ms: string; interval_seconds: number; heartbeat: Heartbeat | null }>(
        `SELECT (extract(epoch FROM st.last_heartbeat_at) * 1000)::bigint AS at_ms, st.interval_seconds, t.body AS heartbeat
         FROM satellite_status st
         LEFT JOIN telemetry t ON t.satellite = st.satellite AND t.at = st.heartbeat_at AND t.msg_id = st.heartbeat_msg_id
         WHERE st.satellite = $1`,
        [name],
      );
      const r = rows[0];
      if (r) latest = { atMs: Number(r.at_ms), intervalSeconds: r.interval_seconds, heartbeat: r.heartbeat };
    }
    return {
      name,
      status: satelliteStatus({ revoked: row.revoked, last: latest }, Date.now(), this.rules),
      lastHeartbeatAt: latest ? new Date(latest.atMs).toISOString() : null,
      heartbeat: latest?.heartbeat ?? null,
    };
  }

  /** Counts over the registered fleet, evaluated now. */
  async fleet(): Promise<FleetView> {
    const params = [this.rules.staleAfterIntervals, this.rules.offlineAfterMs / 1000];
    const status = `CASE WHEN s.revoked_at IS NOT NULL THEN 'revoked' WHEN st.satellite IS NULL THEN 'pending'
      ELSE ${livenessSql('st', '$1::float8', '$2::float8')} END`;
    const [byStatus, sync, versions] = await Promise.all([
      this.pool.query<{ status: string; n: string }>(
        `SELECT ${status} AS status, count(*) AS n
         FROM satellites s LEFT JOIN satellite_status st ON st.satellite = s.name GROUP BY 1`,
        params,
      ),
      this.pool.query<{ sync: string | null; converged: string; behind: string; n: string }>(
        `SELECT st.sync_status AS sync,
                count(*) FILTER (WHERE ss.revision IS NOT NULL AND st.applied_revision = ss.revision) AS converged,
                count(*) FILTER (WHERE ss.revision IS NOT NULL AND st.applied_revision IS DISTINCT FROM ss.revision) AS behind,
                count(*) AS n
         FROM satellites s
         JOIN satellite_status st ON st.satellite = s.name
         LEFT JOIN satellite_states ss ON ss.satellite = s.name
         WHERE s.revoked_at IS NULL
         GROUP BY 1`,
      ),
      this.pool.query<{ component: string; version: string; n: string }>(
        `SELECT v.key AS component, v.value AS version, count(*) AS n
         FROM satellites s
         JOIN satellite_status st ON st.satellite = s.name,
         LATERAL jsonb_each_text(st.versions) v
         WHERE s.revoked_at IS NULL
         GROUP BY 1, 2`,
      ),
    ]);
    const view: FleetView = {
      total: 0,
      byStatus: { pending: 0, online: 0, stale: 0, offline: 0, revoked: 0 },
      sync: { byStatus: {}, converged: 0, behind: 0 },
      versions: {},
      generatedAt: new Date().toISOString(),
    };
    for (const r of byStatus.rows) {
      view.byStatus[r.status as keyof FleetView['byStatus']] = Number(r.n);
      view.total += Number(r.n);
    }
    for (const r of sync.rows) {
      if (r.sync) view.sync.byStatus[r.sync] = Number(r.n);
      view.sync.converged += Number(r.converged);
      view.sync.behind += Number(r.behind);
    }
    for (const r of versions.rows) (view.versions[r.component] ??= {})[r.version] = Number(r.n);
    return view;
  }

  /** Stored telemetry of one site in a time range, oldest first. */
  async telemetry(satellite: string, q: TelemetryQuery): Promise<TelemetryPage> {
    const exists = await this.pool.query('SELECT 1 FROM satellites WHERE name = $1', [satellite]);
    if (!exists.rowCount) throw notFound(satellite);
    const to = q.to ? Date.parse(q.to) : Date.now();
    const from = q.from ? Date.parse(q.from) : to - HOUR_MS;
    const limit = q.limit ?? 100;
    const { rows } = await this.pool.query<{ kind: string; at: Date; msg_id: string; received_at: Date; body: unknown }>(
      `SELECT kind, at, msg_id, received_at, body FROM telemetry
       WHERE satellite = $1 AND at >= $2 AND at < $3 AND ($4::text IS NULL OR kind = $4)
       ORDER BY at, msg_id LIMIT $5`,
      [satellite, new Date(from), new Date(to), q.kind ?? null, limit + 1],
    );
    return {
      satellite,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      items: rows.slice(0, limit).map((r) => ({
        satellite,
        kind: r.kind,
        at: r.at.toISOString(),
        msgId: r.msg_id,
        receivedAt: r.received_at.toISOString(),
        body: r.body,
      })),
      truncated: rows.length > limit,
    };
  }

  /**
   * Images held by the registered sites against the artifacts of their desired state, one page of sites
   * at a time: at most `limit`, in name order (byte order, whatever the database's collation), those
   * after `after`; `nextCursor` when more follow.
   */
  async images(page: { limit: number; after?: string | undefined }): Promise<ImagesView> {
    const { rows } = await this.pool.query<{ name: string; inventory: SiteImages['inventory']; desired: SiteImages['desired'] | null }>(
      `WITH page AS (
         SELECT name FROM satellites
         WHERE revoked_at IS NULL AND ($1::text IS NULL OR name COLLATE "C" > $1::text COLLATE "C")
         ORDER BY name COLLATE "C"
         LIMIT $2
       )
       SELECT p.name, st.inventory, d.document->'artifacts' AS desired
       FROM page p
       LEFT JOIN satellite_status st ON st.satellite = p.name
       LEFT JOIN satellite_documents d ON d.satellite = p.name
       ORDER BY p.name COLLATE "C"`,
      [page.after ?? null, page.limit + 1],
    );
    const more = rows.length > page.limit;
    const sites = more ? rows.slice(0, page.limit) : rows;
    const view = imagesReport(
      sites.map((r) => ({ name: r.name, inventory: r.inventory ?? null, desired: Array.isArray(r.desired) ? r.desired : [] })),
      Date.now(),
    );
    const last = sites.at(-1);
    if (more && last) view.nextCursor = imagesCursor(last.name);
    this.log.debug({ after: page.after, limit: page.limit, sites: sites.length, more }, 'images page');
    return view;
  }

  /**
   * The fleet list, one page at a time: at most `limit` registered sites (revoked ones too) in name
   * order (byte order, whatever the database's collation), those after `after`, only those whose
   * liveness is `status` and whose name starts with `prefix` when given; `nextCursor` when more follow.
   * Lifecycle as registration keeps it, liveness evaluated now from the newest heartbeat.
   */
  async satellites(page: { limit: number; after?: string | undefined; status?: SatelliteLiveness | undefined; prefix?: string | undefined }): Promise<FleetSatellitesPage> {
    const { rows } = await this.pool.query<{
      name: string;
      lifecycle: SatelliteLifecycle;
      liveness: SatelliteLiveness;
      last_heartbeat_at: Date | null;
      sync_status: string | null;
      applied_revision: string | null;
      desired_revision: string | null;
      version: string | null;
      groups: string[];
    }>(
      `WITH site AS (
         SELECT s.name,
                CASE WHEN s.revoked_at IS NOT NULL THEN 'revoked' WHEN s.registered_at IS NULL THEN 'pending'
                  WHEN s.credentials_expire_at > now() THEN 'active' ELSE 'stale' END AS lifecycle,
                CASE WHEN st.satellite IS NULL THEN 'unknown' ELSE ${livenessSql('st', '$5::float8', '$6::float8')} END AS liveness,
                st.last_heartbeat_at, st.sync_status, st.versions,
                coalesce(st.applied_revision, ss.applied_revision) AS applied_revision, ss.revision AS desired_revision
         FROM satellites s
         LEFT JOIN satellite_status st ON st.satellite = s.name
         LEFT JOIN satellite_states ss ON ss.satellite = s.name
         WHERE ($1::text IS NULL OR s.name COLLATE "C" > $1::text COLLATE "C")
           AND ($2::text IS NULL OR starts_with(s.name, $2::text))
       ), page AS (
         SELECT * FROM site WHERE $3::text IS NULL OR liveness = $3::text
         ORDER BY name COLLATE "C"
         LIMIT $4
       )
       SELECT p.name, p.lifecycle, p.liveness, p.last_heartbeat_at, p.sync_status, p.applied_revision, p.desired_revision,
              (SELECT string_agg(v.key || ' ' || v.value, ', ' ORDER BY v.key COLLATE "C") FROM jsonb_each_text(p.versions) v) AS version,
              array(SELECT g.group_name FROM group_satellites g WHERE g.satellite = p.name ORDER BY g.group_name COLLATE "C") AS groups
       FROM page p
       ORDER BY p.name COLLATE "C"`,
      [page.after ?? null, page.prefix ?? null, page.status ?? null, page.limit + 1, this.rules.staleAfterIntervals, this.rules.offlineAfterMs / 1000],
    );
    const more = rows.length > page.limit;
    const sites = more ? rows.slice(0, page.limit) : rows;
    const num = (v: string | null) => (v === null ? null : Number(v));
    const view: FleetSatellitesPage = {
      satellites: sites.map((r) => ({
        name: r.name,
        lifecycle: r.lifecycle,
        liveness: r.liveness,
        lastHeartbeatAt: r.last_heartbeat_at ? r.last_heartbeat_at.toISOString() : null,
        syncStatus: r.sync_status,
        appliedRevision: num(r.applied_revision),
        desiredRevision: num(r.desired_revision),
        version: r.version,
        groups: r.groups,
      })),
    };
    const last = sites.at(-1);
    if (more && last) view.nextCursor = fleetSatellitesCursor(last.name);
    this.log.debug({ after: page.after, limit: page.limit, status: page.status, prefix: page.prefix, sites: sites.length, more }, 'fleet satellites page');
    return view;
  }
}
