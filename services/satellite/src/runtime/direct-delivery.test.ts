import { execFile } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createRegistryClient, openContentStore, replicate } from '@uplink/oci';
import { containerdUnavailable, pushTestImage, startContainerd, startUpstreamRegistry, tempDir } from '@uplink/testkit';
import { DELIVERY_RECORD, K3S_IMAGES_DIR, deliverImages } from './direct-delivery.js';

const run = promisify(execFile);
const unavailable = await containerdUnavailable();

describe('direct delivery', () => {
  it('writes desired images from the store as OCI archives, replaces and removes them as the state changes', async () => {
    await using up = await startUpstreamRegistry();
    const v1 = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v1', layers: 2, layerBytes: 32 * 1024 });
    const v2 = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v2', layers: 1, layerBytes: 16 * 1024 });
    await using data = await tempDir('uplink-delivery-');
    const store = await openContentStore({ root: join(data.path, 'store') });
    {
      await using client = createRegistryClient({ url: up.url });
      for (const [img, tag] of [[v1, 'v1'], [v2, 'v2']] as const) await replicate({ client, store, artifact: { repository: 'library/app', digest: img.digest, tag } });
    }
    // from here on nothing may come from upstream
    await up.stop();
    const dir = join(data.path, 'root', K3S_IMAGES_DIR);
    const name1 = `${up.host}/library/app:v1`;

    const first = await deliverImages({ store, dir, images: [{ name: name1, repository: 'library/app', digest: v1.digest }] });
    expect(first.failed).toEqual([]);
    expect(first.written).toHaveLength(1);
    const tarball = join(dir, first.written[0]!.file);
    const { stdout } = await run('skopeo', ['inspect', `oci-archive:${tarball}`]);
    expect(JSON.parse(stdout).Digest).toBe(v1.digest);
    expect(JSON.parse(await readFile(join(dir, DELIVERY_RECORD), 'utf8')).images).toEqual([expect.objectContaining({ name: name1, digest: v1.digest, file: first.written[0]!.file })]);

    // the same state again: nothing is rewritten
    const mtime = (await stat(tarball)).mtimeMs;
    const again = await deliverImages({ store, dir, images: [{ name: name1, repository: 'library/app', digest: v1.digest }] });
    expect(again).toMatchObject({ written: [], removed: [], failed: [] });
    expect((await stat(tarball)).mtimeMs).toBe(mtime);

    // v1 no longer desired, v2 is: the v1 tarball goes, v2 comes, a foreign file stays
    await writeFile(join(dir, 'someone-else.tar'), 'not ours');
    const next = await deliverImages({ store, dir, images: [{ name: `${up.host}/library/app:v2`, repository: 'library/app', digest: v2.digest }] });
    expect(next.removed).toEqual([first.written[0]!.file]);
    expect(next.written.map((w) => w.digest)).toEqual([v2.digest]);
    expect((await readdir(dir)).sort()).toEqual([next.written[0]!.file, 'someone-else.tar', DELIVERY_RECORD].sort());
  });

  it.skipIf(unavailable !== undefined)(`ctr imports a delivered tarball into containerd${unavailable ? ` (skipped: ${unavailable})` : ''}`, async () => {
    await using up = await startUpstreamRegistry();
    const img = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v1', layers: 2, layerBytes: 16 * 1024 });
    await using data = await tempDir('uplink-delivery-');
    const store = await openContentStore({ root: join(data.path, 'store') });
    {
      await using client = createRegistryClient({ url: up.url });
      await replicate({ client, store, artifact: { repository: 'library/app', digest: img.digest, tag: 'v1' } });
    }
    await up.stop();
    const name = `${up.host}/library/app:v1`;
    const r = await deliverImages({ store, dir: join(data.path, 'images'), images: [{ name, repository: 'library/app', digest: img.digest }] });
    await using certs = await tempDir('uplink-certs-');
    await using containerd = await startContainerd({ configPath: certs.path });
    await containerd.ctr(['images', 'import', '--snapshotter', 'native', join(data.path, 'images', r.written[0]!.file)]);
    expect((await containerd.ctr(['images', 'ls', '-q'])).stdout.split('\n')).toContain(name);
    // CRI (what kubelet/K3s use) sees it under its upstream name; `ctr import` adds no digest ref, so
    // repoDigests stays empty (a CRI pull would add `<name>@<digest>`)
    expect((await containerd.cri.imageStatus(name))?.repoTags).toContain(name);
  });

  it('reports an image the store does not hold and writes nothing for it', async () => {
    await using data = await tempDir('uplink-delivery-');
    const store = await openContentStore({ root: join(data.path, 'store') });
    const dir = join(data.path, 'images');
    const r = await deliverImages({ store, dir, images: [{ name: 'docker.io/library/nginx:alpine', repository: 'library/nginx', digest: `sha256:${'a'.repeat(64)}` }] });
    expect(r.failed).toEqual([expect.objectContaining({ code: 'DELIVERY_CONTENT_MISSING', message: expect.stringMatching(/not in the local store/) })]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tar'))).toEqual([]);
  });
});
