import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pushTestImage, pushTestIndex, startUpstreamRegistry, tempDir } from '@uplink/testkit';
import { createRegistryClient } from './client.js';
import { openContentStore } from './store.js';
import { replicate } from './replicate.js';
import { parseManifest } from './manifest.js';

const run = promisify(execFile);

describe('replicate', () => {
  it('copies an image once, shares layers between images, and the store reads back with skopeo', async () => {
    await using reg = await startUpstreamRegistry();
    await using dir = await tempDir();
    const a = await pushTestImage({ registry: reg, repository: 'team/a', tag: 'v1', layers: 3, sharedLayerFrom: 'base', layerBytes: 8192 });
    const b = await pushTestImage({ registry: reg, repository: 'team/b', tag: 'v1', layers: 2, sharedLayerFrom: 'base', layerBytes: 8192 });
    const store = await openContentStore({ root: dir.path });
    await using client = createRegistryClient({ url: reg.url });

    const ra = await replicate({ client, store, artifact: { repository: 'team/a', digest: a.digest, tag: 'v1' } });
    expect(ra).toMatchObject({ blobsFetched: 4, blobsSkipped: 0, manifests: 1 });
    expect(ra.bytesFetched).toBeGreaterThan(3 * 8192);
    const rb = await replicate({ client, store, artifact: { repository: 'team/b', digest: b.digest, tag: 'v1' } });
    expect(rb).toMatchObject({ blobsFetched: 2, blobsSkipped: 1 });
    const again = await replicate({ client, store, artifact: { repository: 'team/a', digest: a.digest, tag: 'v1' } });
    expect(again).toMatchObject({ blobsFetched: 0, blobsSkipped: 4, bytesFetched: 0 });
    expect((await store.getManifest('team/a', 'v1')).digest).toBe(a.digest);
    expect((await store.gc({ graceMs: 0 })).deleted).toEqual([]);

    const { stdout } = await run('skopeo', ['inspect', '--raw', `oci:${dir.path}:team/a:v1`]);
    expect(parseManifest(Buffer.from(stdout)).layers.map((l) => l.digest)).toEqual(a.layers);
    await using out = await tempDir();
    await run('skopeo', ['--insecure-policy', 'copy', '--quiet', `oci:${dir.path}:team/b:v1`, `dir:${join(out.path, 'b')}`]);
    expect(JSON.parse(await readFile(join(out.path, 'b', 'manifest.json'), 'utf8'))).toMatchObject({ layers: b.layers.map((digest) => ({ digest })) });
  });

  it('keeps an index whole but stores only the wanted platforms', async () => {
    await using reg = await startUpstreamRegistry();
    await using dir = await tempDir();
    const idx = await pushTestIndex({ registry: reg, repository: 'multi', tag: 'v1', platforms: ['linux/amd64', 'linux/arm64'] });
    const [amd, arm] = idx.children as [(typeof idx.children)[0], (typeof idx.children)[0]];
    const store = await openContentStore({ root: dir.path });
    await using client = createRegistryClient({ url: reg.url });
    const r = await replicate({ client, store, artifact: { repository: 'multi', digest: idx.digest, tag: 'v1', platforms: ['linux/arm64'] } });
    expect(r).toMatchObject({ manifests: 2, blobsFetched: arm.layers.length + 1 });
    const stored = await store.getManifest('multi', 'v1');
    expect(stored.digest).toBe(idx.digest);
    expect((await store.getManifest('multi', arm.digest)).digest).toBe(arm.digest);
    await expect(store.getManifest('multi', amd.digest)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    for (const l of amd.layers) expect(await store.hasBlob(l)).toBe(false);
    // the child survives GC through its index
    expect((await store.gc({ graceMs: 0 })).deleted).toEqual([]);

    await expect(replicate({ client, store, artifact: { repository: 'multi', digest: idx.digest, platforms: ['linux/s390x'] } })).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
    });

    // without platforms, every child
    const all = await replicate({ client, store, artifact: { repository: 'multi', digest: idx.digest } });
    expect(all).toMatchObject({ manifests: 3, blobsFetched: amd.layers.length + 1, blobsSkipped: arm.layers.length + 1 });
  });

  it('fetches a blob wanted by concurrent syncs once, and resumes a partial blob', async () => {
    await using reg = await startUpstreamRegistry();
    await using dir = await tempDir();
    const a = await pushTestImage({ registry: reg, repository: 'a', tag: 'v1', layers: 2, sharedLayerFrom: 'shared', layerBytes: 50_000 });
    const b = await pushTestImage({ registry: reg, repository: 'b', tag: 'v1', layers: 2, sharedLayerFrom: 'shared', layerBytes: 50_000 });
    const store = await openContentStore({ root: dir.path });
    await using client = createRegistryClient({ url: reg.url });

    // half of a's second layer is already on disk from an interrupted sync
    const own = a.layers[1]!;
    const whole = await readFile(reg.blobDataPath(own));
    await writeFile(store.partialPath(own), whole.subarray(0, 30_000));

    const [ra, rb] = await Promise.all([
      replicate({ client, store, artifact: { repository: 'a', digest: a.digest, tag: 'v1' }, concurrency: 2 }),
      replicate({ client, store, artifact: { repository: 'b', digest: b.digest, tag: 'v1' }, concurrency: 2 }),
    ]);
    // 5 distinct blobs: shared layer, two own layers, two configs
    expect(ra.blobsFetched + rb.blobsFetched).toBe(5);
    expect(ra.blobsSkipped + rb.blobsSkipped).toBe(1);
    const sizes = await Promise.all([...new Set([...a.layers, a.config, ...b.layers, b.config])].map((d) => store.blobSize(d)));
    const total = sizes.reduce<number>((s, n) => s + (n ?? 0), 0);
    expect(ra.bytesFetched + rb.bytesFetched).toBe(total - 30_000);
    expect(client.stats().bytesFetched).toBe(total - 30_000);
    expect(await store.verify()).toMatchObject({ corrupt: [] });
  });
});
