// pnpm bench ingest [--sites N] [--seconds S] [--publishers P] [--window W] [--backlog B]: heartbeats of
// N simulated sites published into the hub's TELEMETRY by P publisher processes (each message with its
// own Nats-Msg-Id and a PubAck awaited, as the forwarder does, at most W unacknowledged per publisher),
// consumed by telemetry-ingest running as its own process. Two phases:
//  1. live: publishers and ingest run at once for S seconds; heartbeats/s made durable in Postgres with
//     the Redis status updated (the service resolves a message only after both), sustained over the
//     middle of the run and end to end;
//  2. backlog: ingest stopped, B heartbeats queued on the hub, ingest started again; how fast it drains
//     them (the cloud side's catch-up after an outage, without publishers competing for the CPU).
// Then every heartbeat is checked to be stored exactly once, and every site's Redis status to be its
// newest heartbeat.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { headers as natsHeaders, connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import pg from 'pg';
import { decodeMessage, hubStreams, schemaHeader, SCHEMA_HEADER, subjects, type Heartbeat } from '@uplink/contracts';
import { createBatchPublisher, provisionStreams } from '@uplink/bus';
import { createPgSchema, freePort, startHub, waitFor } from '@uplink/testkit';
import { arg, cpuSeconds, repoRoot, startService, writeResult } from './support.js';

const siteName = (i: number) => `site-${String(i).padStart(6, '0')}`;

function heartbeat(satellite: string, seq: number): Heartbeat {
  return {
    satellite,
    at: new Date().toISOString(),
    seq,
    bootId: 'bench',
    intervalSeconds: 30,
    uptimeSeconds: seq * 30,
    cpuPercent: 7.5,
    memory: { usedBytes: 512 * 1024 ** 2, totalBytes: 4 * 1024 ** 3 },
    disk: { usedBytes: 3 * 1024 ** 3, freeBytes: 60 * 1024 ** 3 },
    versions: { satellite: '0.1.0', nats: '2.9.10' },
    applied: { revision: 3, digest: 'sha256:' + 'a'.repeat(64) },
    inventory: { hash: 'sha256:' + 'b'.repeat(64) },
    sync: { status: 'synced', ready: 4, total: 4, failed: 0, lastSyncAt: '2026-01-01T00:00:00.000Z' },
    link: { connected: true, lastContactAt: new Date().toISOString() },
    outbox: { messages: 0, bytes: 0, dropped: 0 },
  };
}

/**
 * A publisher process: sites [first, first+count) round-robin until the deadline, published as the
 * forwarder publishes its OUTBOX (the bus's batch publisher: batches of `window` messages, each with
 * its Nats-Msg-Id, PubAcks awaited per batch). A forwarder sends stored bytes and never encodes a
 * heartbeat, so the body is built from a template around each site's seq and time.
 */
async function publisher(): Promise<void> {
  const url = process.env.BENCH_NATS_URL!;
  const first = Number(process.env.BENCH_FIRST);
  const count = Number(process.env.BENCH_COUNT);
  const nc = await connect({ servers: url });
  // the clock starts once connected: starting a process can take seconds on a busy machine
  const until = process.env.BENCH_SECONDS ? Date.now() + Number(process.env.BENCH_SECONDS) * 1000 : Infinity;
  const total = Number(process.env.BENCH_TOTAL ?? Infinity);
  const seqBase = Number(process.env.BENCH_SEQ_BASE ?? 0);
  const window = Number(process.env.BENCH_WINDOW);
  const batches = createBatchPublisher(nc);
  const enc = new TextEncoder();
  const schema = schemaHeader('heartbeat');
  // the heartbeat as JSON with markers where the name, seq, uptime and times go
  const template = JSON.stringify({ ...heartbeat('@@SAT@@', 0), at: '@@NOW@@', link: { connected: true, lastContactAt: '@@NOW@@' } })
    .replace('"seq":0', '"seq":@@SEQ@@')
    .replace('"uptimeSeconds":0', '"uptimeSeconds":@@UP@@');
  const parts = template.split(/(@@SAT@@|@@NOW@@|@@SEQ@@|@@UP@@)/);
  const body = (sat: string, seq: number, now: string) => {
    let out = '';
    for (const p of parts) out += p === '@@SAT@@' ? sat : p === '@@SEQ@@' ? String(seq) : p === '@@UP@@' ? String(seq * 30) : p === '@@NOW@@' ? now : p;
    return out;
  };
  // a broken template would be dead-lettered and the run would wait for ever: check it once
  const sample = decodeMessage('heartbeat', schema, body(siteName(first), 1, new Date().toISOString()));
  if (!sample.ok || sample.value.seq !== 1 || sample.value.uptimeSeconds !== 30) throw new Error(`heartbeat template broken: ${sample.ok ? 'fields' : sample.reason}`);
  let published = 0;
  let failed = 0;
  const seqs = new Array<number>(count).fill(seqBase);
  let sent = 0;
  let i = 0;
  const more = () => sent < total && Date.now() < until;
  while (more()) {
    const batch = [];
    const now = new Date().toISOString();
    for (; batch.length < window && more() && sent < total; sent++, i = (i + 1) % count) {
      const sat = siteName(first + i);
      const seq = ++seqs[i]!;
      const h = natsHeaders();
      h.set(SCHEMA_HEADER, schema);
      h.set('Nats-Msg-Id', `${sat}:hb:${seq}`);
      batch.push({ subject: subjects.telemetry(sat, 'heartbeat'), data: enc.encode(body(sat, seq, now)), headers: h });
    }
    for (const o of await batches.publish(batch, 30_000)) {
      if (o.ok) published++;
      else failed++;
    }
  }
  batches.close();
  await nc.close();
  const cpu = process.cpuUsage();
  process.stdout.write(
    JSON.stringify({ published, failed, cpuSeconds: (cpu.user + cpu.system) / 1e6, lastSeq: Object.fromEntries(seqs.flatMap((s, j) => (s > seqBase ? [[siteName(first + j), s]] : []))) }) + '\n',
  );
}

interface PublisherResult {
  published: number;
  failed: number;
  cpuSeconds: number;
  lastSeq: Record<string, number>;
}

function runPublisher(env: Record<string, string>): Promise<PublisherResult> {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const child: ChildProcess = spawn(process.execPath, ['--conditions=uplink-source', '--import', tsx, fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_ROLE: 'publisher', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: repoRoot,
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`publisher exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as PublisherResult);
    }),
  );
}

async function storedTotal(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('uplink_telemetry_stored_total')).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

const round1 = (n: number) => Number(n.toFixed(1));

/** CPU seconds of the Postgres backends serving telemetry-ingest (processes on this machine). */
async function pgBackendCpu(db: pg.Pool, since: Date): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'uplink-telemetry-ingest' AND backend_start >= $1`,
    [since],
  );
  const out = new Map<number, number>();
  for (const r of rows) {
    try {
      out.set(r.pid, cpuSeconds(r.pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, s] of after) sum += s - (before.get(pid) ?? 0);
  return sum;
}
const INGEST_NODE_OPTIONS = '--max-semi-space-size=32';

async function main() {
  const SITES = Number(arg('sites', '10000'));
  const SECONDS = Number(arg('seconds', '30'));
  const PUBLISHERS = Number(arg('publishers', '2'));
  const WINDOW = Number(arg('window', '1000'));
  const BACKLOG = Number(arg('backlog', '200000'));

  await using hub = await startHub();
  await using schema = await createPgSchema('bench');
  const prefix = `bench${randomBytes(4).toString('hex')}:`;
  const metricsPort = await freePort();
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  const nc = await connect({ servers: hub.url });
  await provisionStreams(await jetstreamManager(nc), hubStreams);
  const startIngest = async () => {
    const proc = startService('services/telemetry-ingest/src/main.ts', {
      NATS_URL: hub.url,
      DATABASE_URL: schema.url,
      REDIS_KEY_PREFIX: prefix,
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'warn',
      // a larger young generation: ingest allocates per message and GC is a good part of its CPU
      NODE_OPTIONS: INGEST_NODE_OPTIONS,
    });
    await waitFor(async () => (await fetch(`${metricsUrl}/healthz`)).ok, { timeoutMs: 60_000, what: 'telemetry-ingest up' });
    return proc;
  };
  const publishers = (env: Record<string, string>) => {
    const per = Math.ceil(SITES / PUBLISHERS);
    return Array.from({ length: PUBLISHERS }, (_, p) =>
      runPublisher({
        BENCH_NATS_URL: hub.url,
        BENCH_FIRST: String(p * per),
        BENCH_COUNT: String(Math.min(per, SITES - p * per)),
        BENCH_WINDOW: String(WINDOW),
        ...env,
      }),
    );
  };
  let ingestStarted = new Date(Date.now() - 1_000);
  let ingest = await startIngest();
  const redis = new Redis();
  const db = new pg.Pool({ connectionString: schema.url, max: 2 });
  try {
    // 1. live: publishers and ingest at once
    const t0 = performance.now();
    const cpu0 = { hub: cpuSeconds(hub.proc.pid), ingest: cpuSeconds(ingest.pid!), pg: await pgBackendCpu(db, ingestStarted) };
    const samples: { t: number; stored: number }[] = [];
    let publishing = true;
    const live = Promise.all(publishers({ BENCH_SECONDS: String(SECONDS) })).finally(() => (publishing = false));
    while (publishing) {
      samples.push({ t: (performance.now() - t0) / 1000, stored: await storedTotal(metricsUrl) });
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const livePubs = await live;
    const publishSeconds = (performance.now() - t0) / 1000;
    const livePublished = livePubs.reduce((s, p) => s + p.published, 0);
    await waitFor(async () => (await storedTotal(metricsUrl)) >= livePublished, { timeoutMs: 600_000, intervalMs: 100, what: `${livePublished} heartbeats stored` });
    const liveSeconds = (performance.now() - t0) / 1000;
    const liveCpu = {
      hub: cpuSeconds(hub.proc.pid) - cpu0.hub,
      ingest: cpuSeconds(ingest.pid!) - cpu0.ingest,
      pg: cpuDelta(cpu0.pg, await pgBackendCpu(db, ingestStarted)),
      publishers: livePubs.reduce((s, p) => s + p.cpuSeconds, 0),
    };
    const mid = samples.filter((x) => x.t >= publishSeconds * 0.2 && x.t <= publishSeconds * 0.8);
    const sustained = mid.length >= 2 ? (mid.at(-1)!.stored - mid[0]!.stored) / (mid.at(-1)!.t - mid[0]!.t) : NaN;

    // 2. backlog: queued while ingest is down, drained when it is back
    ingest.kill('SIGTERM');
    await ingest.stopped;
    const backlogPubs = await Promise.all(publishers({ BENCH_TOTAL: String(Math.ceil(BACKLOG / PUBLISHERS)), BENCH_SEQ_BASE: '1000000' }));
    const backlog = backlogPubs.reduce((s, p) => s + p.published, 0);
    ingestStarted = new Date(Date.now() - 1_000);
    ingest = await startIngest();
    const d0 = performance.now();
    const dcpu0 = { hub: cpuSeconds(hub.proc.pid), ingest: cpuSeconds(ingest.pid!), pg: await pgBackendCpu(db, ingestStarted) };
    await waitFor(async () => (await storedTotal(metricsUrl)) >= backlog, { timeoutMs: 600_000, intervalMs: 100, what: `backlog of ${backlog} stored` });
    const drainSeconds = (performance.now() - d0) / 1000;
    const drainCpu = {
      hub: cpuSeconds(hub.proc.pid) - dcpu0.hub,
      ingest: cpuSeconds(ingest.pid!) - dcpu0.ingest,
      pg: cpuDelta(dcpu0.pg, await pgBackendCpu(db, ingestStarted)),
    };

    // exactly once in Postgres, newest heartbeat of every site in Redis
    const published = livePublished + backlog;
    const failed = [...livePubs, ...backlogPubs].reduce((s, p) => s + p.failed, 0);
    const rows = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM telemetry')).rows[0]!.n);
    const distinct = Number((await db.query<{ n: string }>('SELECT count(DISTINCT (satellite, msg_id)) AS n FROM telemetry')).rows[0]!.n);
    const lastSeq: Record<string, number> = {};
    for (const p of [...livePubs, ...backlogPubs]) for (const [n, seq] of Object.entries(p.lastSeq)) lastSeq[n] = Math.max(lastSeq[n] ?? 0, seq);
    const names = Object.keys(lastSeq);
    let redisCurrent = 0;
    for (let i = 0; i < names.length; i += 1000) {
      const chunk = names.slice(i, i + 1000);
      const p = redis.pipeline();
      for (const n of chunk) p.hget(`${prefix}status:${n}`, 'heartbeat');
      const res = (await p.exec()) ?? [];
      res.forEach(([, v], j) => {
        if (typeof v === 'string' && (JSON.parse(v) as Heartbeat).seq === lastSeq[chunk[j]!]) redisCurrent++;
      });
    }

    const exact = rows === distinct && distinct === published && failed === 0;
    // CPU microseconds per heartbeat by process, and what 2 cores could sustain at that cost (Redis,
    // shared with other work here, left out)
    const perHeartbeat = (cpu: Record<string, number>, n: number) => Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round((v * 1e6) / n)]));
    const liveUs = perHeartbeat(liveCpu, livePublished);
    const drainUs = perHeartbeat(drainCpu, backlog);
    const capacity = (us: Record<string, number>) => Math.round(2e6 / Object.values(us).reduce((a, b) => a + b, 0));
    await writeResult('ingest', {
      sites: SITES,
      publishers: PUBLISHERS,
      unit: 'heartbeats/s',
      live_sustained_per_s: Math.round(sustained),
      live_end_to_end_per_s: Math.round(livePublished / liveSeconds),
      live_publish_per_s: Math.round(livePublished / publishSeconds),
      live_published: livePublished,
      live_cpu_us_per_heartbeat: liveUs,
      live_capacity_per_s_on_2_cores: capacity(liveUs),
      backlog_drain_per_s: Math.round(backlog / drainSeconds),
      backlog,
      backlog_cpu_us_per_heartbeat: drainUs,
      backlog_capacity_per_s_on_2_cores: capacity(drainUs),
      rows,
      duplicates: rows - distinct,
      lost: published - distinct,
      publish_failed: failed,
      redis_current_sites: redisCurrent,
      redis_expected_sites: names.length,
      ingest_node_options: INGEST_NODE_OPTIONS,
      load_average_1m: round1(loadavg()[0]!),
      target_per_s: 20_000,
      met: sustained >= 20_000 && exact && redisCurrent === names.length,
      note: 'one 2-core machine runs the publishers, nats-server, telemetry-ingest, Postgres and Redis; stored = committed to Postgres with the Redis status updated',
    });
  } finally {
    ingest.kill('SIGTERM');
    await ingest.stopped;
    await db.end();
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
    redis.disconnect();
    await nc.close();
  }
}

if (process.env.BENCH_ROLE === 'publisher') await publisher();
else await main();
