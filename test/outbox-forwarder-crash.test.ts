// A forwarder process killed (SIGKILL) in the middle of draining a backlog loses nothing once it runs
// again, and the hub stores no message twice.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { hubStreams, siteStreams, type SyncEvent } from '@uplink/contracts';
import { provisionStreams, publishToOutbox } from '@uplink/bus';
import { leafConnected, startHub, startLeaf, startProcess, waitFor, type Proc } from '@uplink/testkit';

const SAT = 'edge-02';
const N = 2_000;
const repoRoot = join(fileURLToPath(import.meta.url), '..', '..');
const tsx = createRequire(import.meta.url).resolve('tsx');

/** everything the hub's TELEMETRY holds, in stream order (an ordered consumer) */
async function storedAtHub(jsm: JetStreamManager): Promise<{ msgId: string; revision: number }[]> {
  const info = await jsm.streams.info('TELEMETRY');
  const out: { msgId: string; revision: number }[] = [];
  if (info.state.messages === 0) return out;
  const c = await jsm.jetstream().consumers.get('TELEMETRY');
  const it = await c.fetch({ max_messages: info.state.messages, expires: 5_000 });
  for await (const m of it) {
    out.push({ msgId: m.headers?.get('Nats-Msg-Id') ?? '', revision: (m.json() as SyncEvent).revision });
    if (m.seq >= info.state.last_seq) break;
  }
  return out;
}

describe('forwarder crash mid-drain', () => {
  it('loses nothing and stores nothing twice after a SIGKILL and a restart', async () => {
    await using hub = await startHub();
    await using leaf = await startLeaf({ name: SAT, hubLeafUrl: hub.leafUrl });
    const hnc = await connect({ servers: hub.url });
    const lnc = await connect({ servers: leaf.url });
    const procs: Proc[] = [];
    const startForwarder = () => {
      const p = startProcess(process.execPath, ['--conditions=uplink-source', '--import', tsx, join(repoRoot, 'services/forwarder/src/main.ts')], {
        env: { ...process.env, SATELLITE_NAME: SAT, NATS_URL: leaf.url, STATUS_PORT: '0', DRAIN_RATE: '1000', BATCH_SIZE: '100', LOG_LEVEL: 'warn' },
      });
      procs.push(p);
      return p;
    };
    try {
      const hjsm = await jetstreamManager(hnc);
      await provisionStreams(hjsm, hubStreams);
      const ljsm = await jetstreamManager(lnc, { domain: SAT });
      await provisionStreams(ljsm, siteStreams(SAT));
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });
      const ids: string[] = [];
      for (let i = 0; i < N; i += 500) {
        ids.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(500, N - i) }, (_, k) => {
              const revision = i + k;
              const body: SyncEvent = { satellite: SAT, at: new Date().toISOString(), event: 'artifact.synced', revision, bytes: revision };
              return publishToOutbox(lnc, SAT, 'sync', 'sync-event', body, { msgId: `sync:${SAT}:${revision}` });
            }),
          )),
        );
      }
      const hubCount = async () => (await hjsm.streams.info('TELEMETRY')).state.messages;

      const first = startForwarder();
      await waitFor(async () => (await hubCount()) >= 400, { what: 'draining under way', timeoutMs: 30_000, intervalMs: 10 });
      await first.stop('SIGKILL');
      const atKill = await hubCount();
      expect(atKill).toBeLessThan(N);

      startForwarder();
      await waitFor(async () => (await ljsm.streams.info('OUTBOX')).state.messages === 0, { what: 'OUTBOX drained', timeoutMs: 30_000 });
      const stored = await storedAtHub(hjsm);
      expect(stored).toHaveLength(N);
      expect(new Set(stored.map((s) => s.msgId))).toEqual(new Set(ids));
      // oldest first, across the crash too
      expect(stored.map((s) => s.revision)).toEqual(Array.from({ length: N }, (_, i) => i));
    } finally {
      for (const p of procs) await p.stop();
      await lnc.close();
      await hnc.close();
    }
  });
});
