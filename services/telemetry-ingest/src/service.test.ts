// telemetry-ingest against real servers: nats-server (hub), Postgres, Redis. The test plays the
// forwarder: it publishes to the hub's TELEMETRY with Nats-Msg-Id = the outbox message id.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { Redis } from 'ioredis';
import pg from 'pg';
import { firstValueFrom } from 'rxjs';
import { publishMessage, provisionStream } from '@uplink/bus';
import { hubStreams, loadEnv, rpcSubject, SCHEMA_HEADER, subjects, TelemetryIngestEnv, type Heartbeat, type RpcReply } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { createPgSchema, startHub, waitFor, type Hub, type PgSchema } from '@uplink/testkit';
import { startTelemetryIngest, type TelemetryIngestService } from './app.js';

const logger = createLogger({ service: 'telemetry-ingest-test', level: 'silent' });

function heartbeat(satellite: string, seq: number, extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    satellite, at: new Date().toISOString(), seq, bootId: 'boot-1', intervalSeconds: 1, uptimeSeconds: seq, cpuPercent: 12.5,
    memory: { usedBytes: 100, totalBytes: 1000 }, disk: { usedBytes: 10, freeBytes: 90 }, versions: { satellite: '0.1.0', build: 'naïve-ü' },
    applied: null, inventory: { hash: 'none' }, sync: { status: 'idle', ready: 0, total: 0, failed: 0, lastSyncAt: null },
    link: { connected: true, lastContactAt: null }, outbox: { messages: 0, bytes: 0, dropped: 0 }, ...extra,
  };
}

interface Fixture extends AsyncDisposable {
  hub: Hub;
  schema: PgSchema;
  nc: NatsConnection;
  jsm: JetStreamManager;
  db: pg.Pool;
  redis: Redis;
  prefix: string;
  env: Record<string, string>;
  services: TelemetryIngestService[];
  start(extra?: Record<string, string>): Promise<TelemetryIngestService>;
  rpc<T>(method: 'getStatus' | 'fleet' | 'query' | 'images', req: unknown): Promise<RpcReply<T>>;
  register(...names: string[]): Promise<void>;
  rows(satellite: string): Promise<{ msg_id: string; seq: number }[]>;
  /** publish like the forwarder: Nats-Msg-Id is the outbox id */
  forward(hb: Heartbeat, msgId: string): Promise<{ seq: number; duplicate: boolean }>;
  /** every message up to the stream's last sequence was handled (acked or terminated) by a consumer */
  consumed(durable: string): Promise<void>;
}

async function fixture(extra: Record<string, string> = {}): Promise<Fixture> {
  const hub = await startHub();
  const schema = await createPgSchema('ti');
  const prefix = `t${randomBytes(4).toString('hex')}:`;
  const env = {
    NATS_URL: hub.url, DATABASE_URL: schema.url, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'silent', METRICS_PORT: '0',
    STATUS_SWEEP_INTERVAL_S: '0.2', LAG_POLL_INTERVAL_S: '0.2', INGEST_BATCH_WAIT_MS: '5', ...extra,
  };
  const services: TelemetryIngestService[] = [];
  const nc = await connect({ servers: hub.url });
  const db = new pg.Pool({ connectionString: schema.url, max: 2 });
  const redis = new Redis();
  const client: ClientProxy = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [hub.url] } });
  const f: Fixture = {
    hub, schema, nc, db, redis, prefix, env, services,
    jsm: undefined as unknown as JetStreamManager,
    async start(more = {}) {
      const s = await startTelemetryIngest(loadEnv(TelemetryIngestEnv, { ...env, ...more }), { logger, name: `ti-${services.length}` });
      services.push(s);
      f.jsm = await jetstreamManager(nc);
      return s;
    },
    async rpc<T>(method: string, req: unknown) {
      return firstValueFrom(client.send<RpcReply<T>>(rpcSubject('telemetry', method as 'fleet'), req));
    },
    async register(...names) {
      await db.query('INSERT INTO satellites (name) SELECT unnest($1::text[])', [names]);
    },
    async rows(satellite) {
      const { rows } = await db.query<{ msg_id: string; seq: number }>(
        `SELECT msg_id, (body->>'seq')::int AS seq FROM telemetry WHERE satellite = $1 ORDER BY at, msg_id`,
        [satellite],
      );
      return rows;
    },
    async forward(hb, msgId) {
      const ack = await publishMessage(nc, subjects.telemetry(hb.satellite, 'heartbeat'), 'heartbeat', hb, { msgId });
      return { seq: ack.seq, duplicate: ack.duplicate };
    },
    async consumed(durable) {
      const last = (await f.jsm.streams.info('TELEMETRY')).state.last_seq;
      await waitFor(async () => {
        const i = await f.jsm.consumers.info('TELEMETRY', durable);
        return i.delivered.stream_seq >= last && i.num_ack_pending === 0;
      }, { what: `${durable} consumed up to ${last}` });
    },
    async [Symbol.asyncDispose]() {
      for (const s of services) await s.close();
      await client.close();
      await nc.close();
      await db.end();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await schema[Symbol.asyncDispose]();
      await hub[Symbol.asyncDispose]();
    },
  };
  return f;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('telemetry-ingest', () => {
  it('stores heartbeats once each, keeps the latest status in Redis and Postgres, and answers status over RPC', async () => {
    await using f = await fixture();
    const svc = await f.start();
    await f.register('edge-01', 'edge-02');
    for (let i = 1; i <= 20; i++) await f.forward(heartbeat('edge-01', i), `edge-01:hb:${i}`);
    // three heartbeats in the same millisecond: the highest seq is the latest
    const sameAt = new Date().toISOString();
    for (const seq of [1, 3, 2]) await f.forward(heartbeat('edge-02', seq, { at: sameAt }), `edge-02:hb:${seq}`);
    // the forwarder retried a publish (same outbox id, inside the dedupe window)
    await f.forward(heartbeat('edge-01', 20), 'edge-01:hb:20');

    await waitFor(async () => (await f.rows('edge-01')).length === 20, { what: '20 rows of edge-01' });
    expect((await f.rows('edge-01')).map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    const cached = await waitFor(async () => f.redis.hgetall(`${f.prefix}status:edge-01`).then((h) => (h.heartbeat ? h : undefined)));
    expect((JSON.parse(cached.heartbeat!) as Heartbeat).seq).toBe(20);
    const st = await f.db.query<{ heartbeat_msg_id: string; status: string }>('SELECT heartbeat_msg_id, status FROM satellite_status WHERE satellite = $1', ['edge-01']);
    expect(st.rows[0]).toEqual({ heartbeat_msg_id: 'edge-01:hb:20', status: 'online' });

    const reply = await f.rpc<{ status: string; heartbeat: Heartbeat; lastHeartbeatAt: string }>('getStatus', { name: 'edge-01' });
    expect(reply.ok && reply.data.status).toBe('online');
    expect(reply.ok && reply.data.heartbeat.seq).toBe(20);
    // without Redis the status comes from Postgres, the heartbeat from its telemetry row
    await f.redis.del(`${f.prefix}status:edge-01`);
    const fromPg = await f.rpc<{ status: string; heartbeat: Heartbeat }>('getStatus', { name: 'edge-01' });
    expect(fromPg.ok && [fromPg.data.status, fromPg.data.heartbeat.seq]).toEqual(['online', 20]);
    const unknown = await f.rpc('getStatus', { name: 'nowhere' });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'SATELLITE_NOT_FOUND' } });
    const bad = await f.rpc('getStatus', { name: 'Bad.Name' });
    expect(bad).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });

    const page = await f.rpc<{ items: { msgId: string }[]; truncated: boolean }>('query', { satellite: 'edge-01', query: { limit: 5 } });
    expect(page.ok && page.data.items.map((i) => i.msgId)).toEqual(['edge-01:hb:1', 'edge-01:hb:2', 'edge-01:hb:3', 'edge-01:hb:4', 'edge-01:hb:5']);
    expect(page.ok && page.data.truncated).toBe(true);

    await waitFor(async () => (await metric(svc.metricsUrl!, 'uplink_telemetry_stored_total')) === 23, { what: 'stored metric' });
    const e2 = await f.rpc<{ heartbeat: Heartbeat }>('getStatus', { name: 'edge-02' });
    expect(e2.ok && e2.data.heartbeat.seq).toBe(3);
    const e2pg = await f.db.query('SELECT heartbeat_seq FROM satellite_status WHERE satellite = $1', ['edge-02']);
    expect(e2pg.rows[0]).toEqual({ heartbeat_seq: '3' });
    expect(await metric(svc.metricsUrl!, 'uplink_telemetry_batch_size_count')).toBeGreaterThan(0);
    await waitFor(async () => (await metric(svc.metricsUrl!, 'uplink_telemetry_site_last_seen_age_seconds')) > 0, { what: 'last-seen metric' });
  });

  it('never stores a message twice when it is forwarded again after the hub forgot its id', async () => {
    await using f = await fixture();
    const svc = await f.start();
    // a short dedupe window stands in for "hours later"
    await provisionStream(f.jsm, { ...hubStreams.TELEMETRY, duplicate_window: 200_000_000 });
    const hb = heartbeat('edge-01', 1);
    const first = await f.forward(hb, 'outbox-7');
    await waitFor(async () => (await f.rows('edge-01')).length === 1, { what: 'first copy stored' });
    const again = await waitFor(async () => {
      const a = await f.forward(hb, 'outbox-7');
      return a.duplicate ? undefined : a;
    }, { what: 'the hub accepting the same id again' });
    expect(again.seq).toBeGreaterThan(first.seq);
    await f.consumed('telemetry-ingest-heartbeat');
    expect(await f.rows('edge-01')).toEqual([{ msg_id: 'outbox-7', seq: 1 }]);
    expect(await metric(svc.metricsUrl!, 'uplink_telemetry_duplicates_total')).toBe(1);
  });

  it('shows a site that stops as stale, then offline', async () => {
    await using f = await fixture({ OFFLINE_AFTER_S: '4' });
    const svc = await f.start();
    await f.register('edge-01');
    expect(await f.rpc('getStatus', { name: 'edge-01' })).toMatchObject({ ok: true, data: { status: 'pending', heartbeat: null } });
    await f.forward(heartbeat('edge-01', 1), 'a1');
    const status = async () => {
      const r = await f.rpc<{ status: string }>('getStatus', { name: 'edge-01' });
      return r.ok ? r.data.status : r.error.code;
    };
    await waitFor(async () => (await status()) === 'online', { what: 'online' });
    // silence: stale after 3 intervals of 1 s, offline after 4 s
    await waitFor(async () => (await status()) === 'stale', { what: 'stale' });
    await waitFor(async () => (await status()) === 'offline', { what: 'offline' });
    // the sweep recorded it too
    await waitFor(async () => (await f.db.query('SELECT status FROM satellite_status WHERE satellite = $1', ['edge-01'])).rows[0]?.status === 'offline', { what: 'offline recorded' });
    expect(await metric(svc.metricsUrl!, 'uplink_telemetry_status_transitions_total')).toBeGreaterThanOrEqual(2);
    await f.db.query('UPDATE satellites SET revoked_at = now() WHERE name = $1', ['edge-01']);
    expect(await status()).toBe('revoked');
  });

  it('dead-letters malformed telemetry with its reason and still stores the good messages beside it', async () => {
    await using f = await fixture();
    const svc = await f.start();
    const subject = subjects.telemetry('edge-01', 'heartbeat');
    const h = headers();
    h.set(SCHEMA_HEADER, 'heartbeat/1');
    f.nc.publish(subject, JSON.stringify({ satellite: 'edge-01' }), { headers: h });
    // a heartbeat of another site on edge-01's subject
    await publishMessage(f.nc, subject, 'heartbeat', heartbeat('edge-02', 1), { msgId: 'spoof' });
    // valid JSON and schema, but a message id Postgres refuses to store (a NUL byte)
    await publishMessage(f.nc, subject, 'heartbeat', heartbeat('edge-01', 2), { msgId: 'nul\u0000' });
    await publishMessage(f.nc, subject, 'heartbeat', heartbeat('edge-01', 3), { msgId: 'good' });

    await waitFor(async () => (await f.jsm.streams.info('DEAD')).state.messages === 3, { what: '3 dead letters' });
    const reasons: string[] = [];
    for (let seq = 1; seq <= 3; seq++) reasons.push((await f.jsm.streams.getMessage('DEAD', { seq }))!.header.get('Uplink-Dead-Reason'));
    expect(reasons.some((r) => /invalid heartbeat\/1/.test(r))).toBe(true);
    expect(reasons.some((r) => /names satellite "edge-02"/.test(r))).toBe(true);
    expect(reasons.some((r) => /postgres refused/.test(r))).toBe(true);
    await waitFor(async () => (await f.rows('edge-01')).length === 1, { what: 'the good heartbeat stored' });
    expect((await f.rows('edge-01'))[0]?.msg_id).toBe('good');
    expect(await metric(svc.metricsUrl!, 'uplink_telemetry_dead_letters_total')).toBe(3);
  });

  it('shares the consumer between instances without storing anything twice', async () => {
    await using f = await fixture({ INGEST_BATCH_MAX: '10' });
    const a = await f.start();
    const b = await f.start();
    const sites = Array.from({ length: 20 }, (_, i) => `edge-${String(i).padStart(2, '0')}`);
    const sent: Promise<unknown>[] = [];
    for (let seq = 1; seq <= 50; seq++) for (const s of sites) sent.push(f.forward(heartbeat(s, seq), `${s}:${seq}`));
    await Promise.all(sent);
    await waitFor(async () => Number((await f.db.query('SELECT count(*) AS n FROM telemetry')).rows[0].n) === 1000, { what: '1000 rows' });
    await f.consumed('telemetry-ingest-heartbeat');
    const [na, nb] = [await metric(a.metricsUrl!, 'uplink_telemetry_stored_total'), await metric(b.metricsUrl!, 'uplink_telemetry_stored_total')];
    expect(na + nb).toBe(1000);
    expect(na).toBeGreaterThan(0);
    expect(nb).toBeGreaterThan(0);
    const dup = await f.db.query('SELECT satellite, msg_id FROM telemetry GROUP BY 1, 2 HAVING count(*) > 1');
    expect(dup.rowCount).toBe(0);
  });

  it('keeps daily partitions ahead, drops those past the retention and skips telemetry older than it', async () => {
    await using f = await fixture({ RETENTION_DAYS: '7' });
    const svc = await f.start();
    const parts = async () =>
      (await f.db.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'telemetry'::regclass ORDER BY 1`)).rows.map((r) => r.name);
    const ahead = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    expect(await parts()).toContain(`telemetry_p${ahead}`);
    await f.db.query(`CREATE TABLE telemetry_p20000101 PARTITION OF telemetry FOR VALUES FROM ('2000-01-01T00:00:00Z') TO ('2000-01-02T00:00:00Z')`);
    await svc.maintain();
    expect(await parts()).not.toContain('telemetry_p20000101');

    await f.forward(heartbeat('edge-01', 1, { at: new Date(Date.now() - 9 * 86_400_000).toISOString() }), 'old');
    await f.forward(heartbeat('edge-01', 2, { at: new Date(Date.now() - 3 * 86_400_000).toISOString() }), 'late');
    await f.consumed('telemetry-ingest-heartbeat');
    expect((await f.rows('edge-01')).map((r) => r.msg_id)).toEqual(['late']);
    expect(await metric(svc.metricsUrl!, 'uplink_telemetry_expired_total')).toBe(1);
  });
});
