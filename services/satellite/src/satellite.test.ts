import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import {
  contentDigest,
  decodeMessage,
  hubStreams,
  loadEnv,
  SatelliteEnv,
  SCHEMA_HEADER,
  subjects,
  type DesiredState,
} from '@uplink/contracts';
import { jsFor, provisionStreams, publishMessage } from '@uplink/bus';
import { createLogger } from '@uplink/observability';
import { freePort, leafConnected, startHub, startLeaf, startLinkProxy, tempDir, waitFor, type Hub, type LinkProxy, type NatsServer, type TempDir } from '@uplink/testkit';
import { startSatellite, type SatelliteHandle, type SatelliteStatus } from './index.js';

const SAT = 'edge-01';
const logger = createLogger({ service: 'satellite-test', level: (process.env.TEST_LOG_LEVEL as 'debug' | undefined) ?? 'silent' });

function desiredState(satellite: string, revision: number, repository = 'library/app'): DesiredState {
  const content = {
    satellite,
    registries: [{ name: 'upstream', url: 'http://127.0.0.1:9' }],
    artifacts: [{ registry: 'upstream', repository, tag: `v${revision}`, digest: 'sha256:' + String(revision).padStart(64, '0') }],
    config: { heartbeatSeconds: 30, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [] },
  };
  return { ...content, revision, digest: contentDigest(content), issuedAt: new Date().toISOString() };
}

interface Site extends AsyncDisposable {
  hub: Hub;
  proxy: LinkProxy;
  leaf: NatsServer;
  data: TempDir;
  hubNc: NatsConnection;
  leafNc: NatsConnection;
  start(): Promise<SatelliteHandle>;
  /** publish a desired state on the hub, as the state-publisher does */
  publish(doc: DesiredState): Promise<void>;
  cut(): Promise<void>;
  restore(): Promise<void>;
}

/** hub + cuttable WAN link + the site's leaf, hub streams provisioned; satellites started through it are closed on dispose */
async function startSite(opts: { leafPort?: number; startLeafLater?: boolean } = {}): Promise<Site & { startLeaf(): Promise<void> }> {
  const hub = await startHub();
  const proxy = await startLinkProxy({ port: hub.leafPort });
  const data = await tempDir('uplink-satellite-');
  const hubNc = await connect({ servers: hub.url });
  await provisionStreams(await jetstreamManager(hubNc), hubStreams);
  const leafPort = opts.leafPort ?? (await freePort());
  const leafMonitorPort = await freePort();
  let leaf: NatsServer | undefined;
  let leafNc: NatsConnection | undefined;
  const satellites: SatelliteHandle[] = [];
  const site = {
    hub,
    proxy,
    data,
    hubNc,
    get leaf() {
      return leaf!;
    },
    get leafNc() {
      return leafNc!;
    },
    async startLeaf() {
      leaf = await startLeaf({ name: SAT, hubLeafUrl: proxy.leafUrl, port: leafPort, monitorPort: leafMonitorPort });
      leafNc = await connect({ servers: leaf.url });
      await waitFor(() => leafConnected(leaf!.monitorUrl), { what: 'leaf link' });
    },
    async start() {
      const config = loadEnv(SatelliteEnv, {
        SATELLITE_NAME: SAT,
        NATS_URL: `nats://127.0.0.1:${leafPort}`,
        LEAF_MONITOR_URL: `http://127.0.0.1:${leafMonitorPort}`,
        DATA_DIR: data.path,
        STATUS_PORT: '0',
        REGISTRY_PORT: '0',
        CATCHUP_INTERVAL_S: '1',
        LOG_LEVEL: 'silent',
      });
      const sat = await startSatellite(config, { logger });
      satellites.push(sat);
      return sat;
    },
    async publish(doc: DesiredState) {
      await publishMessage(hubNc, subjects.state(doc.satellite), 'desired-state', doc, { msgId: `${doc.satellite}:${doc.revision}` });
    },
    async cut() {
      proxy.cut();
      await waitFor(async () => !(await leafConnected(leaf!.monitorUrl)), { what: 'leaf to notice the cut' });
    },
    async restore() {
      proxy.restore();
      await waitFor(() => leafConnected(leaf!.monitorUrl), { what: 'leaf to reconnect' });
    },
    async [Symbol.asyncDispose]() {
      for (const s of satellites) await s.close();
      await leafNc?.close();
      await hubNc.close();
      await leaf?.[Symbol.asyncDispose]();
      await proxy.close();
      await hub[Symbol.asyncDispose]();
      await data[Symbol.asyncDispose]();
    },
  };
  if (!opts.startLeafLater) await site.startLeaf();
  return site;
}

async function getStatus(sat: SatelliteHandle): Promise<SatelliteStatus> {
  const res = await fetch(`${sat.statusUrl}/status`);
  expect(res.status).toBe(200);
  return (await res.json()) as SatelliteStatus;
}

async function waitApplied(sat: SatelliteHandle, revision: number): Promise<SatelliteStatus> {
  return waitFor(async () => {
    const s = await getStatus(sat);
    return s.applied?.revision === revision ? s : undefined;
  }, { what: `revision ${revision} applied` });
}

async function metric(sat: SatelliteHandle, name: string): Promise<number> {
  const text = await (await fetch(`${sat.statusUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

async function historyFile(site: Site): Promise<number[]> {
  const text = await readFile(join(site.data.path, 'state', 'history.jsonl'), 'utf8');
  return text.trim().split('\n').map((l) => (JSON.parse(l) as { revision: number }).revision);
}

/** revisions of the state-applied reports in the hub's TELEMETRY stream */
async function reported(hubNc: NatsConnection): Promise<number[]> {
  const jsm = await jetstreamManager(hubNc);
  const info = await jsm.streams.info('TELEMETRY');
  const out: number[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage('TELEMETRY', { seq });
    if (!m || m.subject !== subjects.telemetry(SAT, 'applied')) continue;
    const d = decodeMessage('state-applied', m.header.get(SCHEMA_HEADER), m.data);
    if (d.ok) out.push(d.value.revision);
  }
  return out;
}

describe('satellite desired-state path', () => {
  it('refuses to start with a clear code when its registry or status port is taken, and leaves nothing listening', async () => {
    await using data = await tempDir('uplink-satellite-');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    const env = (extra: Record<string, string>) =>
      loadEnv(SatelliteEnv, { SATELLITE_NAME: SAT, NATS_URL: 'nats://127.0.0.1:1', DATA_DIR: data.path, STATUS_PORT: '0', REGISTRY_PORT: '0', LOG_LEVEL: 'silent', ...extra });
    try {
      await expect(startSatellite(env({ REGISTRY_PORT: port }), { logger })).rejects.toMatchObject({ code: 'REGISTRY_LISTEN_FAILED' });
      const registryPort = await freePort();
      await expect(startSatellite(env({ STATUS_PORT: port, REGISTRY_PORT: String(registryPort) }), { logger })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // the registry it had opened is closed again
      const probe = createServer();
      await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(registryPort, '127.0.0.1', resolve));
      await new Promise((resolve) => probe.close(resolve));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('applies a published state, shows it on /status and /metrics, and reports it to the hub', async () => {
    await using site = await startSite();
    const sat = await site.start();
    await sat.ready;
    const doc = desiredState(SAT, 1);
    await site.publish(doc);

    const status = await waitApplied(sat, 1);
    expect(status).toMatchObject({
      satellite: SAT,
      applied: { revision: 1, digest: doc.digest },
      desired: { revision: 1, digest: doc.digest },
      link: { connected: true },
      // the state counts as applied once every artifact was attempted; this one's registry does not exist
      artifacts: [{ repository: 'library/app', digest: doc.artifacts[0]!.digest, status: 'failed', error: expect.stringContaining('UPSTREAM_UNAVAILABLE') }],
    });
    expect(status.history.map((h) => h.revision)).toEqual([1]);
    expect(Date.parse(status.link.lastContactAt!)).not.toBeNaN();
    expect((await fetch(`${sat.statusUrl}/healthz`)).status).toBe(200);
    expect(await metric(sat, 'uplink_satellite_applied_revision')).toBe(1);
    expect(await metric(sat, 'uplink_satellite_link_connected')).toBe(1);
    const notFound = await fetch(`${sat.statusUrl}/nope`);
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');

    await waitFor(async () => (await reported(site.hubNc)).includes(1), { what: 'state-applied report in TELEMETRY' });
  });

  it('keeps its state through a WAN outage, converges to the latest revision, applies none twice, and restarts from disk offline', async () => {
    await using site = await startSite();
    let sat = await site.start();
    await sat.ready;
    await site.publish(desiredState(SAT, 1));
    await waitApplied(sat, 1);

    await site.cut();
    await waitFor(async () => !(await getStatus(sat)).link.connected, { what: 'satellite to see the link down' });
    await site.publish(desiredState(SAT, 2));
    await site.publish(desiredState(SAT, 3));
    expect((await getStatus(sat)).applied?.revision).toBe(1);

    await site.restore();
    const converged = await waitApplied(sat, 3);
    expect(converged.link.connected).toBe(true);
    expect(converged.history.map((h) => h.revision)).toEqual([1, 3]);
    expect(await historyFile(site)).toEqual([1, 3]);

    // restart with the WAN down: it comes up from what it persisted
    await site.cut();
    await sat.close();
    sat = await site.start();
    const offline = await getStatus(sat);
    expect(offline.applied?.revision).toBe(3);
    expect(offline.history.map((h) => h.revision)).toEqual([1, 3]);
    await sat.ready;
    await waitFor(async () => (await getStatus(sat)).desired?.revision === 3, { what: 'desired state from STATE_LOCAL' });
    const after = await getStatus(sat);
    expect(after.link.connected).toBe(false);
    expect(after.applied?.revision).toBe(3);
    expect(await historyFile(site)).toEqual([1, 3]);
  });

  it('reports a revision applied while the WAN is down once the link returns', async () => {
    await using site = await startSite();
    const sat = await site.start();
    await sat.ready;
    await site.cut();
    // the state reached STATE_LOCAL just before the link dropped
    await publishMessage(site.leafNc, subjects.localState(SAT), 'desired-state', desiredState(SAT, 1), { domain: SAT });
    await waitApplied(sat, 1);
    expect(await reported(site.hubNc)).toEqual([]);

    await site.restore();
    await waitFor(async () => (await reported(site.hubNc)).includes(1), { what: 'report after the outage' });
  });

  it('dead-letters a wrong schema header, an invalid body and another satellite\'s state, and still applies the next valid one', async () => {
    await using site = await startSite();
    const sat = await site.start();
    await sat.ready;
    const js = jsFor(site.hubNc);
    const wrongVersion = headers();
    wrongVersion.set(SCHEMA_HEADER, 'desired-state/9');
    await js.publish(subjects.state(SAT), JSON.stringify(desiredState(SAT, 1)), { headers: wrongVersion });
    const rightHeader = headers();
    rightHeader.set(SCHEMA_HEADER, 'desired-state/1');
    await js.publish(subjects.state(SAT), JSON.stringify({ satellite: SAT, revision: 'two' }), { headers: rightHeader });
    await publishMessage(site.hubNc, subjects.state(SAT), 'desired-state', desiredState('edge-02', 7));
    await site.publish(desiredState(SAT, 2));

    await waitApplied(sat, 2);
    const leafJsm = await jetstreamManager(site.leafNc);
    const reasons = await waitFor(async () => {
      const info = await leafJsm.streams.info('DEAD');
      if (info.state.messages < 3) return undefined;
      const out: string[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await leafJsm.streams.getMessage('DEAD', { seq });
        if (m?.subject === subjects.dead('STATE')) out.push(m.header.get('Uplink-Dead-Reason'));
      }
      return out;
    }, { what: 'dead letters in the leaf DEAD stream' });
    expect(reasons).toHaveLength(3);
    expect(reasons.some((r) => r.includes('unsupported version 9'))).toBe(true);
    expect(reasons.some((r) => r.includes('invalid desired-state/1'))).toBe(true);
    expect(reasons.some((r) => r.includes('satellite edge-02 delivered to satellite edge-01'))).toBe(true);
    expect(await metric(sat, 'uplink_satellite_states_dead_lettered_total')).toBe(3);
    expect(await historyFile(site)).toEqual([2]);
  });

  it('skips an older revision that arrives after a newer one, from the hub or in STATE_LOCAL', async () => {
    await using site = await startSite();
    const sat = await site.start();
    await sat.ready;
    await site.publish(desiredState(SAT, 5));
    await waitApplied(sat, 5);

    const live = 'uplink_satellite_states_received_total{source="live"}';
    const liveBefore = await metric(sat, live);
    await site.publish(desiredState(SAT, 4));
    await waitFor(async () => (await metric(sat, live)) > liveBefore, { what: 'older state received' });
    expect(await metric(sat, 'uplink_satellite_states_skipped_total{stage="intake"}')).toBeGreaterThanOrEqual(1);
    const recorded = await (await jetstreamManager(site.leafNc)).streams.getMessage('STATE_LOCAL', { last_by_subj: subjects.localState(SAT) });
    expect((recorded?.json() as DesiredState).revision).toBe(5);
    // a stale copy that reached STATE_LOCAL anyway is acked without being applied
    await publishMessage(site.leafNc, subjects.localState(SAT), 'desired-state', desiredState(SAT, 4), { domain: SAT });
    await waitFor(async () => (await metric(sat, 'uplink_satellite_states_skipped_total{stage="apply"}')) === 1, { what: 'older state skipped by the consumer' });
    expect((await getStatus(sat)).applied?.revision).toBe(5);

    await site.publish(desiredState(SAT, 6));
    const s = await waitApplied(sat, 6);
    expect(s.history.map((h) => h.revision)).toEqual([5, 6]);
    expect(await historyFile(site)).toEqual([5, 6]);
  });

  it('starts before its leaf server, serves its status, and applies once the leaf is up', async () => {
    await using site = await startSite({ startLeafLater: true });
    const sat = await site.start();
    const early = await getStatus(sat);
    expect(early).toMatchObject({ satellite: SAT, applied: null, desired: null, link: { connected: false } });

    await site.startLeaf();
    await sat.ready;
    await site.publish(desiredState(SAT, 1));
    await waitApplied(sat, 1);
  });
});
