// pnpm bench fanout [--sites N] [--workers W]: one group change affecting N satellites. The satellites
// are simulated behind one leaf nats-server by W processes (default 1; real sites do not share a CPU,
// so more than one process shows whether one process for all of them is its own queue), each site
// receiving its state the way a real site does: a core subscription on uplink.state.<sat> through the leaf link, validated, then stored
// in a local JetStream stream under a local-only subject. Reports latency from the PUT to each
// satellite having its new revision, the CPU seconds of the hub, the leaf, the state-publisher and the
// simulated sites, and the publish rate.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { decodeMessage, SCHEMA_HEADER, subjects } from '@uplink/contracts';
import { createPgSchema, freePort, leafConnected, startHub, startLeaf, waitFor } from '@uplink/testkit';
import { arg, cpuSeconds, percentile, repoRoot, startService, writeResult } from './support.js';

const TOKEN = 'bench-admin-token-0123456789';
const digest = (i: number) => 'sha256:' + i.toString(16).padStart(64, '0');
const siteName = (i: number) => `sat-${String(i).padStart(5, '0')}`;
/** wall-clock ms shared by every process on the machine (performance.now() is per process) */
const now = () => performance.timeOrigin + performance.now();

/**
 * A worker: sites [first, first+count) subscribed through the leaf. Writes `R <site> <revision> <ms>`
 * when a state is received and `S …` when it is stored; `READY` once subscribed; on stdin `cpu` it
 * answers `CPU <seconds>`.
 */
async function sites(): Promise<void> {
  const first = Number(process.env.BENCH_FIRST);
  const count = Number(process.env.BENCH_COUNT);
  const nc = await connect({ servers: process.env.BENCH_LEAF_URL! });
  const js = (await jetstreamManager(nc, { domain: 'sim', checkAPI: false })).jetstream();
  let out = '';
  const emit = (line: string) => {
    if (out === '') setImmediate(() => (process.stdout.write(out), (out = '')));
    out += line + '\n';
  };
  for (let i = first; i < first + count; i++) {
    const name = siteName(i);
    nc.subscribe(subjects.state(name), {
      callback: (_err, m) => {
        const d = decodeMessage('desired-state', m.headers?.get(SCHEMA_HEADER), m.data);
        if (!d.ok) return emit(`I ${name}`);
        emit(`R ${name} ${d.value.revision} ${now()}`);
        js.publish(subjects.localState(name), m.data, { msgID: `${name}:${d.value.revision}` })
          .then(() => emit(`S ${name} ${d.value.revision} ${now()}`))
          .catch(() => undefined);
      },
    });
  }
  await nc.flush();
  emit('READY');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'cpu') {
      const c = process.cpuUsage();
      emit(`CPU ${(c.user + c.system) / 1e6}`);
    }
  }
  await nc.close();
}

interface Worker {
  proc: ChildProcess;
  ready: Promise<void>;
  cpu(): Promise<number>;
}

function startWorker(env: Record<string, string>, on: { received(n: string, rev: number, at: number): void; stored(n: string, rev: number, at: number): void; invalid(): void }): Worker {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const proc = spawn(process.execPath, ['--conditions=uplink-source', '--import', tsx, fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_ROLE: 'sites', ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: repoRoot,
  });
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  let cpuResolve: ((s: number) => void) | undefined;
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const [kind, name, rev, at] = line.split(' ');
    if (kind === 'R') on.received(name!, Number(rev), Number(at));
    else if (kind === 'S') on.stored(name!, Number(rev), Number(at));
    else if (kind === 'I') on.invalid();
    else if (kind === 'READY') readyResolve();
    else if (kind === 'CPU') cpuResolve?.(Number(name));
  });
  return {
    proc,
    ready,
    cpu: () =>
      new Promise<number>((resolve) => {
        cpuResolve = resolve;
        proc.stdin!.write('cpu\n');
      }),
  };
}

async function main(): Promise<void> {
  const N = Number(arg('sites', '1000'));
  const W = Math.max(1, Number(arg('workers', '1')));
  await using hub = await startHub();
  await using leaf = await startLeaf({ name: 'sim', hubLeafUrl: hub.leafUrl });
  await using schema = await createPgSchema('bench');
  const common = { NATS_URL: hub.url, DATABASE_URL: schema.url };
  const httpPort = await freePort();
  const services = [
    startService('services/state-publisher/src/main.ts', { ...common, LOG_LEVEL: process.env.BENCH_SP_LOG ?? 'error' }),
    startService('services/registration/src/main.ts', common),
    startService('services/gateway/src/main.ts', { ...common, HTTP_PORT: String(httpPort), ADMIN_TOKEN: TOKEN }),
  ];
  const workers: Worker[] = [];
  const gateway = `http://127.0.0.1:${httpPort}`;
  const put = (path: string, body?: unknown) =>
    fetch(gateway + path, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  try {
    await waitFor(async () => (await fetch(`${gateway}/readyz?services=state,registration`)).ok, { timeoutMs: 60_000, what: 'gateway ready' });
    await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });
    const group = (i: number) => ({ registry: 'http://127.0.0.1:1', artifacts: [{ repository: 'bench/app', digest: digest(i) }] });
    if (!(await put('/v1/groups/fleet', group(1))).ok) throw new Error('PUT group failed');

    // N satellites assigned to the group (setup, not timed: bulk SQL)
    const names = Array.from({ length: N }, (_, i) => siteName(i));
    const db = new pg.Client({ connectionString: schema.url });
    await db.connect();
    await db.query('INSERT INTO satellites (name) SELECT unnest($1::text[])', [names]);
    await db.query(`INSERT INTO group_satellites (group_name, satellite) SELECT 'fleet', unnest($1::text[])`, [names]);
    await db.end();

    // the simulated sites: their local stream, then W processes subscribing
    const nc = await connect({ servers: leaf.url });
    await (await jetstreamManager(nc, { domain: 'sim', checkAPI: false })).streams.add({ name: 'STATE_LOCAL_SIM', subjects: ['uplink.local.state.>'], max_msgs_per_subject: 1 });
    await nc.close();
    const received = new Map<string, { revision: number; at: number }>();
    const stored = new Map<string, { revision: number; at: number }>();
    let invalid = 0;
    const per = Math.ceil(N / W);
    for (let w = 0; w < W; w++) {
      const first = w * per;
      const count = Math.min(per, N - first);
      if (count <= 0) break;
      workers.push(
        startWorker(
          { BENCH_LEAF_URL: leaf.url, BENCH_FIRST: String(first), BENCH_COUNT: String(count) },
          {
            received: (n, revision, at) => received.set(n, { revision, at }),
            stored: (n, revision, at) => stored.set(n, { revision, at }),
            invalid: () => void invalid++,
          },
        ),
      );
    }
    await Promise.all(workers.map((w) => w.ready));
    // warm-up change: every site reaches revision 1 (also proves interest has propagated to the hub)
    const warm = performance.now();
    if (!(await put('/v1/groups/fleet', group(2))).ok) throw new Error('PUT group failed');
    await waitFor(() => stored.size === N, { timeoutMs: 120_000, intervalMs: 20, what: `warm-up: ${N} sites stored` });
    const warmSeconds = (performance.now() - warm) / 1000;
    const target = Math.min(...[...stored.values()].map((s) => s.revision)) + 1;

    // the measured change
    const cpu0 = cpuSeconds(hub.proc.pid);
    const leafCpu0 = cpuSeconds(leaf.proc.pid);
    const spCpu0 = cpuSeconds(services[0]!.pid!);
    const simCpu0 = (await Promise.all(workers.map((w) => w.cpu()))).reduce((a, b) => a + b, 0);
    const t0 = now();
    const res = await put('/v1/groups/fleet', group(3));
    const putMs = now() - t0;
    if (!res.ok) throw new Error(`PUT failed: ${res.status}`);
    const done = () => [...stored.values()].filter((s) => s.revision >= target).length === N;
    await waitFor(done, { timeoutMs: 120_000, intervalMs: 10, what: `${N} sites at revision ${target}` });
    const recv = [...received.values()].map((s) => s.at - t0).sort((a, b) => a - b);
    const lat = [...stored.values()].map((s) => s.at - t0).sort((a, b) => a - b);
    // let the hub settle so its CPU figure includes the whole burst
    await new Promise((r) => setTimeout(r, 500));
    const hubCpu = cpuSeconds(hub.proc.pid) - cpu0;
    const leafCpu = cpuSeconds(leaf.proc.pid) - leafCpu0;
    const spCpu = cpuSeconds(services[0]!.pid!) - spCpu0;
    const simCpu = (await Promise.all(workers.map((w) => w.cpu()))).reduce((a, b) => a + b, 0) - simCpu0;
    const spread = (recv[recv.length - 1]! - recv[0]!) / 1000;
    await writeResult('fanout', {
      sites: N,
      workers: workers.length,
      unit: 'ms',
      applied_p50: Math.round(percentile(lat, 50)),
      applied_p99: Math.round(percentile(lat, 99)),
      applied_max: Math.round(lat[lat.length - 1]!),
      received_p50: Math.round(percentile(recv, 50)),
      received_p99: Math.round(percentile(recv, 99)),
      put_ms: Math.round(putMs),
      hub_cpu_s: Number(hubCpu.toFixed(2)),
      leaf_cpu_s: Number(leafCpu.toFixed(2)),
      state_publisher_cpu_s: Number(spCpu.toFixed(2)),
      simulated_sites_cpu_s: Number(simCpu.toFixed(2)),
      publish_rate_per_s: Math.round(N / Math.max(spread, 0.001)),
      warmup_s: Number(warmSeconds.toFixed(2)),
      invalid,
      target_p99_ms: 1000,
      met: percentile(lat, 99) <= 1000,
      note: 'applied = state received over core interest through the leaf, validated and stored in the local stream',
    });
  } finally {
    for (const w of workers) {
      w.proc.stdin!.end();
      w.proc.kill('SIGTERM');
    }
    for (const s of services) {
      s.kill('SIGTERM');
      await s.stopped;
    }
  }
}

if (process.env.BENCH_ROLE === 'sites') await sites();
else await main();
