// pnpm bench serve [--scale S] [--clients N]: N (32) concurrent clients each pull the manifest and every
// blob of a ~200 MiB image from the satellite's local registry (its own process, after syncing the image),
// and, in the same run, the same content from docker-registry. Reports MB/s of both, the ratio, request
// latency and the satellite's RSS under load.
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Agent, request } from 'undici';
import { contentDigest, hubStreams, subjects, type DesiredState } from '@uplink/contracts';
import { provisionStreams, publishMessage } from '@uplink/bus';
import { freePort, leafConnected, pushTestImage, startHub, startLeaf, startUpstreamRegistry, tempDir, waitFor } from '@uplink/testkit';
import { arg, cpuSeconds, percentile, startService, writeResult } from './support.js';

const MiB = 1024 * 1024;
const SCALE = Number(arg('scale', '1'));
const CLIENTS = Number(arg('clients', '32'));
const LAYERS = 8;
const LAYER = Math.max(64 * 1024, Math.round(25 * MiB * SCALE));
const SAT = 'bench-01';
const REPO = 'bench/serve';

await using upstream = await startUpstreamRegistry();
await using hub = await startHub();
await using leaf = await startLeaf({ name: SAT, hubLeafUrl: hub.leafUrl });
await using data = await tempDir('uplink-bench-serve-');
process.stderr.write(`building an image of ${LAYERS} x ${(LAYER / MiB).toFixed(1)} MiB...\n`);
const image = await pushTestImage({ registry: upstream, repository: REPO, tag: 'v1', layers: LAYERS, layerBytes: LAYER });
const manifestRes = await fetch(`${upstream.url}/v2/${REPO}/manifests/${image.digest}`, { headers: { accept: image.mediaType } });
const manifest = (await manifestRes.json()) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
const blobs = [manifest.config, ...manifest.layers];
const imageBytes = blobs.reduce((n, b) => n + b.size, 0);

const hubNc = await connect({ servers: hub.url });
await provisionStreams(await jetstreamManager(hubNc), hubStreams);
await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });
const statusPort = await freePort();
const registryPort = await freePort();
const satellite = startService('services/satellite/src/main.ts', {
  SATELLITE_NAME: SAT,
  NATS_URL: leaf.url,
  LEAF_MONITOR_URL: leaf.monitorUrl,
  DATA_DIR: data.path,
  STATUS_PORT: String(statusPort),
  REGISTRY_PORT: String(registryPort),
  DRIFT_CHECK_INTERVAL_S: '0',
  VERIFY_INTERVAL_S: '0',
});
const statusUrl = `http://127.0.0.1:${statusPort}`;
const satelliteUrl = `http://127.0.0.1:${registryPort}`;

/** CLIENTS clients, each pulling the manifest and then every blob in turn */
async function load(base: string, clients: number, sample?: () => void) {
  const agent = new Agent({ connections: clients, pipelining: 1 });
  const latencies: number[] = [];
  let bytes = 0;
  const timer = sample ? setInterval(sample, 100) : undefined;
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        const m = await request(`${base}/v2/${REPO}/manifests/v1`, { dispatcher: agent, headers: { accept: image.mediaType } });
        if (m.statusCode !== 200) throw new Error(`manifest: ${m.statusCode}`);
        bytes += (await m.body.arrayBuffer()).byteLength;
        for (const b of blobs) {
          const s = performance.now();
          const res = await request(`${base}/v2/${REPO}/blobs/${b.digest}`, { dispatcher: agent });
          if (res.statusCode !== 200) throw new Error(`blob ${b.digest}: ${res.statusCode}`);
          let n = 0;
          for await (const chunk of res.body) n += (chunk as Buffer).length;
          if (n !== b.size) throw new Error(`blob ${b.digest}: ${n} of ${b.size} bytes`);
          bytes += n;
          latencies.push(performance.now() - s);
        }
      }),
    );
  } finally {
    clearInterval(timer);
    await agent.close();
  }
  const seconds = (performance.now() - t0) / 1_000;
  latencies.sort((x, y) => x - y);
  return {
    seconds: Number(seconds.toFixed(2)),
    MBps: Number((bytes / 1e6 / seconds).toFixed(1)),
    blobP50Ms: Math.round(percentile(latencies, 50)),
    blobP99Ms: Math.round(percentile(latencies, 99)),
  };
}

try {
  await waitFor(async () => (await fetch(`${statusUrl}/healthz`).catch(() => null))?.ok === true, { what: 'satellite up', timeoutMs: 30_000 });
  const content = {
    satellite: SAT,
    registries: [{ name: 'up', url: upstream.url }],
    artifacts: [{ registry: 'up', repository: REPO, tag: 'v1', digest: image.digest }],
    config: { heartbeatSeconds: 30, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [] },
  };
  const doc: DesiredState = { ...content, revision: 1, digest: contentDigest(content), issuedAt: new Date().toISOString() };
  await publishMessage(hubNc, subjects.state(SAT), 'desired-state', doc, { msgId: `${SAT}:1` });
  await waitFor(
    async () => {
      const s = (await (await fetch(`${statusUrl}/status`)).json()) as { artifacts: { status: string }[] };
      return s.artifacts[0]?.status === 'ready';
    },
    { what: 'image synced', timeoutMs: 10 * 60_000, intervalMs: 100 },
  );

  // warm both (page cache, connections), then measure each in turn
  await load(satelliteUrl, 4);
  await load(upstream.url, 4);
  const rss: number[] = [];
  const pid = satellite.pid!;
  const rssIdle = rssBytes(pid);
  const cpu0 = cpuSeconds(pid);
  const sat = await load(satelliteUrl, CLIENTS, () => rss.push(rssBytes(pid)));
  const satCpu = cpuSeconds(pid) - cpu0;
  const reg = await load(upstream.url, CLIENTS);

  await writeResult('serve', {
    clients: CLIENTS,
    scale: SCALE,
    imageBytes,
    blobs: blobs.length,
    bytesPerSide: imageBytes * CLIENTS,
    satellite: { ...sat, cpuSeconds: Number(satCpu.toFixed(2)), rssIdleMiB: Math.round(rssIdle / MiB), rssMaxMiB: Math.round(Math.max(rssIdle, ...rss) / MiB) },
    dockerRegistry: reg,
    ratio: Number((sat.MBps / reg.MBps).toFixed(2)),
    target: { ratio: 1.0 },
  });
} finally {
  satellite.kill('SIGTERM');
  await satellite.stopped;
  await hubNc.close();
}

function rssBytes(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0;
  }
}
