// The paged fleet list over RPC, against real servers (nats-server, Postgres, Redis): one row per site
// with registration's lifecycle and heartbeat liveness, pages in name order that add up to the whole
// list, the liveness and name-prefix filters, cursors that hold while sites come and go, and requests
// out of range refused.
import { describe, expect, it } from 'vitest';
import { FleetSatellitesPage, FleetSatellitesQuery, type FleetSatellite, type RpcReply } from '@uplink/contracts';
import { currentTraceId, withNewTrace } from '@uplink/observability';
import { startRpcFixture } from './testing/rpc-fixture.js';

const digest = (c: string) => 'sha256:' + c.repeat(64);

interface SiteOpts {
  /** registration: registered (credentials valid or expired), or revoked */
  lifecycle?: 'pending' | 'active' | 'stale' | 'revoked';
  /** seconds since the newest heartbeat (interval 10 s); no heartbeat when absent */
  heartbeatAgeS?: number;
  sync?: string;
  applied?: number;
  desired?: number;
  versions?: Record<string, string>;
  groups?: string[];
}

async function fixture() {
  // stale after 3 intervals (30 s here), offline after 600 s: the defaults, said out loud
  const f = await startRpcFixture('ti-fleet-list', { STALE_AFTER_INTERVALS: '3', OFFLINE_AFTER_S: '600' });
  const pool = f.pool;
  return {
    ...f,
    async list(req: unknown): Promise<RpcReply<FleetSatellitesPage>> {
      return f.call<FleetSatellitesPage>('satellites', req);
    },
    async page(req: unknown): Promise<FleetSatellitesPage> {
      const r = await this.list(req);
      if (!r.ok) throw new Error(`satellites failed: ${r.error.code} ${r.error.message}`);
      // every page is what the contract says it is
      return FleetSatellitesPage.parse(r.data);
    },
    /** a registered site in the state given */
    async site(name: string, o: SiteOpts = {}) {
      const lifecycle = o.lifecycle ?? 'pending';
      await pool.query(
        `INSERT INTO satellites (name, registered_at, credentials_expire_at, revoked_at)
         VALUES ($1, CASE WHEN $2 = 'pending' THEN NULL ELSE now() - interval '1 day' END,
                 CASE WHEN $2 = 'active' THEN now() + interval '1 day' WHEN $2 = 'stale' THEN now() - interval '1 hour' END,
                 CASE WHEN $2 = 'revoked' THEN now() END)`,
        [name, lifecycle],
      );
      if (o.heartbeatAgeS !== undefined) {
        await pool.query(
          `INSERT INTO satellite_status (satellite, status, last_heartbeat_at, interval_seconds, heartbeat_at, heartbeat_msg_id, sync_status, applied_revision, versions)
           VALUES ($1, 'online', now() - make_interval(secs => $2), 10, now() - make_interval(secs => $2), $3, $4, $5, $6)`,
          [name, o.heartbeatAgeS, `${name}:1`, o.sync ?? null, o.applied ?? null, JSON.stringify(o.versions ?? {})],
        );
      }
      if (o.desired !== undefined) {
        await pool.query('INSERT INTO satellite_states (satellite, revision, digest, document) VALUES ($1, $2, $3, $4)', [
          name, o.desired, digest('d'), JSON.stringify({ artifacts: [] }),
        ]);
      }
      for (const g of o.groups ?? []) {
        await pool.query(`INSERT INTO groups (name, registry) VALUES ($1, 'http://127.0.0.1:1') ON CONFLICT DO NOTHING`, [g]);
        await pool.query('INSERT INTO group_satellites (group_name, satellite) VALUES ($1, $2)', [g, name]);
      }
    },
  };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

/** Walk every page with this query (strings, as the gateway gets them), returning the pages. */
async function walk(f: Fixture, query: Record<string, string>): Promise<FleetSatellitesPage[]> {
  const pages: FleetSatellitesPage[] = [];
  let cursor: string | undefined;
  do {
    const q = FleetSatellitesQuery.parse({ ...query, ...(cursor ? { cursor } : {}) });
    const page = await f.page({
      limit: q.limit,
      ...(q.cursor ? { after: q.cursor.after } : {}),
      ...(q.status ? { status: q.status } : {}),
      ...(q.q ? { prefix: q.q } : {}),
    });
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor && pages.length < 100);
  return pages;
}

const names = (pages: FleetSatellitesPage[]) => pages.map((p) => p.satellites.map((s) => s.name));

describe('fleet list in pages', () => {
  it('lists every site with its lifecycle, liveness, heartbeat, revisions, sync, version and groups', async () => {
    await using f = await fixture();
    await f.site('edge-on', {
      lifecycle: 'active', heartbeatAgeS: 1, sync: 'synced', applied: 3, desired: 4, versions: { satellite: '1.2.0', node: 'v22.1.0' }, groups: ['line-2', 'line-1'],
    });
    await f.site('edge-late', { lifecycle: 'stale', heartbeatAgeS: 45, applied: 2 });
    await f.site('edge-gone', { lifecycle: 'active', heartbeatAgeS: 3600 });
    await f.site('edge-new', { desired: 1, groups: ['line-1'] });
    await f.site('edge-old', { lifecycle: 'revoked', heartbeatAgeS: 2 });

    const { satellites, nextCursor } = await f.page({});
    expect(nextCursor).toBeUndefined();
    const by = Object.fromEntries(satellites.map((s) => [s.name, s])) as Record<string, FleetSatellite>;
    expect(satellites.map((s) => s.name)).toEqual(['edge-gone', 'edge-late', 'edge-new', 'edge-old', 'edge-on']);
    expect(by['edge-on']).toEqual({
      name: 'edge-on', lifecycle: 'active', liveness: 'online', lastHeartbeatAt: expect.any(String), syncStatus: 'synced',
      appliedRevision: 3, desiredRevision: 4, version: 'node v22.1.0, satellite 1.2.0', groups: ['line-1', 'line-2'],
    });
    expect(Date.now() - Date.parse(by['edge-on']!.lastHeartbeatAt!)).toBeLessThan(60_000);
    expect(by['edge-late']).toMatchObject({ lifecycle: 'stale', liveness: 'stale', appliedRevision: 2, desiredRevision: null, syncStatus: null });
    expect(by['edge-gone']).toMatchObject({ lifecycle: 'active', liveness: 'offline' });
    expect(by['edge-new']).toEqual({
      name: 'edge-new', lifecycle: 'pending', liveness: 'unknown', lastHeartbeatAt: null, syncStatus: null,
      appliedRevision: null, desiredRevision: 1, version: null, groups: ['line-1'],
    });
    expect(by['edge-old']).toMatchObject({ lifecycle: 'revoked', liveness: 'online' });
  });

  it('pages through the sites in byte order; the pages add up to the whole list', async () => {
    await using f = await fixture();
    // names whose order differs between byte order and a natural-language collation
    for (const n of ['edge-b', 'edge_a', 'edge-a', 'edgez', 'a1']) await f.site(n);
    const whole = await f.page({});
    expect(whole.satellites.map((s) => s.name)).toEqual(['a1', 'edge-a', 'edge-b', 'edge_a', 'edgez']);

    const pages = await walk(f, { limit: '2' });
    expect(names(pages)).toEqual([['a1', 'edge-a'], ['edge-b', 'edge_a'], ['edgez']]);
    expect(pages.map((p) => p.nextCursor === undefined)).toEqual([false, false, true]);
    expect(pages.flatMap((p) => p.satellites)).toEqual(whole.satellites);
  });

  it('filters by liveness and by name prefix, alone and together, across pages', async () => {
    await using f = await fixture();
    for (let i = 1; i <= 5; i++) await f.site(`north-0${i}`, i % 2 ? { heartbeatAgeS: 1 } : { heartbeatAgeS: 3600 });
    await f.site('north_x', { heartbeatAgeS: 1 });
    await f.site('south-01', { heartbeatAgeS: 1 });
    await f.site('south-02', { heartbeatAgeS: 60 });
    await f.site('south-03');

    expect(names(await walk(f, { status: 'online', limit: '2' }))).toEqual([['north-01', 'north-03'], ['north-05', 'north_x'], ['south-01']]);
    expect(names(await walk(f, { status: 'offline' }))).toEqual([['north-02', 'north-04']]);
    expect(names(await walk(f, { status: 'stale' }))).toEqual([['south-02']]);
    expect(names(await walk(f, { status: 'unknown' }))).toEqual([['south-03']]);
    // a prefix is a prefix: "_" and "-" are characters, not patterns
    expect(names(await walk(f, { q: 'north-', limit: '3' }))).toEqual([['north-01', 'north-02', 'north-03'], ['north-04', 'north-05']]);
    expect(names(await walk(f, { q: 'north_' }))).toEqual([['north_x']]);
    expect(names(await walk(f, { q: 'north', status: 'online', limit: '3' }))).toEqual([['north-01', 'north-03', 'north-05'], ['north_x']]);
    expect(names(await walk(f, { q: 'west' }))).toEqual([[]]);
    expect((await f.page({ status: 'stale', prefix: 'north' })).satellites).toEqual([]);
  });

  it('keeps its place while sites are added and removed, and defaults to 100 sites a page', async () => {
    await using f = await fixture();
    await f.pool.query(`INSERT INTO satellites (name) SELECT 's-' || lpad(i::text, 3, '0') FROM generate_series(1, 120) i`);
    const first = await f.page({});
    expect(first.satellites).toHaveLength(100);
    expect(first.satellites.at(-1)?.name).toBe('s-100');
    // a site before the cursor and one gone after it change nothing already seen, nor skip anything
    await f.site('s-000');
    await f.pool.query(`DELETE FROM satellites WHERE name = 's-101'`);
    const after = FleetSatellitesQuery.parse({ cursor: first.nextCursor }).cursor!.after;
    const rest = await f.page({ after });
    expect(rest.satellites.map((s) => s.name)).toEqual(Array.from({ length: 19 }, (_, i) => `s-${102 + i}`));
    expect(rest.nextCursor).toBeUndefined();
    // a cursor past the end is an empty last page; a full page of exactly the rest has no cursor
    expect(await f.page({ after: 'zzz' })).toEqual({ satellites: [] });
    expect(await f.page({ after, limit: 19 })).not.toHaveProperty('nextCursor');
    expect((await f.page({ limit: 1000 })).satellites).toHaveLength(120);
  });

  it('refuses a limit out of range, a bad status, prefix or site name with VALIDATION_FAILED', async () => {
    await using f = await fixture();
    for (const req of [
      { limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { after: 'Not A Name' }, { status: 'pending' }, { status: 'ONLINE' },
      { prefix: '' }, { prefix: 'Edge' }, { prefix: 'edge%' }, { cursor: 'x' },
    ]) {
      const r = await f.list(req);
      expect(r.ok, JSON.stringify(req)).toBe(false);
      expect(!r.ok && r.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it("serves each page in the caller's trace and logs what it served", async () => {
    await using f = await fixture();
    await f.site('edge-01');
    const traceId = await withNewTrace(async () => {
      await f.page({ limit: 5, status: 'unknown', prefix: 'edge' });
      return currentTraceId();
    });
    expect(f.logs.find((l) => l.msg === 'fleet satellites page')).toMatchObject({ traceId, sites: 1, more: false, status: 'unknown', prefix: 'edge' });
  });
});
