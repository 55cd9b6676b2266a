// pnpm bench replicate [--scale S] [--images N]: a satellite (its own process, behind a leaf) syncs N
// images (~1 GiB of unique blobs at scale 1, every image sharing its base layer with a few others) from
// a local docker-registry into its store; in the same run `skopeo copy` moves the same set into a second
// docker-registry, as many images at once as the satellite syncs. Reports MB/s of both and the ratio.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { contentDigest, hubStreams, subjects, type DesiredState } from '@uplink/contracts';
import { provisionStreams, publishMessage } from '@uplink/bus';
import { freePort, leafConnected, pushTestImage, startHub, startLeaf, startUpstreamRegistry, tempDir, waitFor, type TestImage } from '@uplink/testkit';
import { arg, cpuSeconds, startService, writeResult } from './support.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SCALE = Number(arg('scale', '1'));
const IMAGES = Number(arg('images', '20'));
const BASES = 4;
const LAYER = Math.max(64 * 1024, Math.round(24 * MiB * SCALE));
const CONCURRENCY = 4;
const SAT = 'bench-01';

await using upstream = await startUpstreamRegistry();
await using second = await startUpstreamRegistry();
await using hub = await startHub();
await using leaf = await startLeaf({ name: SAT, hubLeafUrl: hub.leafUrl });
await using data = await tempDir('uplink-bench-replicate-');

// the image set (setup, not timed): 3 layers each, the first shared with the other images of its base
process.stderr.write(`building ${IMAGES} images of 3 x ${(LAYER / MiB).toFixed(1)} MiB...\n`);
const images: { repository: string; image: TestImage }[] = [];
for (let i = 0; i < IMAGES; i += 2) {
  const batch = await Promise.all(
    [i, i + 1]
      .filter((n) => n < IMAGES)
      .map(async (n) => {
        const repository = `bench/app-${String(n).padStart(2, '0')}`;
        const image = await pushTestImage({ registry: upstream, repository, tag: 'v1', layers: 3, layerBytes: LAYER, sharedLayerFrom: `base-${n % BASES}` });
        return { repository, image };
      }),
  );
  images.push(...batch);
}
const unique = new Set(images.flatMap((x) => x.image.layers));
const datasetBytes = await blobBytes(upstream.url, images);

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
  ARTIFACT_CONCURRENCY: String(CONCURRENCY),
  DRIFT_CHECK_INTERVAL_S: '0',
  VERIFY_INTERVAL_S: '0',
});
const statusUrl = `http://127.0.0.1:${statusPort}`;

try {
  await waitFor(async () => (await fetch(`${statusUrl}/healthz`).catch(() => null))?.ok === true, { what: 'satellite up', timeoutMs: 30_000 });
  const content = {
    satellite: SAT,
    registries: [{ name: 'up', url: upstream.url }],
    artifacts: images.map((x) => ({ registry: 'up', repository: x.repository, tag: 'v1', digest: x.image.digest })),
    config: { heartbeatSeconds: 30, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [] },
  };
  const doc: DesiredState = { ...content, revision: 1, digest: contentDigest(content), issuedAt: new Date().toISOString() };

  // 1. the satellite's replication path: from the state's publication to every artifact ready
  const cpu0 = cpuSeconds(satellite.pid!);
  const t0 = performance.now();
  await publishMessage(hubNc, subjects.state(SAT), 'desired-state', doc, { msgId: `${SAT}:1` });
  let rssMax = 0;
  await waitFor(
    async () => {
      rssMax = Math.max(rssMax, rssBytes(satellite.pid!));
      const s = (await (await fetch(`${statusUrl}/status`)).json()) as { artifacts: { status: string; error?: string }[] };
      const failed = s.artifacts.find((a) => a.status === 'failed');
      if (failed) throw new Error(`artifact failed: ${failed.error}`);
      return s.artifacts.length === IMAGES && s.artifacts.every((a) => a.status === 'ready');
    },
    { what: 'all artifacts ready', timeoutMs: 30 * 60_000, intervalMs: 50 },
  );
  const satSeconds = (performance.now() - t0) / 1_000;
  const satCpu = cpuSeconds(satellite.pid!) - cpu0;
  const fetched = await metric(`${statusUrl}/metrics`, 'uplink_satellite_sync_bytes_total');

  // 2. skopeo copy of the same set into a second registry, CONCURRENCY images at once
  const t1 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < images.length) {
        const { repository } = images[next++]!;
        await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${upstream.host}/${repository}:v1`, `docker://${second.host}/${repository}:v1`]);
      }
    }),
  );
  const skopeoSeconds = (performance.now() - t1) / 1_000;

  const mbps = (bytes: number, s: number) => Number((bytes / 1e6 / s).toFixed(1));
  const satMBps = mbps(datasetBytes, satSeconds);
  const skopeoMBps = mbps(datasetBytes, skopeoSeconds);
  await writeResult('replicate', {
    images: IMAGES,
    scale: SCALE,
    layerBytes: LAYER,
    uniqueLayers: unique.size,
    datasetBytes,
    satellite: { seconds: Number(satSeconds.toFixed(2)), MBps: satMBps, bytesFetched: fetched, cpuSeconds: Number(satCpu.toFixed(2)), rssMaxMiB: Math.round(rssMax / MiB) },
    skopeo: { seconds: Number(skopeoSeconds.toFixed(2)), MBps: skopeoMBps, parallel: CONCURRENCY },
    ratio: Number((satMBps / skopeoMBps).toFixed(2)),
    target: { ratio: 1.0 },
  });
} finally {
  satellite.kill('SIGTERM');
  await satellite.stopped;
  await hubNc.close();
}

/** bytes of every distinct config and layer blob of the set (what a full sync must move) */
async function blobBytes(url: string, set: { repository: string; image: TestImage }[]): Promise<number> {
  const sizes = new Map<string, number>();
  for (const { repository, image } of set) {
    const res = await fetch(`${url}/v2/${repository}/manifests/${image.digest}`, { headers: { accept: image.mediaType } });
    const m = (await res.json()) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
    for (const b of [m.config, ...m.layers]) sizes.set(b.digest, b.size);
  }
  let n = 0;
  for (const v of sizes.values()) n += v;
  return n;
}

function rssBytes(pid: number): number {
  try {
    // statm: pages; the second field is resident
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0;
  }
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ').pop()) : NaN;
}
