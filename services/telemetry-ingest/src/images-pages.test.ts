// The paged image report over RPC, against real servers (nats-server, Postgres, Redis): pages of sites
// in name order that add up to the whole fleet's report, cursors that hold while sites come and go,
// requests out of range refused, and each page served in the caller's trace.
import { describe, expect, it } from 'vitest';
import { ImagesQuery, type ImagesView, type RpcReply } from '@uplink/contracts';
import { currentTraceId, withNewTrace } from '@uplink/observability';
import { startRpcFixture } from './testing/rpc-fixture.js';

const digest = (c: string) => 'sha256:' + c.repeat(64);
const web = { repository: 'app/web', digest: digest('a'), tag: '1.0' };
const db = { repository: 'app/db', digest: digest('b') };

async function fixture() {
  const f = await startRpcFixture('ti-pages');
  const pool = f.pool;
  return {
    ...f,
    async images(req: unknown): Promise<RpcReply<ImagesView>> {
      return f.call<ImagesView>('images', req);
    },
    async page(req: unknown): Promise<ImagesView> {
      const r = await this.images(req);
      if (!r.ok) throw new Error(`images failed: ${r.error.code} ${r.error.message}`);
      return r.data;
    },
    /** a registered site, with a reported inventory and a desired state when given */
    async site(name: string, opts: { inventory?: object[]; desired?: object[]; revoked?: boolean } = {}) {
      await pool.query('INSERT INTO satellites (name, revoked_at) VALUES ($1, $2)', [name, opts.revoked ? new Date() : null]);
      if (opts.inventory) {
        await pool.query(
          `INSERT INTO satellite_status (satellite, status, last_heartbeat_at, interval_seconds, heartbeat_at, heartbeat_msg_id, inventory)
           VALUES ($1, 'online', now(), 10, now(), $2, $3)`,
          [name, `${name}:1`, JSON.stringify(opts.inventory)],
        );
      }
      if (opts.desired) {
        await pool.query('INSERT INTO satellite_states (satellite, revision, digest, document) VALUES ($1, 1, $2, $3)', [
          name, digest('d'), JSON.stringify({ artifacts: opts.desired.map((a) => ({ registry: 'up', ...a })) }),
        ]);
      }
    },
  };
}

/** Walk every page with this limit, returning the pages. */
async function walk(f: Awaited<ReturnType<typeof fixture>>, limit: number): Promise<ImagesView[]> {
  const pages: ImagesView[] = [];
  let cursor: string | undefined;
  do {
    const q = ImagesQuery.parse({ limit: String(limit), ...(cursor ? { cursor } : {}) });
    const page = await f.page({ limit: q.limit, ...(q.cursor ? { after: q.cursor.after } : {}) });
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor && pages.length < 100);
  return pages;
}

describe('images report in pages', () => {
  it('pages through the sites in name order; the pages add up to the whole report', async () => {
    await using f = await fixture();
    // names whose order differs between byte order and a natural-language collation
    await f.site('edge-b', { inventory: [web], desired: [web, db] });
    await f.site('edge_a', { inventory: [db], desired: [web] });
    await f.site('edge-a', { desired: [web] });
    await f.site('edgez', { inventory: [web, db] });
    await f.site('edge-c', { revoked: true, inventory: [web] });
    await f.site('a1');

    const whole = await f.page({});
    expect(whole.nextCursor).toBeUndefined();
    expect(whole.sites.map((s) => s.name)).toEqual(['a1', 'edge-a', 'edge-b', 'edge_a', 'edgez']);

    const pages = await walk(f, 2);
    expect(pages.map((p) => p.sites.map((s) => s.name))).toEqual([['a1', 'edge-a'], ['edge-b', 'edge_a'], ['edgez']]);
    expect(pages.map((p) => p.nextCursor === undefined)).toEqual([false, false, true]);
    // each page's images speak of its own sites only
    expect(pages[0]!.images).toEqual([{ repository: 'app/web', digest: digest('a'), tags: ['1.0'], sites: [], desiredBy: ['edge-a'], missingAt: ['edge-a'] }]);
    // and merged, they are the unpaged report
    const merged = new Map<string, { tags: Set<string>; sites: string[]; desiredBy: string[]; missingAt: string[] }>();
    for (const img of pages.flatMap((p) => p.images)) {
      const m = merged.get(`${img.repository}@${img.digest}`) ?? { tags: new Set<string>(), sites: [], desiredBy: [], missingAt: [] };
      img.tags.forEach((t) => m.tags.add(t));
      m.sites.push(...img.sites);
      m.desiredBy.push(...img.desiredBy);
      m.missingAt.push(...img.missingAt);
      merged.set(`${img.repository}@${img.digest}`, m);
    }
    expect(Object.fromEntries([...merged].map(([k, m]) => [k, { ...m, tags: [...m.tags].sort() }]))).toEqual(
      Object.fromEntries(whole.images.map((i) => [`${i.repository}@${i.digest}`, { tags: i.tags, sites: i.sites, desiredBy: i.desiredBy, missingAt: i.missingAt }])),
    );
    expect(pages.flatMap((p) => p.sites)).toEqual(whole.sites);
  });

  it('keeps its place while sites are added and removed, and defaults to 100 sites a page', async () => {
    await using f = await fixture();
    await f.pool.query(`INSERT INTO satellites (name) SELECT 's-' || lpad(i::text, 3, '0') FROM generate_series(1, 120) i`);
    const first = await f.page({});
    expect(first.sites).toHaveLength(100);
    expect(first.sites.at(-1)?.name).toBe('s-100');
    // a site before the cursor and one gone after it change nothing already seen, nor skip anything
    await f.site('s-000');
    await f.pool.query(`DELETE FROM satellites WHERE name = 's-101'`);
    const after = ImagesQuery.parse({ cursor: first.nextCursor }).cursor!.after;
    const rest = await f.page({ after });
    expect(rest.sites.map((s) => s.name)).toEqual(Array.from({ length: 19 }, (_, i) => `s-${102 + i}`));
    expect(rest.nextCursor).toBeUndefined();
    // a cursor past the end is an empty last page
    expect(await f.page({ after: 'zzz' })).toMatchObject({ images: [], sites: [] });
    expect((await f.page({ limit: 1000 })).sites).toHaveLength(120);
  });

  it('refuses a limit out of range or a bad site name with VALIDATION_FAILED', async () => {
    await using f = await fixture();
    for (const req of [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { after: 'Not A Name' }, { cursor: 'x' }]) {
      const r = await f.images(req);
      expect(r.ok, JSON.stringify(req)).toBe(false);
      expect(!r.ok && r.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it("serves each page in the caller's trace, so its log lines carry the caller's trace id", async () => {
    await using f = await fixture();
    await f.site('edge-01');
    const traceId = await withNewTrace(async () => {
      await f.page({ limit: 5 });
      return currentTraceId();
    });
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(f.logs.find((l) => l.msg === 'images page')).toMatchObject({ traceId, sites: 1, more: false });
  });
});
