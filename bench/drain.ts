// pnpm bench drain [--messages N] [--batch B] [--rate R]: the forwarder's backlog drain after a WAN
// outage. N heartbeats are queued in a site's OUTBOX while its link (a cuttable proxy) is down; the link
// comes back and the forwarder (its own process) drains them into the hub's TELEMETRY stream. Reports
// the drain rate (first to last message stored at the hub), the time from link restore to an empty
// backlog, and lost / duplicated messages counted by distinct Nats-Msg-Id at the hub.
import { jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { hubStreams, siteStreams, type Heartbeat } from '@uplink/contracts';
import { jsFor, provisionStreams, publishToOutbox } from '@uplink/bus';
import { leafConnected, startHub, startLeaf, startLinkProxy, waitFor } from '@uplink/testkit';
import { arg, cpuSeconds, startService, writeResult } from './support.js';

const N = Number(arg('messages', '50000'));
const BATCH = arg('batch', '1000');
const RATE = arg('rate', '1000000');
const SAT = 'edge-bench';

await using hub = await startHub();
await using proxy = await startLinkProxy({ port: hub.leafPort });
await using leaf = await startLeaf({ name: SAT, hubLeafUrl: proxy.leafUrl });
const hnc = await connect({ servers: hub.url });
const lnc = await connect({ servers: leaf.url });
const hjsm = await jetstreamManager(hnc);
await provisionStreams(hjsm, hubStreams);
const ljsm = await jetstreamManager(lnc, { domain: SAT });
await provisionStreams(ljsm, siteStreams(SAT));
await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });

const forwarder = startService('services/forwarder/src/main.ts', {
  SATELLITE_NAME: SAT,
  NATS_URL: leaf.url,
  LEAF_MONITOR_URL: leaf.monitorUrl,
  STATUS_PORT: '0',
  BATCH_SIZE: BATCH,
  DRAIN_RATE: RATE,
  BACKOFF_MAX_MS: '1000',
});

try {
  proxy.cut();
  await waitFor(async () => !(await leafConnected(leaf.monitorUrl)), { what: 'link down' });

  // the backlog: N heartbeats of a realistic size, queued while the link is down
  const base: Heartbeat = {
    satellite: SAT,
    at: new Date().toISOString(),
    seq: 0,
    bootId: 'bench-boot',
    intervalSeconds: 30,
    uptimeSeconds: 1,
    cpuPercent: 12.5,
    memory: { usedBytes: 1_000_000_000, totalBytes: 4_000_000_000 },
    disk: { usedBytes: 20_000_000_000, freeBytes: 80_000_000_000 },
    versions: { satellite: '0.1.0', node: process.version },
    applied: { revision: 7, digest: 'sha256:' + 'a'.repeat(64) },
    inventory: { hash: 'sha256:' + 'b'.repeat(64) },
    sync: { status: 'synced', ready: 3, total: 3, failed: 0, lastSyncAt: new Date().toISOString() },
    link: { connected: false, lastContactAt: new Date().toISOString() },
    outbox: { messages: 0, bytes: 0, dropped: 0 },
  };
  const fill0 = performance.now();
  for (let i = 0; i < N; i += 1_000) {
    await Promise.all(
      Array.from({ length: Math.min(1_000, N - i) }, (_, k) =>
        publishToOutbox(lnc, SAT, 'heartbeat', 'heartbeat', { ...base, seq: i + k, at: new Date().toISOString() }, { msgId: `heartbeat:${SAT}:bench-boot:${i + k}` }),
      ),
    );
  }
  const fillSeconds = (performance.now() - fill0) / 1_000;
  const outbox = await ljsm.streams.info('OUTBOX');
  if (outbox.state.messages !== N) throw new Error(`OUTBOX holds ${outbox.state.messages} of ${N}`);

  const cpu0 = cpuSeconds(forwarder.pid!);
  const t0 = performance.now();
  proxy.restore();
  await waitFor(async () => (await ljsm.streams.info('OUTBOX')).state.messages === 0, { what: 'OUTBOX drained', timeoutMs: 600_000, intervalMs: 20 });
  const wallSeconds = (performance.now() - t0) / 1_000;
  const cpu = cpuSeconds(forwarder.pid!) - cpu0;

  // what the hub holds: count distinct ids with an ordered consumer
  const info = await hjsm.streams.info('TELEMETRY');
  const c = await jsFor(hnc).consumers.get('TELEMETRY');
  const ids = new Set<string>();
  let stored = 0;
  let firstAt = 0;
  let lastAt = 0;
  const msgs = await c.consume({ max_messages: 5_000 });
  for await (const m of msgs as AsyncIterable<JsMsg>) {
    stored++;
    ids.add(m.headers?.get('Nats-Msg-Id') ?? '');
    const at = m.info.timestampNanos / 1e6;
    if (stored === 1) firstAt = at;
    lastAt = at;
    if (m.info.streamSequence >= info.state.last_seq) break;
  }
  const drainSeconds = (lastAt - firstAt) / 1_000;
  await writeResult('drain', {
    messages: N,
    batch: Number(BATCH),
    rateLimit: Number(RATE),
    bytes: outbox.state.bytes,
    fillSeconds: round(fillSeconds),
    msgsPerSecond: Math.round((N - 1) / drainSeconds),
    drainSeconds: round(drainSeconds),
    restoreToEmptySeconds: round(wallSeconds),
    forwarderCpuSeconds: round(cpu),
    stored,
    lost: N - ids.size,
    duplicated: stored - ids.size,
    target: { msgsPerSecond: 5_000, lost: 0, duplicated: 0 },
  });
} finally {
  forwarder.kill('SIGTERM');
  await forwarder.stopped;
  await lnc.close();
  await hnc.close();
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
