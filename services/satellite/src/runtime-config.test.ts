import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentDigest, HeartbeatRuntime, type DesiredState } from '@uplink/contracts';
import { createRegistryClient, openContentStore, replicate } from '@uplink/oci';
import { createLogger, renderMetrics } from '@uplink/observability';
import { pushTestImage, startUpstreamRegistry, tempDir } from '@uplink/testkit';
import { createSatelliteMetrics } from './metrics.js';
import { createRuntimeIntegration, mirrorUrlOf } from './runtime-config.js';

const logger = createLogger({ service: 'test', level: 'silent' });

function state(revision: number, registryUrl: string, artifacts: DesiredState['artifacts'], config: Partial<DesiredState['config']> = {}): DesiredState {
  const content = {
    satellite: 'edge-01',
    registries: [{ name: 'lab', url: registryUrl }],
    artifacts,
    config: { heartbeatSeconds: 30, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [], ...config },
  };
  return { ...content, revision, digest: contentDigest(content), issuedAt: new Date().toISOString() };
}

async function metricValue(registry: ReturnType<typeof createSatelliteMetrics>['registry'], line: string): Promise<number> {
  const body = (await renderMetrics(registry)).body;
  const l = body.split('\n').find((x) => x.startsWith(line + ' '));
  return l ? Number(l.split(' ').pop()) : NaN;
}

describe('mirrorUrlOf', () => {
  it('reaches a wildcard listen address on loopback and brackets IPv6', () => {
    expect(mirrorUrlOf('0.0.0.0', 5050)).toBe('http://127.0.0.1:5050');
    expect(mirrorUrlOf('::', 5050)).toBe('http://127.0.0.1:5050');
    expect(mirrorUrlOf('127.0.0.1', 6000)).toBe('http://127.0.0.1:6000');
    expect(mirrorUrlOf('::1', 5050)).toBe('http://[::1]:5050');
    expect(mirrorUrlOf('[::1]', 5050)).toBe('http://[::1]:5050');
    expect(mirrorUrlOf('10.0.0.5', 5050)).toBe('http://10.0.0.5:5050');
  });
});

describe('runtime integration', () => {
  it('reports runtimes, files, delivery and errors in status, heartbeat and metrics; delivers once the content is there', async () => {
    await using up = await startUpstreamRegistry();
    const img = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v1', layers: 1, layerBytes: 8 * 1024 });
    await using data = await tempDir('uplink-rtcfg-');
    const root = join(data.path, 'root');
    const store = await openContentStore({ root: join(data.path, 'store') });
    const metrics = createSatelliteMetrics();
    let current: DesiredState | null = state(1, up.url, [{ registry: 'lab', repository: 'library/app', tag: 'v1', digest: img.digest }], { mirrors: ['containerd'], directDelivery: true });
    const rt = createRuntimeIntegration({ root, mirrorUrl: 'http://127.0.0.1:5050', store, state: () => current, metrics, logger });
    expect(rt.status()).toMatchObject({ at: null, runtimes: [], errors: [], errorsTotal: 0, lastError: null });
    expect(rt.heartbeat()).toBeUndefined();

    // the content is not in the store yet: mirrors are written, the image waits for delivery
    await rt.apply('state');
    const hosts = join(root, 'etc/containerd/certs.d', up.host, 'hosts.toml');
    let s = rt.status();
    expect(s).toMatchObject({ reason: 'state', runtimes: [{ runtime: 'containerd', registries: [up.host] }], errors: [], errorsTotal: 0 });
    expect(s.mirrors?.files).toEqual([join(root, 'etc/containerd/certs.d', up.host, 'hosts.toml'), join(root, 'etc/containerd/config.toml')].sort());
    expect(s.delivery).toMatchObject({ enabled: true, images: [], waiting: [`${up.host}/library/app:v1`], failed: [] });
    expect(await readFile(hosts, 'utf8')).toContain('http://127.0.0.1:5050');
    const hb = rt.heartbeat();
    expect(HeartbeatRuntime.parse(hb)).toEqual({ at: s.at, runtimes: ['containerd'], delivered: 0, errors: 0, lastError: null });
    expect(await metricValue(metrics.registry, 'uplink_satellite_runtime_configured{runtime="containerd"}')).toBe(1);
    expect(await metricValue(metrics.registry, 'uplink_satellite_runtime_configured{runtime="docker"}')).toBe(0);
    expect(await metricValue(metrics.registry, 'uplink_satellite_runtime_config_last_apply_timestamp_seconds')).toBe(Date.parse(s.at!) / 1_000);

    // the content arrives: the waiting image is delivered from the store (upstream already gone)
    {
      await using client = createRegistryClient({ url: up.url });
      await replicate({ client, store, artifact: { repository: 'library/app', digest: img.digest, tag: 'v1' } });
    }
    await up.stop();
    rt.contentChanged();
    await rt.apply('content');
    s = rt.status();
    expect(s.delivery?.images.map((i) => i.name)).toEqual([`${up.host}/library/app:v1`]);
    expect(s.delivery?.waiting).toEqual([]);
    const dir = join(root, 'var/lib/rancher/k3s/agent/images');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tar'))).toEqual([s.delivery!.images[0]!.file]);
    expect(rt.heartbeat()).toMatchObject({ delivered: 1, errors: 0 });
    expect(await metricValue(metrics.registry, 'uplink_satellite_direct_delivery_images')).toBe(1);

    // a file that cannot be written: reported with its code, counted, kept as the last error
    await rm(hosts);
    await mkdir(join(hosts, 'in-the-way'), { recursive: true });
    await rt.apply('manual');
    s = rt.status();
    expect(s.errors).toEqual([expect.objectContaining({ code: 'RUNTIME_CONFIG_WRITE_FAILED', path: hosts })]);
    expect(s.runtimes).toEqual([]);
    expect(s.errorsTotal).toBe(1);
    expect(rt.heartbeat()).toMatchObject({ runtimes: [], errors: 1, lastError: { code: 'RUNTIME_CONFIG_WRITE_FAILED' } });
    expect(await metricValue(metrics.registry, 'uplink_satellite_runtime_config_errors_total{code="RUNTIME_CONFIG_WRITE_FAILED"}')).toBe(1);
    expect(await metricValue(metrics.registry, 'uplink_satellite_runtime_configured{runtime="containerd"}')).toBe(0);

    // fixed: healthy again, the last error is still told; direct delivery off removes our tarball
    await rm(hosts, { recursive: true });
    current = state(2, up.url, current.artifacts, { mirrors: ['containerd'], directDelivery: false });
    await rt.apply('state');
    s = rt.status();
    expect(s.errors).toEqual([]);
    expect(s.runtimes).toEqual([{ runtime: 'containerd', registries: [up.host] }]);
    expect(s.delivery).toMatchObject({ enabled: false, images: [], removed: [expect.stringMatching(/\.tar$/)] });
    expect(rt.heartbeat()).toMatchObject({ runtimes: ['containerd'], delivered: 0, errors: 0, lastError: { code: 'RUNTIME_CONFIG_WRITE_FAILED' } });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tar'))).toEqual([]);
    await rt.close();
  });

  it('runs one apply at a time and merges requests made meanwhile', async () => {
    await using data = await tempDir('uplink-rtcfg-');
    const store = await openContentStore({ root: join(data.path, 'store') });
    const metrics = createSatelliteMetrics();
    let reads = 0;
    const during: Promise<unknown>[] = [];
    const rt = createRuntimeIntegration({
      root: join(data.path, 'root'),
      mirrors: 'containerd:docker.io',
      mirrorUrl: 'http://127.0.0.1:5050',
      store,
      state: () => {
        // requests made while the first apply runs
        if (++reads === 1) during.push(rt.apply('state'), rt.apply('content'));
        return null;
      },
      metrics,
      logger,
    });
    // requests before an apply starts are one apply
    const [a, b] = [rt.apply('start'), rt.apply('state')];
    expect(a).toBe(b);
    await a;
    await Promise.all(during);
    // those made during it: one more apply after it
    expect(reads).toBe(2);
    expect(during[0]).toBe(during[1]);
    expect(rt.status()).toMatchObject({ mirrorsSpec: 'containerd:docker.io', runtimes: [{ runtime: 'containerd', registries: ['docker.io'] }], delivery: null });
    expect(await metricValue(metrics.registry, 'uplink_satellite_runtime_config_applies_total{outcome="ok"}')).toBe(2);
    await rt.close();
  });
});
