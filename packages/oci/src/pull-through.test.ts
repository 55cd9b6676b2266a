import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pushTestImage, startUpstreamRegistry, tempDir, type UpstreamRegistry } from '@uplink/testkit';
import { createRegistryClient, type RegistryClient } from './client.js';
import { openContentStore, type ContentStore } from './store.js';
import { createRegistryHandler, type RegistryHandler } from './registry-handler.js';
import { compileAllowList, createPullThrough, type PullThrough, type PullThroughOptions } from './pull-through.js';
import { replicate } from './replicate.js';

const run = promisify(execFile);

interface Satellite extends AsyncDisposable {
  store: ContentStore;
  handler: RegistryHandler;
  pull: PullThrough;
  host: string;
  client: RegistryClient;
}

/** store + handler with pull-through from `up`, on a free port */
async function startSatellite(up: UpstreamRegistry, o: Partial<PullThroughOptions> = {}): Promise<Satellite> {
  const dir = await tempDir('uplink-pull-');
  const store = await openContentStore({ root: join(dir.path, 'store') });
  // no retries: a miss with the upstream down answers at once
  const client = createRegistryClient({ url: up.url, retry: { retries: 0 }, timeoutMs: 3_000 });
  const pull = await createPullThrough({ store, upstream: (h) => (h === up.host ? client : undefined), defaultHost: up.host, allow: [`${up.host}/library/*`], ...o });
  const handler = createRegistryHandler({ store, pullThrough: pull });
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    store,
    handler,
    pull,
    host,
    client,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pull.flush();
      await client.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

async function skopeoCopy(from: string, toDir: string): Promise<string> {
  await mkdir(toDir, { recursive: true });
  const digestFile = join(toDir, 'digest');
  await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', '--digestfile', digestFile, `docker://${from}`, `oci:${join(toDir, 'layout')}:x`]);
  return (await readFile(digestFile, 'utf8')).trim();
}

async function get(host: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://${host}${path}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

describe('pull-through', () => {
  it('pulls an image the store lacks through from upstream, then serves it with the upstream stopped', async () => {
    await using up = await startUpstreamRegistry();
    const image = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v1', layers: 2, layerBytes: 64 * 1024 });
    await using sat = await startSatellite(up);
    await using out = await tempDir('uplink-pull-out-');

    expect(await skopeoCopy(`${sat.host}/library/app:v1`, join(out.path, 'a'))).toBe(image.digest);
    const s = sat.pull.stats();
    expect(s).toMatchObject({ manifestsFetched: 1, blobsFetched: 3, upstreamUnavailable: 0 });
    expect(s.bytesFetched).toBeGreaterThan(2 * 64 * 1024);
    expect(await sat.store.listTags('library/app')).toEqual(['v1']);
    expect(sat.pull.cachedManifests()).toEqual([{ repository: 'library/app', digest: image.digest, tags: ['v1'] }]);
    expect((await sat.store.verify()).corrupt).toEqual([]);

    await up.stop();
    expect(await skopeoCopy(`${sat.host}/library/app:v1`, join(out.path, 'b'))).toBe(image.digest);
    expect(sat.pull.stats().manifestsFetched).toBe(1);
  });

  it('follows a pulled-through tag that moved upstream after its TTL, and serves the cached one while the upstream is away', async () => {
    await using up = await startUpstreamRegistry();
    const first = await pushTestImage({ registry: up, repository: 'library/app', tag: 'latest' });
    // the clock tag ages are judged by: moved by the test, not by how busy the machine is
    let offset = 0;
    await using sat = await startSatellite(up, { tagTtlMs: 60_000, revalidateTimeoutMs: 2_000, clock: () => Date.now() + offset });
    const digestOf = async () => {
      const r = await fetch(`http://${sat.host}/v2/library/app/manifests/latest`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
      expect(r.status).toBe(200);
      return r.headers.get('docker-content-digest');
    };
    expect(await digestOf()).toBe(first.digest);

    const second = await pushTestImage({ registry: up, repository: 'library/app', tag: 'latest' });
    expect(second.digest).not.toBe(first.digest);
    // within the TTL the cached tag is served without asking
    const asked = sat.client.stats().requests;
    expect(await digestOf()).toBe(first.digest);
    expect(sat.client.stats().requests).toBe(asked);
    offset += 61_000;
    expect(await digestOf()).toBe(second.digest);
    expect(sat.pull.stats()).toMatchObject({ tagsMoved: 1, revalidationFailures: 0 });
    expect(await sat.store.listTags('library/app')).toEqual(['latest']);
    const cached = sat.pull.cachedManifests();
    expect(cached.find((m) => m.digest === second.digest)?.tags).toEqual(['latest']);
    expect(cached.find((m) => m.digest === first.digest)?.tags ?? []).toEqual([]);

    // a tag the satellite holds for its desired state is never revalidated
    await sat.store.putManifest('library/app', (await sat.store.getManifest('library/app', first.digest)).bytes, 'application/vnd.oci.image.manifest.v1+json', ['pinned']);
    offset += 61_000;
    const before = sat.client.stats().requests;
    const pinned = await fetch(`http://${sat.host}/v2/library/app/manifests/pinned`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(pinned.headers.get('docker-content-digest')).toBe(first.digest);
    expect(sat.client.stats().requests).toBe(before);

    // upstream away: the cached manifest is the answer, and the failure is counted
    await up.stop();
    expect(await digestOf()).toBe(second.digest);
    expect(sat.pull.stats().revalidationFailures).toBe(1);
  });

  it('answers not-found without asking upstream for a repository off the allow-list', async () => {
    await using up = await startUpstreamRegistry();
    await pushTestImage({ registry: up, repository: 'private/app', tag: 'v1' });
    await using sat = await startSatellite(up);
    const r = await get(sat.host, '/v2/private/app/manifests/v1');
    expect(r.status).toBe(404);
    expect(r.body.errors[0].code).toBe('NAME_UNKNOWN');
    expect(sat.client.stats().requests).toBe(0);
  });

  it('answers a clear not-found when the upstream is down', async () => {
    await using up = await startUpstreamRegistry();
    await using sat = await startSatellite(up);
    await up.stop();
    const m = await get(sat.host, '/v2/library/app/manifests/v1');
    expect(m.status).toBe(404);
    expect(m.body.errors[0].code).toBe('MANIFEST_UNKNOWN');
    expect(m.body.errors[0].message).toMatch(/not on this satellite and its upstream http:\/\/127\.0\.0\.1:\d+ is unreachable/);
    const b = await get(sat.host, `/v2/library/app/blobs/sha256:${'0'.repeat(64)}`);
    expect(b.status).toBe(404);
    expect(b.body.errors[0]).toMatchObject({ code: 'BLOB_UNKNOWN', message: expect.stringMatching(/unreachable/) });
    expect(sat.pull.stats().upstreamUnavailable).toBe(2);
  });

  it('evicts least recently used proxy-cached images for the quota, never pinned content', async () => {
    await using up = await startUpstreamRegistry();
    const kb = 1024;
    // desired content shares its first layer with the proxied images
    const desired = await pushTestImage({ registry: up, repository: 'library/desired', tag: 'v1', layers: 2, layerBytes: 100 * kb, sharedLayerFrom: 'base' });
    const a = await pushTestImage({ registry: up, repository: 'library/a', tag: 'v1', layers: 2, layerBytes: 100 * kb, sharedLayerFrom: 'base' });
    const b = await pushTestImage({ registry: up, repository: 'library/b', tag: 'v1', layers: 2, layerBytes: 100 * kb, sharedLayerFrom: 'base' });
    // room for the desired image and one proxied image's own layer, not two
    await using sat = await startSatellite(up, { quotaBytes: 360 * kb });
    await replicate({ client: sat.client, store: sat.store, artifact: { repository: 'library/desired', digest: desired.digest, tag: 'v1' } });
    await using out = await tempDir('uplink-pull-out-');

    await skopeoCopy(`${sat.host}/library/a:v1`, join(out.path, 'a'));
    await sat.pull.flush();
    expect(await sat.store.hasBlob(a.layers[1]!)).toBe(true);
    await skopeoCopy(`${sat.host}/library/b:v1`, join(out.path, 'b'));
    await sat.pull.flush();
    const evicted = await sat.pull.enforceQuota();
    expect(evicted.usageBytes).toBeLessThanOrEqual(360 * kb);

    // a (least recently used) is gone, b stays, the desired image is whole
    expect(await sat.store.hasBlob(a.layers[1]!)).toBe(false);
    await expect(sat.store.listTags('library/a')).rejects.toMatchObject({ code: 'NAME_UNKNOWN' });
    expect(await sat.store.hasBlob(b.layers[1]!)).toBe(true);
    expect(await sat.store.listTags('library/desired')).toEqual(['v1']);
    for (const d of [desired.config, ...desired.layers]) expect(await sat.store.hasBlob(d)).toBe(true);
    expect(desired.layers[0]).toBe(a.layers[0]);
    expect(sat.pull.stats().evicted).toBeGreaterThanOrEqual(1);

    // with the upstream down, the desired image still pulls from the satellite
    await up.stop();
    expect(await skopeoCopy(`${sat.host}/library/desired:v1`, join(out.path, 'd'))).toBe(desired.digest);
  });

  it('matches allow-list patterns per path segment', () => {
    const allow = compileAllowList(['docker.io/library/*', 'ghcr.io/acme/**', '127.0.0.1:5000/exact/repo']);
    expect(allow('docker.io/library/nginx')).toBe(true);
    expect(allow('docker.io/library/a/b')).toBe(false);
    expect(allow('ghcr.io/acme/x/y/z')).toBe(true);
    expect(allow('127.0.0.1:5000/exact/repo')).toBe(true);
    expect(allow('127.0.0.1:5000/exact/repo2')).toBe(false);
    expect(compileAllowList([])('docker.io/library/nginx')).toBe(false);
  });
});

describe('registry handler resolveRepository', () => {
  it('maps the requested name and ?ns= registry to the store repository', async () => {
    await using up = await startUpstreamRegistry();
    const image = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v1' });
    await using dir = await tempDir('uplink-resolve-');
    const store = await openContentStore({ root: dir.path });
    await using client = createRegistryClient({ url: up.url });
    await replicate({ client, store, artifact: { repository: 'library/app', digest: image.digest } });
    const m0 = await store.getManifest('library/app', image.digest);
    await store.putManifest('docker.io/library/app', m0.bytes, m0.mediaType, ['v1']);
    await store.deleteManifest('library/app', image.digest);
    const seen: Array<[string, string | undefined]> = [];
    const handler = createRegistryHandler({
      store,
      resolveRepository: (name, ns) => {
        seen.push([name, ns]);
        return ns === 'docker.io' ? `docker.io/${name}` : name;
      },
    });
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const m = await get(host, '/v2/library/app/manifests/v1?ns=docker.io');
      expect(m.status).toBe(200);
      expect((await get(host, `/v2/library/app/blobs/${image.layers[0]}?ns=docker.io`)).status).toBe(200);
      expect((await get(host, '/v2/library/app/tags/list?ns=docker.io')).body).toEqual({ name: 'library/app', tags: ['v1'] });
      expect((await get(host, '/v2/library/app/manifests/v1')).status).toBe(404);
      expect(seen).toContainEqual(['library/app', 'docker.io']);
      expect(seen).toContainEqual(['library/app', undefined]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
