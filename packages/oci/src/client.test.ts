import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pushTestImage, pushTestIndex, startUpstreamRegistry, tempDir, waitFor } from '@uplink/testkit';
import { createRegistryClient } from './client.js';
import { createBandwidthLimiter } from './bandwidth.js';
import { MediaType, parseManifest } from './manifest.js';
import { isOciError } from './errors.js';

const run = promisify(execFile);

interface Served extends AsyncDisposable {
  url: string;
  requests: Array<{ method: string; url: string; range: string | undefined }>;
}

async function serve(handler: http.RequestListener, server: http.Server = http.createServer()): Promise<Served> {
  server.on('request', handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests: [],
    [Symbol.asyncDispose]: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A proxy in front of the upstream that misbehaves on purpose: `failFirst` requests answer 503,
 * and the first blob GET is cut after `cutBlobAfter` bytes.
 */
async function faultyProxy(
  upstream: string,
  o: { failFirst?: number; cutBlobAfter?: number; cutWhen?: () => Promise<boolean>; refuseHead?: boolean; redirectBlobsTo?: string },
): Promise<Served> {
  let failures = o.failFirst ?? 0;
  let cut = o.cutBlobAfter;
  const target = new URL(upstream);
  const requests: Served['requests'] = [];
  const s = await serve((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', range: req.headers.range });
    if (failures > 0) {
      failures--;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
      return;
    }
    if (o.refuseHead && req.method === 'HEAD') {
      res.writeHead(405);
      res.end();
      return;
    }
    if (o.redirectBlobsTo && /\/blobs\//.test(req.url ?? '')) {
      res.writeHead(307, { location: `${o.redirectBlobsTo}${req.url}` });
      res.end();
      return;
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      const isBlob = req.method === 'GET' && /\/blobs\//.test(req.url ?? '');
      if (isBlob && cut !== undefined) {
        const limit = cut;
        cut = undefined;
        let sent = 0;
        ur.on('data', (chunk: Buffer) => {
          if (sent >= limit) return;
          const part = chunk.subarray(0, limit - sent);
          sent += part.length;
          if (sent < limit) {
            res.write(part);
            return;
          }
          ur.destroy();
          // cut once the client has written what it received, as a WAN drop after a while would
          res.write(part, () => {
            void waitFor(o.cutWhen ?? (async () => true), { what: 'client to receive the first part' }).finally(() => res.destroy());
          });
        });
        return;
      }
      ur.pipe(res);
    });
    req.pipe(up);
  });
  s.requests = requests;
  return s;
}

function sha256(b: Uint8Array) {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

const fastRetry = { retries: 3, baseMs: 5, maxMs: 20 };

describe('registry client against docker-registry', () => {
  it('resolves tags and fetches every manifest kind with verified digests', async () => {
    await using reg = await startUpstreamRegistry();
    const ociImage = await pushTestImage({ registry: reg, repository: 'lib/oci', tag: 'v1' });
    const dockerImage = await pushTestImage({ registry: reg, repository: 'lib/docker', tag: 'v1', format: 'docker' });
    const ociIndex = await pushTestIndex({ registry: reg, repository: 'lib/multi', tag: 'oci' });
    const dockerList = await pushTestIndex({ registry: reg, repository: 'lib/multi', tag: 'docker', format: 'docker' });
    await using client = createRegistryClient({ url: reg.url });
    await client.ping();

    const cases = [
      ['lib/oci', ociImage.digest, MediaType.OCI_MANIFEST],
      ['lib/docker', dockerImage.digest, MediaType.DOCKER_MANIFEST],
      ['lib/multi', ociIndex.digest, MediaType.OCI_INDEX],
      ['lib/multi', dockerList.digest, MediaType.DOCKER_MANIFEST_LIST],
    ] as const;
    for (const [repo, digest, mediaType] of cases) {
      const tag = repo === 'lib/multi' ? (mediaType === MediaType.OCI_INDEX ? 'oci' : 'docker') : 'v1';
      const resolved = await client.resolve(repo, tag);
      expect(resolved).toMatchObject({ digest, mediaType });
      const m = await client.getManifest(repo, digest);
      expect(m.mediaType).toBe(mediaType);
      expect(sha256(m.bytes)).toBe(digest);
      expect(m.size).toBe(resolved.size);
    }
    const list = parseManifest((await client.getManifest('lib/multi', 'docker')).bytes);
    expect(list.manifests.map((c) => c.platform?.architecture)).toEqual(['amd64', 'arm64']);
    expect((await client.listTags('lib/multi')).sort()).toEqual(['docker', 'oci']);

    await expect(client.resolve('lib/oci', 'nope')).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN', retryable: false });
    await expect(client.getManifest('lib/oci', `sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(client.getManifest('Bad/Name', 'v1')).rejects.toMatchObject({ code: 'NAME_INVALID' });
  });

  it('detects a corrupted blob and a corrupted manifest, and leaves no file behind', async () => {
    await using reg = await startUpstreamRegistry();
    await using dir = await tempDir();
    const img = await pushTestImage({ registry: reg, repository: 'app', tag: 'v1', layerBytes: 4096 });
    const layer = img.layers[0]!;
    const path = reg.blobDataPath(layer);
    const good = await readFile(path);
    const bad = Buffer.from(good);
    bad[100] = bad[100]! ^ 0xff;
    await writeFile(path, bad);
    await using client = createRegistryClient({ url: reg.url, retry: fastRetry });
    const dest = join(dir.path, 'layer');
    const err = await client.fetchBlob('app', layer, dest, { expectedSize: good.length }).catch((e: unknown) => e);
    expect(isOciError(err, 'DIGEST_MISMATCH')).toBe(true);
    await expect(stat(dest)).rejects.toThrow();

    // the registry serves manifests by the digest recorded at push, whatever the bytes on disk now are
    const mpath = reg.blobDataPath(img.digest);
    const mbytes = await readFile(mpath);
    await writeFile(mpath, mbytes.toString('utf8').replace('tar+gzip', 'tar+gzIp'));
    await expect(client.getManifest('app', 'v1')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(client.getManifest('app', img.digest)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('resumes a blob from a partial file with Range, fetching only the rest', async () => {
    await using reg = await startUpstreamRegistry();
    await using dir = await tempDir();
    const img = await pushTestImage({ registry: reg, repository: 'app', tag: 'v1', layerBytes: 200_000 });
    const layer = img.layers[0]!;
    const whole = await readFile(reg.blobDataPath(layer));
    await using client = createRegistryClient({ url: reg.url });

    const dest = join(dir.path, 'partial');
    await writeFile(dest, whole.subarray(0, 150_000));
    const r = await client.fetchBlob('app', layer, dest, { expectedSize: whole.length });
    expect(r.resumedFrom).toBe(150_000);
    expect(r.bytesFetched).toBe(whole.length - 150_000);
    expect(sha256(await readFile(dest))).toBe(layer);

    // a partial file with wrong bytes fails verification, is discarded and fetched again whole
    const dest2 = join(dir.path, 'garbage');
    await writeFile(dest2, Buffer.alloc(1000, 7));
    const r2 = await createRegistryClient({ url: reg.url, retry: fastRetry }).fetchBlob('app', layer, dest2, { expectedSize: whole.length });
    expect(r2.bytesFetched).toBe(whole.length - 1000 + whole.length);
    expect(sha256(await readFile(dest2))).toBe(layer);

    // an already complete file costs no transfer
    const r3 = await client.fetchBlob('app', layer, dest, { expectedSize: whole.length });
    expect(r3.bytesFetched).toBe(0);
  });

  it('retries 5xx with backoff and resumes a transfer cut in the middle', async () => {
    await using reg = await startUpstreamRegistry();
    await using dir = await tempDir();
    const img = await pushTestImage({ registry: reg, repository: 'app', tag: 'v1', layerBytes: 300_000 });
    const layer = img.layers[0]!;
    const dest = join(dir.path, 'layer');
    const cutWhen = async () => (await stat(dest).catch(() => undefined))?.size === 100_000;
    await using proxy = await faultyProxy(reg.url, { failFirst: 2, cutBlobAfter: 100_000, cutWhen });
    const retries: number[] = [];
    await using client = createRegistryClient({ url: proxy.url, retry: { ...fastRetry, onRetry: (_e, attempt) => retries.push(attempt) } });
    const m = await client.getManifest('app', 'v1');
    expect(m.digest).toBe(img.digest);
    expect(retries).toEqual([1, 2]);

    const size = (await stat(reg.blobDataPath(layer))).size;
    const r = await client.fetchBlob('app', layer, dest, { expectedSize: size });
    expect(sha256(await readFile(dest))).toBe(layer);
    const blobGets = proxy.requests.filter((q) => q.method === 'GET' && q.url.includes('/blobs/'));
    expect(blobGets).toHaveLength(2);
    expect(blobGets[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(blobGets[1]!.range).toBe('bytes=100000-');
    expect(r.bytesFetched).toBe(size);
    expect(client.stats().retries).toBe(3);

    // never more than the configured attempts
    await using broken = await faultyProxy(reg.url, { failFirst: 100 });
    const c2 = createRegistryClient({ url: broken.url, retry: { retries: 2, baseMs: 1, maxMs: 2 } });
    await expect(c2.resolve('app', 'v1')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: true });
    expect(broken.requests).toHaveLength(3);
    await c2.close();
  });

  it('falls back to GET when HEAD is refused, and follows blob redirects to another host', async () => {
    await using reg = await startUpstreamRegistry();
    await using dir = await tempDir();
    const img = await pushTestImage({ registry: reg, repository: 'app', tag: 'v1' });
    await using storage = await faultyProxy(reg.url, {});
    await using front = await faultyProxy(reg.url, { refuseHead: true, redirectBlobsTo: storage.url });
    await using client = createRegistryClient({ url: front.url });
    expect(await client.resolve('app', 'v1')).toMatchObject({ digest: img.digest, mediaType: MediaType.OCI_MANIFEST });
    expect(front.requests.map((q) => q.method)).toEqual(['HEAD', 'GET']);
    const r = await client.fetchBlob('app', img.layers[0]!, join(dir.path, 'l'));
    expect(sha256(await readFile(join(dir.path, 'l')))).toBe(img.layers[0]);
    expect(r.bytesFetched).toBeGreaterThan(0);
    expect(storage.requests.map((q) => q.url)).toEqual([`/v2/app/blobs/${img.layers[0]}`]);
  });

  it('bearer token flow: challenge, token with basic credentials, cached per scope until expiry', async () => {
    await using reg = await startUpstreamRegistry({ auth: 'token', tokenTtlSeconds: 1 });
    await using dir = await tempDir();
    const a = await pushTestImage({ registry: reg, repository: 'team/a', tag: 'v1' });
    await pushTestImage({ registry: reg, repository: 'team/b', tag: 'v1' });
    const issuedBefore = reg.tokenService!.issued();
    await using client = createRegistryClient({ url: reg.url, credentials: reg.credentials! });
    await client.resolve('team/a', 'v1');
    await client.getManifest('team/a', a.digest);
    await client.fetchBlob('team/a', a.layers[0]!, join(dir.path, 'l'));
    expect(reg.tokenService!.issued() - issuedBefore).toBe(1);
    expect(reg.tokenService!.scopes().at(-1)).toBe('repository:team/a:pull');
    await client.getManifest('team/b', 'v1');
    expect(reg.tokenService!.issued() - issuedBefore).toBe(2);
    // a token lives 1 s here: once it is due, the next request gets a new one
    const before = reg.tokenService!.issued();
    await expect
      .poll(async () => {
        await client.getManifest('team/a', a.digest);
        return reg.tokenService!.issued();
      }, { timeout: 5_000, interval: 100 })
      .toBeGreaterThan(before);

    await using anon = createRegistryClient({ url: reg.url });
    await expect(anon.resolve('team/a', 'v1')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await using wrong = createRegistryClient({ url: reg.url, credentials: { username: 'uplink', password: 'nope' } });
    await expect(wrong.resolve('team/a', 'v1')).rejects.toMatchObject({ code: 'UNAUTHORIZED', retryable: false });
  });

  it('basic auth against htpasswd', async () => {
    await using reg = await startUpstreamRegistry({ auth: 'basic' });
    const img = await pushTestImage({ registry: reg, repository: 'private/app', tag: 'v1' });
    await using client = createRegistryClient({ url: reg.url, credentials: reg.credentials! });
    expect((await client.resolve('private/app', 'v1')).digest).toBe(img.digest);
    await using anon = createRegistryClient({ url: reg.url });
    await expect(anon.resolve('private/app', 'v1')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('one bandwidth budget is shared by concurrent transfers', async () => {
    await using reg = await startUpstreamRegistry();
    await using dir = await tempDir();
    const one = await pushTestImage({ registry: reg, repository: 'a', tag: 'v1', layerBytes: 96 * 1024 });
    const two = await pushTestImage({ registry: reg, repository: 'b', tag: 'v1', layerBytes: 96 * 1024 });
    const rate = 256 * 1024;
    await using client = createRegistryClient({ url: reg.url, bandwidthLimit: rate });
    const started = performance.now();
    const [r1, r2] = await Promise.all([
      client.fetchBlob('a', one.layers[0]!, join(dir.path, '1')),
      client.fetchBlob('b', two.layers[0]!, join(dir.path, '2')),
    ]);
    const elapsedMs = performance.now() - started;
    const total = r1.size + r2.size;
    const s = client.limiter.stats();
    expect(s.grantedBytes).toBe(total);
    expect(s.waits).toBeGreaterThan(0);
    // the bucket holds at most a burst of rate/4, so the two together cannot beat the rate: a
    // budget per transfer would have let them finish in about a third of this time
    // (0.8 covers timer granularity; it is a lower bound, not a race)
    const burst = rate / 4;
    expect(elapsedMs).toBeGreaterThanOrEqual(((total - burst) / rate) * 1000 * 0.8);
  });

  it('times out a silent registry and honours a custom CA', async () => {
    await using silent = await serve(() => undefined);
    await using c = createRegistryClient({ url: silent.url, timeoutMs: 200, retry: { retries: 0 } });
    await expect(c.ping()).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });

    await using dir = await tempDir();
    const key = join(dir.path, 'key.pem');
    const cert = join(dir.path, 'cert.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const tlsServer = https.createServer({ key: await readFile(key), cert: await readFile(cert) });
    await using tls = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    }, tlsServer);
    await using untrusted = createRegistryClient({ url: tls.url, retry: { retries: 0 } });
    await expect(untrusted.ping()).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryable: false });
    await using trusted = createRegistryClient({ url: tls.url, tls: { ca: await readFile(cert) } });
    await trusted.ping();
    await using insecure = createRegistryClient({ url: tls.url, tls: { insecure: true } });
    await insecure.ping();
  });
});

describe('bandwidth limiter accounting', () => {
  it('charges concurrent takers in arrival order against one bucket', async () => {
    // a frozen clock: no refill, so every wait is exactly the debt in front of the taker
    const limiter = createBandwidthLimiter({ bytesPerSecond: 10_000, burstBytes: 1_000, now: () => 0 });
    await limiter.take(1_000);
    expect(limiter.stats()).toEqual({ grantedBytes: 1_000, waits: 0, waitedMs: 0 });
    await Promise.all([limiter.take(500), limiter.take(500)]);
    const s = limiter.stats();
    expect(s.grantedBytes).toBe(2_000);
    expect(s.waits).toBe(2);
    expect(s.waitedMs).toBeCloseTo(50 + 100, 5);
    const unlimited = createBandwidthLimiter({ bytesPerSecond: 0 });
    await unlimited.take(1e9);
    expect(unlimited.stats().waits).toBe(0);
  });
});
