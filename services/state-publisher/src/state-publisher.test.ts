import http from 'node:http';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  SCHEMA_HEADER,
  StatePublisherEnv,
  decodeMessage,
  loadEnv,
  rpcMethods,
  rpcSubject,
  subjects,
  type DesiredState,
  type RpcMethod,
  type RpcReply,
} from '@uplink/contracts';
import { publishMessage } from '@uplink/bus';
import { createPool, type Pool } from '@uplink/db';
import { createLogger } from '@uplink/observability';
import { createPgSchema, freePort, startHub, waitFor, type Hub, type PgSchema } from '@uplink/testkit';
import { startStatePublisher, type StatePublisherHandle } from './start.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

/** A tiny upstream registry answering HEAD /v2/<repo>/manifests/<tag> from a table. */
async function startFakeUpstream() {
  const tags = new Map<string, string>();
  const accepts: string[] = [];
  const port = await freePort();
  let server: http.Server | undefined;
  const handler: http.RequestListener = (req, res) => {
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(req.url ?? '');
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    if (!m) return void res.writeHead(404).end();
    accepts.push(String(req.headers.accept ?? ''));
    const digest = tags.get(`${m[1]}:${m[2]}`);
    if (!digest) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    res.writeHead(200, { 'docker-content-digest': digest, 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': '2' });
    res.end(req.method === 'HEAD' ? undefined : '{}');
  };
  const up = async () => {
    server = http.createServer(handler);
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
  };
  const down = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  };
  await up();
  return { url: `http://127.0.0.1:${port}`, tags, accepts, up, down };
}

let hub: Hub;
let schema: PgSchema;
let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
let sp: StatePublisherHandle;
let client: ClientProxy;
let nc: NatsConnection;
let jsm: JetStreamManager;
let db: Pool;
let statements = 0;

beforeAll(async () => {
  [hub, schema, upstream] = await Promise.all([startHub(), createPgSchema('sp'), startFakeUpstream()]);
  const env = loadEnv(StatePublisherEnv, {
    NATS_URL: hub.url,
    DATABASE_URL: schema.url,
    LOG_LEVEL: 'silent',
    REPUBLISH_INTERVAL_S: '1',
    TAG_RESOLVE_INTERVAL_S: '1',
    UPSTREAM_TIMEOUT_MS: '1000',
    METRICS_PORT: '0',
  });
  const logger = createLogger({ service: 'state-publisher', level: 'silent' });
  sp = await startStatePublisher(env, { logger, onQuery: () => statements++ });
  client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [hub.url] } });
  await client.connect();
  nc = await connect({ servers: hub.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  jsm = await jetstreamManager(nc);
  db = createPool({ url: schema.url, max: 2, logger });
});

afterAll(async () => {
  await client?.close();
  await nc?.close();
  await sp?.close();
  await db?.end();
  await Promise.all([hub?.[Symbol.asyncDispose](), schema?.[Symbol.asyncDispose](), upstream?.down()]);
});

async function rpc<M extends RpcMethod<'state'>>(method: M, data: unknown): Promise<RpcReply<any>> {
  return firstValueFrom(client.send(rpcSubject('state', method), data));
}

async function ok<M extends RpcMethod<'state'>>(method: M, data: unknown): Promise<any> {
  const r = await rpc(method, data);
  if (!r.ok) throw new Error(`${method} failed: ${r.error.code} ${r.error.message}`);
  return r.data;
}

/** The satellite's message on the hub's STATE stream, validated as a receiver would. */
async function stateOnHub(sat: string): Promise<DesiredState | null> {
  const m = await jsm.direct.getMessage('STATE', { last_by_subj: subjects.state(sat) });
  if (!m) return null;
  const decoded = decodeMessage('desired-state', m.header.get(SCHEMA_HEADER), m.data);
  if (!decoded.ok) throw new Error(decoded.reason);
  return decoded.value;
}

async function revisionOnHub(sat: string, revision: number): Promise<DesiredState> {
  return waitFor(async () => {
    const s = await stateOnHub(sat);
    return s && s.revision === revision ? s : undefined;
  }, { what: `${sat} at revision ${revision} on STATE`, timeoutMs: 15_000 });
}

/** Satellites as registration creates them: the rows and their groups in one transaction, then recompute. */
async function createSatellites(names: string[], groups: string[] = []) {
  const c = await db.connect();
  try {
    await c.query('BEGIN');
    await c.query('INSERT INTO satellites (name) SELECT unnest($1::text[])', [names]);
    for (const g of groups) await c.query('INSERT INTO group_satellites (group_name, satellite) SELECT $1, unnest($2::text[])', [g, names]);
    await c.query('COMMIT');
  } finally {
    c.release();
  }
  await ok('recompute', { satellites: names });
}

describe('state-publisher', () => {
  it('publishes each assigned satellite its desired state with every tag pinned', async () => {
    upstream.tags.set('library/nginx:1.25', d('b'));
    const group = await ok('putGroup', {
      name: 'web',
      body: { registry: upstream.url, artifacts: [{ repository: 'library/alpine', digest: d('a') }, { repository: 'library/nginx', tags: ['1.25'] }] },
    });
    expect(group.resolved).toEqual([
      { registry: expect.any(String), repository: 'library/alpine', digest: d('a') },
      { registry: expect.any(String), repository: 'library/nginx', tag: '1.25', digest: d('b') },
    ]);
    expect(group.unresolved).toEqual([]);
    // the lookup asks for every manifest kind
    expect(upstream.accepts.at(-1)).toMatch(/application\/vnd\.oci\.image\.index\.v1\+json/);
    expect(upstream.accepts.at(-1)).toMatch(/application\/vnd\.docker\.distribution\.manifest\.list\.v2\+json/);

    await createSatellites(['web-1', 'web-2'], ['web']);
    for (const sat of ['web-1', 'web-2']) {
      const s = await revisionOnHub(sat, 1);
      expect(s.satellite).toBe(sat);
      expect(s.registries).toEqual([{ name: expect.any(String), url: upstream.url }]);
      expect(s.artifacts.map((a) => [a.repository, a.tag, a.digest])).toEqual([
        ['library/alpine', undefined, d('a')],
        ['library/nginx', '1.25', d('b')],
      ]);
    }
    const got = await ok('getGroup', { name: 'web' });
    expect(got.satellites).toEqual(['web-1', 'web-2']);
    expect((await ok('listGroups', {})).map((g: { name: string }) => g.name)).toContain('web');
  });

  it('gives a new revision only to satellites whose content changed, and none for the same group again', async () => {
    const base = { registry: upstream.url, artifacts: [{ repository: 'library/busybox', digest: d('c') }] };
    await ok('putGroup', { name: 'chg-a', body: base });
    await ok('putGroup', { name: 'chg-b', body: { registry: upstream.url, artifacts: [{ repository: 'library/redis', digest: d('e') }] } });
    await createSatellites(['chg-1', 'chg-2'], ['chg-a']);
    await ok('assign', { group: 'chg-b', satellite: 'chg-2' }); // chg-2: revision 2
    await revisionOnHub('chg-1', 1);
    await revisionOnHub('chg-2', 2);

    // chg-a gains redis, which chg-2 already has through chg-b: only chg-1's content changes
    const changed = { registry: upstream.url, artifacts: [...base.artifacts, { repository: 'library/redis', digest: d('e') }] };
    const reply = await ok('putGroup', { name: 'chg-a', body: changed });
    expect(reply.affectedSatellites).toBe(1);
    const s1 = await revisionOnHub('chg-1', 2);
    expect(s1.artifacts.map((a) => a.repository)).toEqual(['library/busybox', 'library/redis']);
    expect((await stateOnHub('chg-2'))?.revision).toBe(2);

    // chg-1: 1, 2; chg-2: 1, 2 (the record is written once the publishing job is done)
    const recorded = async () => (await db.query("SELECT count(*)::int AS n FROM published_states WHERE satellite LIKE 'chg-%'")).rows[0].n;
    await waitFor(async () => (await recorded()) === 4, { what: 'four published revisions recorded' });
    const before = (await jsm.streams.info('STATE')).state.last_seq;
    const again = await ok('putGroup', { name: 'chg-a', body: changed });
    expect(again.affectedSatellites).toBe(0);
    await ok('recompute', { satellites: ['chg-1', 'chg-2'] });
    expect(await recorded()).toBe(4);
    expect((await jsm.streams.info('STATE')).state.last_seq).toBe(before);
  });

  it('keeps the last known digest while the upstream is down, never publishes a tag unpinned, and follows moved tags', async () => {
    upstream.tags.set('library/nginx:stable', d('1'));
    await ok('putGroup', { name: 'up', body: { registry: upstream.url, artifacts: [{ repository: 'library/nginx', tags: ['stable'] }] } });
    await createSatellites(['up-1'], ['up']);
    expect((await revisionOnHub('up-1', 1)).artifacts.map((a) => a.digest)).toEqual([d('1')]);

    await upstream.down();
    try {
      const reply = await ok('putGroup', {
        name: 'up',
        body: { registry: upstream.url, artifacts: [{ repository: 'library/nginx', tags: ['stable'] }, { repository: 'library/redis', tags: ['7'] }] },
      });
      expect(reply.resolved.map((a: { tag: string; digest: string }) => [a.tag, a.digest])).toEqual([['stable', d('1')]]);
      expect(reply.unresolved).toEqual([{ repository: 'library/redis', tag: '7', reason: expect.any(String) }]);
      expect(reply.affectedSatellites).toBe(0);
      const view = await ok('getState', { satellite: 'up-1' });
      expect(view.desired.artifacts.map((a: { repository: string }) => a.repository)).toEqual(['library/nginx']);
    } finally {
      upstream.tags.set('library/redis:7', d('7'));
      upstream.tags.set('library/nginx:stable', d('2')); // moved while we could not see it
      await upstream.up();
    }
    // the background re-resolution picks both up (in one or two passes), everything pinned
    const want = JSON.stringify([
      ['library/nginx', 'stable', d('2')],
      ['library/redis', '7', d('7')],
    ]);
    const s = await waitFor(async () => {
      const st = await stateOnHub('up-1');
      return st && JSON.stringify(st.artifacts.map((a) => [a.repository, a.tag, a.digest])) === want ? st : undefined;
    }, { what: 'moved and new tags published' });
    expect(s.revision).toBeGreaterThanOrEqual(2);
    expect((await ok('getGroup', { name: 'up' })).unresolved).toEqual([]);
  });

  it('answers within the upstream timeout when the upstream hangs, leaving the tags to the background', async () => {
    const hanging = http.createServer(() => undefined); // accepts, never answers
    const port = await freePort();
    await new Promise<void>((r) => hanging.listen(port, '127.0.0.1', r));
    try {
      const tags = Array.from({ length: 48 }, (_, i) => `v${i}`);
      const started = Date.now();
      const reply = await ok('putGroup', { name: 'hang', body: { registry: `http://127.0.0.1:${port}`, artifacts: [{ repository: 'library/app', tags }] } });
      expect(Date.now() - started).toBeLessThan(2_800); // 48 tags, 16 at a time, 1 s each would be 3 s
      expect(reply.unresolved).toHaveLength(48);
      expect(reply.resolved).toEqual([]);
      await ok('deleteGroup', { name: 'hang' });
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });

  it('stores shared content once per distinct content and removes what no satellite uses any more', async () => {
    const group = (digest: string) => ({ registry: upstream.url, artifacts: [{ repository: 'library/busybox', digest }] });
    await ok('putGroup', { name: 'shr', body: group(d('1')) });
    await createSatellites(['shr-1', 'shr-2', 'shr-3'], ['shr']);
    await ok('putConfig', { satellite: 'shr-3', body: { heartbeatSeconds: 7 } });
    await revisionOnHub('shr-3', 2);
    const contentsOf = async () =>
      (await db.query<{ satellite: string; content_id: string }>("SELECT satellite, content_id FROM satellite_states WHERE satellite LIKE 'shr-%' ORDER BY 1")).rows;
    let rows = await contentsOf();
    // shr-1 and shr-2 share one content; shr-3's config makes its own
    expect(rows[0]!.content_id).toBe(rows[1]!.content_id);
    expect(rows[2]!.content_id).not.toBe(rows[0]!.content_id);
    const first = rows[0]!.content_id;
    // what is published, read back and shown is the whole document
    const onHub = await revisionOnHub('shr-1', 1);
    expect(onHub.satellite).toBe('shr-1');
    expect(onHub.artifacts[0]?.digest).toBe(d('1'));
    const view = await ok('getState', { satellite: 'shr-2' });
    expect(view.desired.artifacts[0].digest).toBe(d('1'));

    await ok('putGroup', { name: 'shr', body: group(d('2')) });
    await revisionOnHub('shr-1', 2);
    rows = await contentsOf();
    expect(rows.map((r) => r.content_id)).not.toContain(first);
    const exists = async (id: string) => (await db.query('SELECT 1 FROM state_contents WHERE id = $1', [id])).rowCount === 1;
    expect(await exists(first)).toBe(true);
    // old publication records go after the history; unused contents once old enough
    await db.query("UPDATE published_states SET published_at = now() - interval '40 days' WHERE satellite = 'shr-1' AND revision = 1");
    const removed = await sp.service.cleanup({ historyDays: 30, minAgeS: 0 });
    expect(removed.contents).toBeGreaterThanOrEqual(1);
    expect(removed.published).toBe(1);
    expect(await exists(first)).toBe(false);
    for (const r of rows) expect(await exists(r.content_id)).toBe(true);
    expect((await db.query("SELECT revision FROM published_states WHERE satellite = 'shr-1' ORDER BY 1")).rows.map((r) => Number(r.revision))).toEqual([2]);
  });

  it('records applied reports and shows per-artifact status', async () => {
    await ok('putGroup', { name: 'app', body: { registry: upstream.url, artifacts: [{ repository: 'library/alpine', digest: d('a') }] } });
    await createSatellites(['app-1'], ['app']);
    const r1 = await revisionOnHub('app-1', 1);
    expect((await ok('getState', { satellite: 'app-1' })).applied).toBeNull();

    await publishMessage(nc, subjects.telemetry('app-1', 'applied'), 'state-applied', { satellite: 'app-1', revision: 1, digest: r1.digest, at: new Date().toISOString() });
    await waitFor(async () => (await ok('getState', { satellite: 'app-1' })).applied?.revision === 1, { what: 'applied revision 1' });

    await ok('putGroup', {
      name: 'app',
      body: { registry: upstream.url, artifacts: [{ repository: 'library/alpine', digest: d('a') }, { repository: 'library/redis', digest: d('e') }] },
    });
    await revisionOnHub('app-1', 2);
    const view = await ok('getState', { satellite: 'app-1' });
    expect(view.desired.revision).toBe(2);
    expect(view.applied).toEqual({ revision: 1, digest: r1.digest, at: expect.any(String) });
    expect(view.artifacts).toEqual([
      { repository: 'library/alpine', digest: d('a'), status: 'applied' },
      { repository: 'library/redis', digest: d('e'), status: 'pending' },
    ]);
    // an older report never overwrites a newer one; a report for another satellite is ignored
    await publishMessage(nc, subjects.telemetry('app-1', 'applied'), 'state-applied', { satellite: 'app-1', revision: 2, digest: view.desired.digest, at: new Date().toISOString() });
    await publishMessage(nc, subjects.telemetry('app-1', 'applied'), 'state-applied', { satellite: 'web-1', revision: 99, digest: view.desired.digest, at: new Date().toISOString() });
    await waitFor(async () => (await ok('getState', { satellite: 'app-1' })).artifacts.every((a: { status: string }) => a.status === 'applied'));
    await publishMessage(nc, subjects.telemetry('app-1', 'applied'), 'state-applied', { satellite: 'app-1', revision: 1, digest: r1.digest, at: new Date().toISOString() });
    await waitFor(async () => (await jsm.consumers.info('TELEMETRY', 'state-publisher-applied')).num_ack_pending === 0 && (await jsm.consumers.info('TELEMETRY', 'state-publisher-applied')).num_pending === 0);
    expect((await ok('getState', { satellite: 'app-1' })).applied.revision).toBe(2);
    expect((await ok('getState', { satellite: 'web-1' })).applied).toBeNull();
  });

  it('merges config updates over the defaults and publishes them', async () => {
    await createSatellites(['cfg-1']);
    await revisionOnHub('cfg-1', 1);
    expect(await ok('putConfig', { satellite: 'cfg-1', body: { heartbeatSeconds: 10 } })).toMatchObject({ heartbeatSeconds: 10, directDelivery: false });
    const merged = await ok('putConfig', { satellite: 'cfg-1', body: { directDelivery: true } });
    expect(merged).toEqual({ heartbeatSeconds: 10, mirrors: [], directDelivery: true, bandwidthLimit: 0, syncWindows: [] });
    expect((await revisionOnHub('cfg-1', 3)).config).toEqual(merged);
  });

  it('takes artifacts away when a group is unassigned or deleted', async () => {
    await ok('putGroup', { name: 'del', body: { registry: upstream.url, artifacts: [{ repository: 'library/alpine', digest: d('a') }] } });
    await createSatellites(['del-1', 'del-2'], ['del']);
    await ok('unassign', { group: 'del', satellite: 'del-1' });
    expect((await revisionOnHub('del-1', 2)).artifacts).toEqual([]);
    expect(await ok('deleteGroup', { name: 'del' })).toEqual({ name: 'del', deleted: true });
    expect((await revisionOnHub('del-2', 2)).artifacts).toEqual([]);
    expect((await rpc('getGroup', { name: 'del' })).ok).toBe(false);
  });

  it('purges the subject of a deleted satellite and keeps revisions increasing if the name returns', async () => {
    await createSatellites(['gone-1']);
    await revisionOnHub('gone-1', 1);
    await db.query("DELETE FROM satellites WHERE name = 'gone-1'");
    await ok('recompute', { satellites: ['gone-1'] });
    await waitFor(async () => (await stateOnHub('gone-1')) === null, { what: 'STATE subject purged' });
    await createSatellites(['gone-1']);
    await revisionOnHub('gone-1', 2);
  });

  it('answers errors with stable codes and writes nothing for invalid requests', async () => {
    const bad: Record<RpcMethod<'state'>, unknown> = {
      putGroup: { name: 'Bad.Name', body: { registry: upstream.url, artifacts: [] } },
      getGroup: { name: '' },
      listGroups: { extra: true },
      deleteGroup: {},
      assign: { group: 'web', satellite: 'no.dots' },
      unassign: { group: 1, satellite: 'web-1' },
      getState: { satellite: 'UPPER' },
      putConfig: { satellite: 'web-1', body: { heartbeatSeconds: 0 } },
      recompute: { satellites: 'web-1' },
    };
    expect(Object.keys(bad).sort()).toEqual(Object.keys(rpcMethods.state).sort());
    const before = await db.query('SELECT (SELECT count(*) FROM groups) + (SELECT count(*) FROM group_satellites) + (SELECT count(*) FROM satellite_configs) AS n');
    for (const [method, body] of Object.entries(bad)) {
      const r = await rpc(method as RpcMethod<'state'>, body);
      expect(r, method).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    }
    const badArtifact = await rpc('putGroup', { name: 'x', body: { registry: upstream.url, artifacts: [{ repository: 'a', digest: d('a'), platforms: ['amd64'] }] } });
    expect(badArtifact).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    const after = await db.query('SELECT (SELECT count(*) FROM groups) + (SELECT count(*) FROM group_satellites) + (SELECT count(*) FROM satellite_configs) AS n');
    expect(after.rows[0].n).toBe(before.rows[0].n);

    expect(await rpc('assign', { group: 'nope', satellite: 'web-1' })).toMatchObject({ ok: false, error: { code: 'GROUP_NOT_FOUND' } });
    expect(await rpc('assign', { group: 'web', satellite: 'nope' })).toMatchObject({ ok: false, error: { code: 'SATELLITE_NOT_FOUND' } });
    expect(await rpc('unassign', { group: 'nope', satellite: 'web-1' })).toMatchObject({ ok: false, error: { code: 'GROUP_NOT_FOUND' } });
    expect(await rpc('getGroup', { name: 'nope' })).toMatchObject({ ok: false, error: { code: 'GROUP_NOT_FOUND' } });
    expect(await rpc('deleteGroup', { name: 'nope' })).toMatchObject({ ok: false, error: { code: 'GROUP_NOT_FOUND' } });
    expect(await rpc('getState', { satellite: 'nope' })).toMatchObject({ ok: false, error: { code: 'SATELLITE_NOT_FOUND' } });
    expect(await rpc('putConfig', { satellite: 'nope', body: {} })).toMatchObject({ ok: false, error: { code: 'SATELLITE_NOT_FOUND' } });
  });

  it('publishes 2,000 satellites of one change promptly, in a handful of statements', async () => {
    const names = Array.from({ length: 2_000 }, (_, i) => `fleet-${String(i).padStart(4, '0')}`);
    await ok('putGroup', { name: 'fleet', body: { registry: upstream.url, artifacts: [{ repository: 'library/alpine', digest: d('a') }] } });
    await createSatellites(names, ['fleet']);
    const published = async (revision: number) => {
      const r = await db.query("SELECT count(*)::int AS n FROM satellite_states WHERE satellite LIKE 'fleet-%' AND revision = $1 AND published_at IS NOT NULL", [revision]);
      return r.rows[0].n === names.length;
    };
    await waitFor(() => published(1), { what: 'revision 1 of the fleet published' });

    statements = 0;
    const started = Date.now();
    const reply = await ok('putGroup', {
      name: 'fleet',
      body: { registry: upstream.url, artifacts: [{ repository: 'library/alpine', digest: d('a') }, { repository: 'library/redis', digest: d('e') }] },
    });
    expect(reply.affectedSatellites).toBe(2_000);
    await waitFor(() => published(2), { what: 'revision 2 of the fleet published', intervalMs: 20 });
    const elapsed = Date.now() - started;
    expect(statements).toBeLessThan(60); // includes the background loops' few statements meanwhile
    expect(elapsed).toBeLessThan(10_000);
    for (const sat of [names[0]!, names[999]!, names[1999]!]) expect((await stateOnHub(sat))?.revision).toBe(2);
  });

  it('publishes revisions written while the hub was down once it is back', async () => {
    await ok('putGroup', { name: 'outage', body: { registry: upstream.url, artifacts: [{ repository: 'library/alpine', digest: d('a') }] } });
    await createSatellites(['out-1'], ['outage']);
    await revisionOnHub('out-1', 1);
    await hub.stop();
    try {
      // the gateway could not reach us without NATS; the domain call stands for a change committed as the hub went away
      const reply = await sp.service.putGroup({
        name: 'outage',
        body: { registry: upstream.url, artifacts: [{ repository: 'library/busybox', digest: d('c') }] },
      });
      expect(reply.affectedSatellites).toBe(1);
      const row = await db.query("SELECT revision, published_at FROM satellite_states WHERE satellite = 'out-1'");
      expect(row.rows[0]).toMatchObject({ revision: '2', published_at: null });
    } finally {
      await hub.restart();
    }
    const s = await revisionOnHub('out-1', 2);
    expect(s.artifacts.map((a) => a.repository)).toEqual(['library/busybox']);
  });

  it('exposes Prometheus metrics', async () => {
    const body = await (await fetch(sp.metricsUrl!)).text();
    expect(body).toMatch(/uplink_state_publisher_revisions_published_total \d+/);
    expect(body).toMatch(/uplink_state_publisher_tag_resolution_failures_total [1-9]/);
    expect(body).toMatch(/uplink_state_publisher_publish_latency_seconds_count [1-9]/);
    expect(body).toMatch(/uplink_state_publisher_unpublished_backlog \d+/);
  });
});
