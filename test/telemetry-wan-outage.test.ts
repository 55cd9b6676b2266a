// The whole telemetry path through a WAN outage: a site's heartbeats go into its OUTBOX, the forwarder
// (its own process) ships them to the hub, telemetry-ingest stores them. With the link cut the site
// goes stale; when it comes back the backlog drains, the forwarder is killed mid-drain and restarted,
// and every heartbeat is in Postgres exactly once, in order, with the site online again.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionStreams } from '@uplink/bus';
import { siteStreams, type SatelliteStatusView } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startHeartbeat, type HeartbeatParts } from '@uplink/satellite';
import { freePort, leafConnected, startLeaf, startLinkProxy, startProcess, waitFor, type LinkProxy, type NatsServer, type Proc } from '@uplink/testkit';
import { startTelemetrySystem, type TelemetrySystem } from './telemetry-support.js';

const SAT = 'wan-01';
const repoRoot = join(fileURLToPath(import.meta.url), '..', '..');
const tsx = createRequire(import.meta.url).resolve('tsx');
const logger = createLogger({ service: 'e2e', level: 'silent' });

let sys: TelemetrySystem;
let proxy: LinkProxy;
let leaf: NatsServer;
beforeAll(async () => {
  sys = await startTelemetrySystem({ OFFLINE_AFTER_S: '600', STATUS_SWEEP_INTERVAL_S: '0.5' });
  proxy = await startLinkProxy({ port: sys.hub.leafPort });
  leaf = await startLeaf({ name: SAT, hubLeafUrl: proxy.leafUrl });
});
afterAll(async () => {
  await leaf?.[Symbol.asyncDispose]();
  await proxy?.[Symbol.asyncDispose]();
  await sys?.[Symbol.asyncDispose]();
});

describe('site telemetry through a WAN outage', { timeout: 120_000 }, () => {
  it('goes stale while cut off, and every heartbeat lands in Postgres once and in order, also when the forwarder dies mid-drain', async () => {
    await sys.register(SAT);
    const lnc = await connect({ servers: leaf.url });
    await provisionStreams(await jetstreamManager(lnc, { domain: SAT }), siteStreams(SAT));
    const statusPort = await freePort();
    const startForwarder = (): Proc =>
      startProcess(process.execPath, ['--conditions=uplink-source', '--import', tsx, join(repoRoot, 'services/forwarder/src/main.ts')], {
        env: {
          ...process.env,
          SATELLITE_NAME: SAT,
          NATS_URL: leaf.url,
          LEAF_MONITOR_URL: leaf.monitorUrl,
          STATUS_PORT: String(statusPort),
          BACKOFF_MAX_MS: '500',
          // slow enough that the forwarder can be killed in the middle of the drain
          DRAIN_RATE: '100',
          BATCH_SIZE: '20',
          LOG_LEVEL: 'warn',
        },
      });
    let forwarder = startForwarder();
    let linked = true;
    const beats = startHeartbeat({
      nc: lnc,
      satellite: SAT,
      intervalSeconds: () => 1,
      sample: (): HeartbeatParts => ({
        applied: null,
        inventory: [],
        sync: { status: 'idle', ready: 0, total: 0, failed: 0, lastSyncAt: null },
        link: { connected: linked, lastContactAt: null },
      }),
      outbox: () => ({ messages: 0, bytes: 0, dropped: 0 }),
      logger,
    });
    const status = async () => (await sys.get<SatelliteStatusView>(`/v1/satellites/${SAT}/status`)).body.status;
    const seqs = async () =>
      (await sys.db.query<{ seq: number }>(`SELECT (body->>'seq')::int AS seq FROM telemetry WHERE satellite = $1 ORDER BY at, msg_id`, [SAT])).rows.map((r) => r.seq);
    try {
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });
      await waitFor(async () => (await seqs()).length >= 2 && (await status()) === 'online', { what: 'site online', timeoutMs: 40_000 });

      // the WAN goes down: heartbeats queue in OUTBOX, and the site goes stale at the hub
      proxy.cut();
      await waitFor(async () => !(await leafConnected(leaf.monitorUrl)), { what: 'link down' });
      linked = false;
      await waitFor(async () => (await status()) === 'stale', { what: 'site stale', timeoutMs: 30_000 });
      for (let i = 0; i < 300; i++) await beats.beat();

      // back: the backlog drains; the forwarder dies in the middle and starts again
      proxy.restore();
      linked = true;
      const before = (await seqs()).length;
      await waitFor(async () => (await seqs()).length >= before + 40, { what: 'drain under way', timeoutMs: 40_000 });
      await forwarder.stop('SIGKILL');
      expect((await seqs()).length).toBeLessThan(beats.seq);
      forwarder = startForwarder();
      // the backlog drained, fresh heartbeats arrive again
      await waitFor(async () => (await status()) === 'online', { what: 'online again', timeoutMs: 60_000 });

      await beats.stop();
      const last = beats.seq;
      await waitFor(async () => (await seqs()).length >= last, { what: `all ${last} heartbeats stored`, timeoutMs: 30_000 });
      // exactly once and in order: the seqs of one process start, 0..last-1
      expect(await seqs()).toEqual(Array.from({ length: last }, (_, i) => i));
      const disconnected = await sys.db.query(`SELECT 1 FROM telemetry WHERE satellite = $1 AND (body->'link'->>'connected')::boolean = false`, [SAT]);
      expect(disconnected.rowCount).toBeGreaterThanOrEqual(300);
    } finally {
      await beats.stop();
      await forwarder.stop();
      await lnc.close();
    }
  });
});
