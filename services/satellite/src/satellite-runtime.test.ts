// The satellite wires runtime integration and heartbeat sources: mirror config from the applied state
// on disk at start (no hub, no leaf), the runtime report and a separate forwarder's OUTBOX figures in
// heartbeats.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { contentDigest, decodeMessage, loadEnv, SatelliteEnv, SCHEMA_HEADER, siteStreams, subjects, type DesiredState, type Heartbeat } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { freePort, startHub, startLeaf, tempDir, waitFor } from '@uplink/testkit';
import { startSatellite, type SatelliteStatus } from './index.js';
import { openStateStore } from './state-store.js';

const SAT = 'edge-rt';
const logger = createLogger({ service: 'satellite-test', level: (process.env.TEST_LOG_LEVEL as 'debug' | undefined) ?? 'silent' });

function desiredState(config: Partial<DesiredState['config']>): DesiredState {
  const content = {
    satellite: SAT,
    registries: [{ name: 'lab', url: 'http://127.0.0.1:5999' }],
    artifacts: [],
    config: { heartbeatSeconds: 30, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [], ...config },
  };
  return { ...content, revision: 4, digest: contentDigest(content), issuedAt: new Date().toISOString() };
}

async function status(url: string): Promise<SatelliteStatus> {
  return (await (await fetch(`${url}/status`)).json()) as SatelliteStatus;
}

describe('satellite runtime integration', () => {
  it('points runtimes at its registry at start from the applied state on disk, with no leaf server reachable', async () => {
    await using data = await tempDir('uplink-satrt-');
    const root = join(data.path, 'root');
    await (await openStateStore(data.path, SAT, logger)).commit(desiredState({ mirrors: ['containerd', 'docker'] }));
    const sat = await startSatellite(
      loadEnv(SatelliteEnv, {
        SATELLITE_NAME: SAT,
        NATS_URL: `nats://127.0.0.1:${await freePort()}`,
        DATA_DIR: data.path,
        STATUS_PORT: '0',
        REGISTRY_HOST: '0.0.0.0',
        REGISTRY_PORT: '0',
        RUNTIME_ROOT: root,
        LOG_LEVEL: 'silent',
      }),
      { logger },
    );
    try {
      const s = await waitFor(async () => {
        const st = await status(sat.statusUrl);
        return st.runtime.at !== null && st;
      }, { what: 'runtime config applied' });
      const mirror = `http://127.0.0.1:${sat.registryPort}`;
      expect(s.runtime).toMatchObject({ root, mirrorUrl: mirror, reason: 'start', runtimes: [{ runtime: 'containerd', registries: ['127.0.0.1:5999'] }], errors: [] });
      // Docker mirrors only docker.io, which this state does not use: said so, not counted as configured
      expect(s.runtime.mirrors?.notes.join()).toMatch(/docker\.io only/);
      expect(await readFile(join(root, 'etc/containerd/certs.d/127.0.0.1:5999/hosts.toml'), 'utf8')).toContain(`[host."${mirror}"]`);
      expect(s.link.connected).toBe(false);
      expect(s.sync.window).toEqual({ windows: [], open: true, waiting: 0 });
      const metrics = await (await fetch(`${sat.statusUrl}/metrics`)).text();
      expect(metrics).toContain('uplink_satellite_runtime_configured{runtime="containerd"} 1');
      expect(metrics).toMatch(/uplink_satellite_runtime_config_last_apply_timestamp_seconds [1-9]/);
      // the apply-runtime-config command: written again on request
      const again = await sat.applyRuntimeConfig();
      expect(again).toMatchObject({ reason: 'manual', runtimes: [{ runtime: 'containerd' }] });
      expect(again.mirrors?.written).toEqual([]);
    } finally {
      await sat.close();
    }
  });

  it('sends the runtime report and the OUTBOX depth and drops a separate forwarder counts in heartbeats', async () => {
    await using hub = await startHub();
    await using leaf = await startLeaf({ name: SAT, hubLeafUrl: hub.leafUrl });
    await using data = await tempDir('uplink-satrt-');
    await (await openStateStore(data.path, SAT, logger)).commit(desiredState({ heartbeatSeconds: 1 }));
    // the forwarder's /stats, as it answers in its own process
    const forwarder = createServer((req, res) => {
      res.writeHead(req.url === '/stats' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ backlog: { messages: 42, bytes: 4_200 }, dropped: 7 }));
    });
    await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
    const sat = await startSatellite(
      loadEnv(SatelliteEnv, {
        SATELLITE_NAME: SAT,
        NATS_URL: leaf.url,
        DATA_DIR: data.path,
        STATUS_PORT: '0',
        REGISTRY_PORT: '0',
        RUNTIME_ROOT: join(data.path, 'root'),
        MIRRORS: 'k3s',
        FORWARDER_STATUS_URL: `http://127.0.0.1:${(forwarder.address() as AddressInfo).port}`,
        LOG_LEVEL: 'silent',
      }),
      { logger },
    );
    const nc = await connect({ servers: leaf.url });
    try {
      await sat.ready;
      const jsm = await jetstreamManager(nc, { domain: SAT });
      const hb = await waitFor(
        async () => {
          const m = await jsm.streams.getMessage(siteStreams(SAT).OUTBOX.name, { last_by_subj: subjects.outbox(SAT, 'heartbeat') }).catch(() => null);
          if (!m) return false;
          const d = decodeMessage('heartbeat', m.header?.get(SCHEMA_HEADER) || undefined, m.data);
          if (!d.ok) throw new Error(d.reason);
          return d.value.runtime !== undefined && d.value;
        },
        { what: 'a heartbeat with the runtime report' },
      );
      expect(hb.outbox).toEqual({ messages: 42, bytes: 4_200, dropped: 7 });
      expect(hb.runtime).toEqual<Heartbeat['runtime']>({ at: expect.any(String), runtimes: ['k3s'], delivered: 0, errors: 0, lastError: null });
    } finally {
      await nc.close();
      await sat.close();
      forwarder.closeAllConnections();
      await new Promise((r) => forwarder.close(r));
    }
  });
});
