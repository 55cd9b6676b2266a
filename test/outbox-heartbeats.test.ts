// Heartbeats from a site reach the hub through OUTBOX and the forwarder (its own process), exactly
// once and in order, also when the site's WAN link was down for a while.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { decodeMessage, hubStreams, SCHEMA_HEADER, siteStreams, type Heartbeat } from '@uplink/contracts';
import { provisionStreams } from '@uplink/bus';
import { createLogger } from '@uplink/observability';
import { outboxFromForwarder, startHeartbeat, type HeartbeatParts } from '@uplink/satellite';
import { freePort, leafConnected, startHub, startLeaf, startLinkProxy, startProcess, waitFor } from '@uplink/testkit';

const SAT = 'edge-01';
const repoRoot = join(fileURLToPath(import.meta.url), '..', '..');
const tsx = createRequire(import.meta.url).resolve('tsx');
const logger = createLogger({ service: 'e2e', level: 'silent' });

async function hubHeartbeats(jsm: JetStreamManager): Promise<{ msgId: string; hb: Heartbeat }[]> {
  const info = await jsm.streams.info('TELEMETRY');
  const out: { msgId: string; hb: Heartbeat }[] = [];
  if (info.state.messages === 0) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage('TELEMETRY', { seq });
    if (!m || m.subject !== `uplink.telemetry.${SAT}.heartbeat`) continue;
    const d = decodeMessage('heartbeat', m.header.get(SCHEMA_HEADER), m.data);
    if (!d.ok) throw new Error(d.reason);
    out.push({ msgId: m.header.get('Nats-Msg-Id'), hb: d.value });
  }
  return out;
}

describe('heartbeats through OUTBOX and the forwarder', () => {
  it('arrive at the hub, and after a WAN outage every heartbeat is there exactly once, in order', async () => {
    await using hub = await startHub();
    await using proxy = await startLinkProxy({ port: hub.leafPort });
    await using leaf = await startLeaf({ name: SAT, hubLeafUrl: proxy.leafUrl });
    const hnc = await connect({ servers: hub.url });
    const lnc = await connect({ servers: leaf.url });
    const statusPort = await freePort();
    const forwarder = startProcess(process.execPath, ['--conditions=uplink-source', '--import', tsx, join(repoRoot, 'services/forwarder/src/main.ts')], {
      env: {
        ...process.env,
        SATELLITE_NAME: SAT,
        NATS_URL: leaf.url,
        LEAF_MONITOR_URL: leaf.monitorUrl,
        STATUS_PORT: String(statusPort),
        BACKOFF_MAX_MS: '500',
        OUTBOX_CHECK_INTERVAL_MS: '200',
        LOG_LEVEL: 'warn',
      },
    });
    const hb = { current: undefined as ReturnType<typeof startHeartbeat> | undefined };
    try {
      const hjsm = await jetstreamManager(hnc);
      await provisionStreams(hjsm, hubStreams);
      await provisionStreams(await jetstreamManager(lnc, { domain: SAT }), siteStreams(SAT));
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });
      const stats = async () => (await (await fetch(`http://127.0.0.1:${statusPort}/stats`)).json()) as { backlog: { messages: number; bytes: number }; dropped: number };
      await waitFor(async () => (await fetch(`http://127.0.0.1:${statusPort}/healthz`)).ok, { what: 'forwarder up', timeoutMs: 30_000 });

      let linked = true;
      const parts = (): HeartbeatParts => ({
        applied: { revision: 1, digest: 'sha256:' + 'a'.repeat(64) },
        inventory: [{ repository: 'factory/plc', tag: 'v1', digest: 'sha256:' + 'b'.repeat(64), sizeBytes: 4096 }],
        sync: { status: 'synced', ready: 1, total: 1, failed: 0, lastSyncAt: null },
        link: { connected: linked, lastContactAt: null },
      });
      hb.current = startHeartbeat({
        nc: lnc,
        satellite: SAT,
        intervalSeconds: () => 1,
        sample: parts,
        // the forwarder's view of OUTBOX, as a standalone satellite reads it
        outbox: outboxFromForwarder(`http://127.0.0.1:${statusPort}`),
        logger,
      });
      const beats = hb.current;
      await waitFor(async () => (await hubHeartbeats(hjsm)).length >= 2, { what: 'heartbeats at the hub' });

      // the WAN goes down: heartbeats pile up in OUTBOX (a few on schedule, more on demand)
      proxy.cut();
      await waitFor(async () => !(await leafConnected(leaf.monitorUrl)), { what: 'link down' });
      linked = false;
      const cutAt = beats.seq;
      for (let i = 0; i < 20; i++) await beats.beat();
      await waitFor(() => beats.seq >= cutAt + 23, { what: 'heartbeats during the outage', timeoutMs: 10_000 });
      const queued = await waitFor(async () => {
        const s = await stats();
        return s.backlog.messages >= 20 && s;
      }, { what: 'backlog seen by the forwarder' });
      expect(queued.dropped).toBe(0);

      proxy.restore();
      linked = true;
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'link up' });
      await waitFor(async () => (await hubHeartbeats(hjsm)).some((x) => x.hb.outbox.messages >= 20), { what: 'a heartbeat reporting the backlog' });
      await beats.stop();
      const last = beats.seq;
      const all = await waitFor(async () => {
        const h = await hubHeartbeats(hjsm);
        return h.length >= last && h;
      }, { what: `all ${last} heartbeats at the hub`, timeoutMs: 30_000 });

      // exactly once (by message id), in order, from one process start
      expect(all).toHaveLength(last);
      expect(new Set(all.map((x) => x.msgId)).size).toBe(last);
      expect(all.map((x) => x.hb.seq)).toEqual(Array.from({ length: last }, (_, i) => i));
      expect(new Set(all.map((x) => x.hb.bootId)).size).toBe(1);
      expect(all.filter((x) => !x.hb.link.connected).length).toBeGreaterThanOrEqual(20);
      // the whole inventory went once; the rest carry its hash
      expect(all.filter((x) => x.hb.inventory.images).map((x) => x.hb.seq)).toEqual([0]);
      await waitFor(async () => (await stats()).backlog.messages === 0, { what: 'OUTBOX empty' });
    } finally {
      await hb.current?.stop();
      await forwarder.stop();
      await lnc.close();
      await hnc.close();
    }
  });
});
