// Fixture of the replication suites: a hub, a site's leaf behind a cuttable link, an upstream
// docker-registry, and satellites started on the site's data dir; plus readers for what a user sees
// (OUTBOX sync events, the state-applied report on the hub, skopeo against the local registry).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  contentDigest,
  decodeMessage,
  hubStreams,
  loadEnv,
  SatelliteEnv,
  SCHEMA_HEADER,
  siteStreams,
  subjects,
  type DesiredArtifact,
  type DesiredState,
  type StateApplied,
  type SyncEvent,
} from '@uplink/contracts';
import { provisionStreams, publishMessage } from '@uplink/bus';
import { createLogger } from '@uplink/observability';
import { startSatellite, type SatelliteHandle, type SatelliteStatus, type StartSatelliteOptions } from '@uplink/satellite';
import {
  freePort,
  leafConnected,
  startHub,
  startLeaf,
  startLinkProxy,
  startUpstreamRegistry,
  tempDir,
  waitFor,
  type Hub,
  type LinkProxy,
  type NatsServer,
  type TempDir,
  type UpstreamRegistry,
  type UpstreamRegistryOptions,
} from '@uplink/testkit';

const run = promisify(execFile);
export const SAT = 'edge-01';
export const logger = createLogger({ service: 'replication-test', level: (process.env.TEST_LOG_LEVEL as 'debug' | undefined) ?? 'silent' });

export interface ReplicationSite extends AsyncDisposable {
  hub: Hub;
  proxy: LinkProxy;
  leaf: NatsServer;
  data: TempDir;
  hubNc: NatsConnection;
  leafNc: NatsConnection;
  upstream: UpstreamRegistry;
  leafPort: number;
  leafMonitorPort: number;
  /** the satellite's environment (without the ports chosen at start) */
  env(extra?: Record<string, string>): Record<string, string>;
  start(extra?: Record<string, string>, opts?: StartSatelliteOptions): Promise<SatelliteHandle>;
  publish(doc: DesiredState): Promise<void>;
}

export async function startReplicationSite(opts: { upstream?: UpstreamRegistryOptions } = {}): Promise<ReplicationSite> {
  const hub = await startHub();
  const proxy = await startLinkProxy({ port: hub.leafPort });
  const data = await tempDir('uplink-replication-');
  const hubNc = await connect({ servers: hub.url });
  await provisionStreams(await jetstreamManager(hubNc), hubStreams);
  const leafPort = await freePort();
  const leafMonitorPort = await freePort();
  const leaf = await startLeaf({ name: SAT, hubLeafUrl: proxy.leafUrl, port: leafPort, monitorPort: leafMonitorPort });
  const leafNc = await connect({ servers: leaf.url });
  await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf link' });
  const upstream = await startUpstreamRegistry(opts.upstream);
  const satellites: SatelliteHandle[] = [];
  const env = (extra: Record<string, string> = {}) => ({
    SATELLITE_NAME: SAT,
    NATS_URL: `nats://127.0.0.1:${leafPort}`,
    LEAF_MONITOR_URL: `http://127.0.0.1:${leafMonitorPort}`,
    DATA_DIR: data.path,
    STATUS_PORT: '0',
    REGISTRY_PORT: '0',
    CATCHUP_INTERVAL_S: '1',
    LOG_LEVEL: 'silent',
    ...extra,
  });
  return {
    hub,
    proxy,
    leaf,
    data,
    hubNc,
    leafNc,
    upstream,
    leafPort,
    leafMonitorPort,
    env,
    async start(extra = {}, o = {}) {
      const sat = await startSatellite(loadEnv(SatelliteEnv, env(extra)), {
        logger,
        // fast retries: a test waits on outcomes, not on production backoff
        replication: { retry: { initialMs: 200, maxMs: 1_000 }, requestRetry: { retries: 1, baseMs: 50, maxMs: 200 } },
        ...o,
      });
      satellites.push(sat);
      await sat.ready;
      return sat;
    },
    async publish(doc) {
      await publishMessage(hubNc, subjects.state(doc.satellite), 'desired-state', doc, { msgId: `${doc.satellite}:${doc.revision}` });
    },
    async [Symbol.asyncDispose]() {
      for (const s of satellites) await s.close();
      await leafNc.close();
      await hubNc.close();
      await leaf[Symbol.asyncDispose]();
      await proxy.close();
      await hub[Symbol.asyncDispose]();
      await upstream[Symbol.asyncDispose]();
      await data[Symbol.asyncDispose]();
    },
  };
}

export function desiredState(revision: number, registries: Record<string, string>, artifacts: DesiredArtifact[]): DesiredState {
  const content = {
    satellite: SAT,
    registries: Object.entries(registries).map(([name, url]) => ({ name, url })),
    artifacts,
    config: { heartbeatSeconds: 30, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [] },
  };
  return { ...content, revision, digest: contentDigest(content), issuedAt: new Date().toISOString() };
}

export async function getStatus(statusUrl: string): Promise<SatelliteStatus> {
  const res = await fetch(`${statusUrl}/status`);
  if (res.status !== 200) throw new Error(`/status answered ${res.status}`);
  return (await res.json()) as SatelliteStatus;
}

/** wait until `revision` is applied and no artifact is pending or syncing */
export async function waitSettled(statusUrl: string, revision: number, timeoutMs = 30_000): Promise<SatelliteStatus> {
  let last: SatelliteStatus | undefined;
  await waitFor(
    async () => {
      last = await getStatus(statusUrl);
      return last.applied?.revision === revision && last.artifacts.every((a) => a.status === 'ready' || a.status === 'failed');
    },
    { what: `revision ${revision} applied and settled (last: ${JSON.stringify(last?.artifacts)})`, timeoutMs },
  );
  return last!;
}

export async function metric(statusUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${statusUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
  return line ? Number(line.split(' ').pop()) : NaN;
}

/** every sync event stored in the site's OUTBOX, oldest first */
export async function outboxSyncEvents(leafNc: NatsConnection): Promise<SyncEvent[]> {
  const jsm = await jetstreamManager(leafNc, { domain: SAT, checkAPI: false });
  const name = siteStreams(SAT).OUTBOX.name;
  const info = await jsm.streams.info(name);
  const out: SyncEvent[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
    if (!m || m.subject !== subjects.outbox(SAT, 'sync')) continue;
    const d = decodeMessage('sync-event', m.header?.get(SCHEMA_HEADER) || undefined, m.data);
    if (d.ok) out.push(d.value);
  }
  return out;
}

/** the latest state-applied report the hub stored */
export async function lastAppliedReport(hubNc: NatsConnection): Promise<StateApplied | null> {
  const jsm = await jetstreamManager(hubNc);
  const m = await jsm.streams.getMessage(hubStreams.TELEMETRY.name, { last_by_subj: subjects.telemetry(SAT, 'applied') }).catch(() => null);
  if (!m) return null;
  const d = decodeMessage('state-applied', m.header?.get(SCHEMA_HEADER) || undefined, m.data);
  return d.ok ? d.value : null;
}

export async function skopeo(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    throw new Error(`skopeo ${args.join(' ')}: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
  }
}

/** the manifest bytes a registry serves for `ref` (tag or digest), as skopeo sees them */
export async function rawManifest(host: string, repo: string, ref: string, extra: string[] = []): Promise<Buffer> {
  const sep = ref.startsWith('sha256:') ? '@' : ':';
  return Buffer.from(await skopeo('inspect', '--raw', '--tls-verify=false', ...extra, `docker://${host}/${repo}${sep}${ref}`));
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** config and layer digests with sizes of an image (all children of an index) at a registry */
export async function blobsOfImage(url: string, repo: string, ref: string, auth?: { username: string; password: string }): Promise<Map<string, number>> {
  const accept = [
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
  ].join(', ');
  const headers: Record<string, string> = { accept };
  if (auth) headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const out = new Map<string, number>();
  const walk = async (r: string) => {
    const res = await fetch(`${url}/v2/${repo}/manifests/${r}`, { headers });
    if (res.status !== 200) throw new Error(`${repo}:${r} answered ${res.status}`);
    const m = (await res.json()) as { manifests?: { digest: string }[]; config?: { digest: string; size: number }; layers?: { digest: string; size: number }[] };
    for (const c of m.manifests ?? []) await walk(c.digest);
    if (m.config) out.set(m.config.digest, m.config.size);
    for (const l of m.layers ?? []) out.set(l.digest, l.size);
  };
  await walk(ref);
  return out;
}

export function sumSizes(...maps: Map<string, number>[]): number {
  const all = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) all.set(k, v);
  let n = 0;
  for (const v of all.values()) n += v;
  return n;
}
