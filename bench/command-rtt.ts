// pnpm bench command-rtt [--runs N] [--sites N]: remote command round trips.
// 1. One connected site: a `ping` from `POST /v1/commands` until the command service has stored the
//    result, through the gateway, the command service, the hub, the site's leaf, a real executor
//    process (CMD_LOCAL, signature check, at-most-once record on disk, OUTBOX) and a real forwarder
//    process back to RESULTS. "Stored" is observed as the command's `completed` event, which the
//    service publishes after the commit. N sequential runs after a warm-up; p50/p99.
// 2. One command fanned out to N simulated executors behind one leaf, in this process: each is a
//    core subscription on its `uplink.cmd.<sat>` that verifies the signature and checks the command
//    like the real executor, then publishes `delivered`, `running` and `succeeded` to the hub's
//    RESULTS through the leaf (without a CMD_LOCAL/OUTBOX/forwarder per site: those need a leaf per
//    site). Measured from the POST until all N results are stored (the `completed` event).
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { SIGNATURE_HEADER, decodeMessage, SCHEMA_HEADER, subjects, type Command, type CommandEvent, type CommandResult } from '@uplink/contracts';
import { messageHeaders } from '@uplink/bus';
import { createCommandSigningKey } from '@uplink/command';
import { checkCommand, createCommandVerifier } from '@uplink/executor';
import { createPgSchema, freePort, leafConnected, startHub, startLeaf, tempDir, waitFor } from '@uplink/testkit';
import { arg, cpuSeconds, percentile, startService, writeResult } from './support.js';

const RUNS = Number(arg('runs', '200'));
const SITES = Number(arg('sites', '1000'));
const TOKEN = 'bench-admin-token-0123456789';
// the machine may be shared: the load around the run says how much the numbers mean
const loadBefore = loadavg()[0]!;

await using hub = await startHub();
await using schema = await createPgSchema('bench');
await using dir = await tempDir('uplink-bench-cmd-');
const signing = createCommandSigningKey();
const common = { NATS_URL: hub.url, DATABASE_URL: schema.url };
const httpPort = await freePort();
const services = [
  startService('services/command/src/main.ts', { ...common, COMMAND_SIGNING_SEED: signing.seed }),
  startService('services/gateway/src/main.ts', { ...common, HTTP_PORT: String(httpPort), ADMIN_TOKEN: TOKEN }),
];
const gateway = `http://127.0.0.1:${httpPort}`;
const post = async (body: unknown): Promise<string> => {
  const res = await fetch(`${gateway}/v1/commands`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as { id?: string; error?: { message: string } };
  if (res.status !== 201 || !json.id) throw new Error(`POST /v1/commands: ${res.status} ${json.error?.message}`);
  return json.id;
};

const hubNc = await connect({ servers: hub.url });
// command id -> resolve, when its `completed` event (published after the commit) arrives; the event
// may arrive before the POST's response does
const completed = new Map<string, (at: number) => void>();
const arrived = new Map<string, number>();
hubNc.subscribe(subjects.events('command', 'completed'), {
  callback: (_err, m) => {
    const at = performance.now();
    const d = decodeMessage('command-event', m.headers?.get(SCHEMA_HEADER) || undefined, m.data);
    if (!d.ok) return;
    const id = (d.value as CommandEvent).commandId;
    const waiter = completed.get(id);
    if (waiter) waiter(at);
    else arrived.set(id, at);
  },
});
const whenCompleted = (id: string, timeoutMs: number) =>
  new Promise<number>((resolve, reject) => {
    const early = arrived.get(id);
    if (early !== undefined) {
      arrived.delete(id);
      return resolve(early);
    }
    const t = setTimeout(() => reject(new Error(`command ${id} not completed within ${timeoutMs} ms`)), timeoutMs);
    completed.set(id, (at) => {
      clearTimeout(t);
      completed.delete(id);
      resolve(at);
    });
  });

const procs = [...services];
try {
  await waitFor(async () => (await fetch(`${gateway}/healthz`)).ok, { timeoutMs: 60_000, what: 'gateway up' });
  // wait for the command service (its migrations create the tables)
  await waitFor(async () => (await fetch(`${gateway}/v1/commands`, { headers: { authorization: `Bearer ${TOKEN}` } })).ok, { timeoutMs: 60_000, what: 'command service up' });
  const db = new pg.Client({ connectionString: schema.url });
  await db.connect();

  // ── 1. one connected site, real executor and forwarder processes ──────────────────────────────
  await using leaf = await startLeaf({ name: 'edge-01', hubLeafUrl: hub.leafUrl });
  await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });
  await db.query(`INSERT INTO satellites (name) VALUES ('edge-01')`);
  const edge = { SATELLITE_NAME: 'edge-01', NATS_URL: leaf.url, LEAF_MONITOR_URL: leaf.monitorUrl };
  procs.push(startService('services/forwarder/src/main.ts', { ...edge, STATUS_PORT: '0' }));
  procs.push(startService('services/executor/src/main.ts', { ...edge, DATA_DIR: join(dir.path, 'edge-01'), COMMAND_SIGNING_KEY: signing.publicKey }));
  const ping = async () => {
    const t0 = performance.now();
    const id = await post({ target: { satellite: 'edge-01' }, action: 'ping', args: {}, timeoutSeconds: 10 });
    const posted = performance.now();
    const at = await whenCompleted(id, 30_000);
    return { total: at - t0, post: posted - t0 };
  };
  // warm-up: the first pings also wait for the executor process to start and catch up
  await waitFor(async () => (await ping().then(() => true, () => false)), { timeoutMs: 120_000, what: 'first ping' });
  for (let i = 0; i < 20; i++) await ping();
  const rtt: number[] = [];
  const postMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await ping();
    rtt.push(r.total);
    postMs.push(r.post);
  }
  rtt.sort((a, b) => a - b);
  postMs.sort((a, b) => a - b);

  // ── 2. one command fanned out to SITES simulated executors behind one leaf ────────────────────
  await using sim = await startLeaf({ name: 'sim', hubLeafUrl: hub.leafUrl });
  await waitFor(() => leafConnected(sim.monitorUrl), { what: 'sim leaf linked' });
  const names = Array.from({ length: SITES }, (_, i) => `sat-${String(i).padStart(5, '0')}`);
  await db.query('INSERT INTO satellites (name) SELECT unnest($1::text[])', [names]);
  await db.query(`INSERT INTO groups (name, registry) VALUES ('fleet', 'http://127.0.0.1:1')`);
  await db.query(`INSERT INTO group_satellites (group_name, satellite) SELECT 'fleet', unnest($1::text[])`, [names]);
  const simNc = await connect({ servers: sim.url });
  const js = jetstream(simNc);
  const verifier = createCommandVerifier(signing.publicKey);
  const received: number[] = [];
  let rejected = 0;
  let publishFailures = 0;
  let fanT0 = 0;
  const report = (sat: string, r: Omit<CommandResult, 'satellite' | 'at'>) =>
    js.publish(subjects.result(sat), JSON.stringify({ ...r, satellite: sat, at: new Date().toISOString() }), {
      msgID: `${r.id}.${r.status}`,
      headers: messageHeaders('command-result'),
    });
  for (const sat of names) {
    simNc.subscribe(subjects.cmd(sat), {
      callback: (_err, m) => {
        received.push(performance.now() - fanT0);
        void (async () => {
          const d = decodeMessage('command', m.headers?.get(SCHEMA_HEADER) || undefined, m.data);
          if (!d.ok) return void rejected++;
          const cmd: Command = d.value;
          const verdict = checkCommand(cmd, { satellite: sat, signatureValid: verifier.verify(m.data, m.headers?.get(SIGNATURE_HEADER) || undefined), now: Date.now() });
          if (!verdict.run) return void rejected++;
          const base = { id: cmd.id, commandId: cmd.commandId };
          await report(sat, { ...base, status: 'delivered' });
          const startedAt = new Date().toISOString();
          await report(sat, { ...base, status: 'running', startedAt });
          await report(sat, { ...base, status: 'succeeded', exitCode: 0, output: 'pong', startedAt, finishedAt: new Date().toISOString() });
        })().catch(() => publishFailures++);
      },
    });
  }
  await simNc.flush();
  // warm-up fan-out (proves every subscription's interest reached the hub), then the measured one
  const warm = await post({ target: { group: 'fleet' }, action: 'ping', args: {} });
  await whenCompleted(warm, 120_000);
  received.length = 0;
  const hubCpu0 = cpuSeconds(hub.proc.pid);
  const svcCpu0 = cpuSeconds(services[0]!.pid!);
  fanT0 = performance.now();
  const id = await post({ target: { group: 'fleet' }, action: 'ping', args: {} });
  const fanPost = performance.now() - fanT0;
  const fanDone = (await whenCompleted(id, 120_000)) - fanT0;
  const hubCpu = cpuSeconds(hub.proc.pid) - hubCpu0;
  const svcCpu = cpuSeconds(services[0]!.pid!) - svcCpu0;
  const { rows } = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM command_targets WHERE command_id = $1 GROUP BY status', [id]);
  received.sort((a, b) => a - b);
  await simNc.close();
  await db.end();

  const round = (n: number) => Math.round(n * 10) / 10;
  await writeResult('command-rtt', {
    unit: 'ms',
    single: {
      runs: RUNS,
      p50: round(percentile(rtt, 50)),
      p99: round(percentile(rtt, 99)),
      max: round(rtt[rtt.length - 1]!),
      post_p50: round(percentile(postMs, 50)),
      target_p99_ms: 100,
      met: percentile(rtt, 99) < 100,
    },
    fanout: {
      sites: SITES,
      complete_ms: Math.round(fanDone),
      post_ms: Math.round(fanPost),
      received_p50: Math.round(percentile(received, 50)),
      received_p99: Math.round(percentile(received, 99)),
      stored: Object.fromEntries(rows.map((r) => [r.status, Number(r.n)])),
      rejected,
      publish_failures: publishFailures,
      hub_cpu_s: Number(hubCpu.toFixed(2)),
      command_service_cpu_s: Number(svcCpu.toFixed(2)),
      target_ms: 5_000,
      met: fanDone < 5_000,
    },
    load_avg_1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
    note:
      'single: POST to the completed event (published after the result commit) through gateway, command service, hub, leaf, executor and forwarder processes; ' +
      'fanout: simulated executors verify and check each command, then publish delivered/running/succeeded straight to RESULTS through the leaf (no per-site CMD_LOCAL, OUTBOX or forwarder)',
  });
} finally {
  await hubNc.close();
  for (const s of procs) {
    s.kill('SIGTERM');
    await s.stopped;
  }
}
