import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createMetrics, renderMetrics } from '@uplink/observability';
import { pushTestImage, pushTestIndex, startUpstreamRegistry, tempDir, type TempDir, type TestImage, type TestIndex } from '@uplink/testkit';
import { createRegistryClient } from './client.js';
import { openContentStore, type ContentStore } from './store.js';
import { createRegistryHandler, type RegistryHandler } from './registry-handler.js';
import { replicate } from './replicate.js';
import { sha256Digest } from './digest.js';
import { MediaType } from './manifest.js';

const run = promisify(execFile);

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: () => any;
}

/** A request with the path sent exactly as given (fetch would normalise `..`). */
function raw(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('registry handler', () => {
  let dir: TempDir;
  let store: ContentStore;
  let server: http.Server;
  let handler: RegistryHandler;
  let port: number;
  let image: TestImage;
  let index: TestIndex;
  const metrics = createMetrics({ prefix: 'test_', defaults: false });

  beforeAll(async () => {
    await using reg = await startUpstreamRegistry();
    dir = await tempDir();
    store = await openContentStore({ root: dir.path });
    image = await pushTestImage({ registry: reg, repository: 'team/app', tag: 'v1', layers: 2, layerBytes: 4096 });
    index = await pushTestIndex({ registry: reg, repository: 'a/b/multi', tag: 'v1' });
    await using client = createRegistryClient({ url: reg.url });
    await replicate({ client, store, artifact: { repository: 'team/app', digest: image.digest, tag: 'v1' } });
    await replicate({ client, store, artifact: { repository: 'a/b/multi', digest: index.digest, tag: 'v1' } });
    handler = createRegistryHandler({ store, metrics, metricsPrefix: 'test_registry_' });
    server = http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await dir?.[Symbol.asyncDispose]();
  });

  it('is pullable by skopeo: a single image, a multi-platform index with --all, and inspect', async () => {
    await using out = await tempDir();
    const host = `127.0.0.1:${port}`;
    await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${host}/team/app:v1`, `oci:${out.path}/single:v1`]);
    const single = JSON.parse(await readFile(join(out.path, 'single', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(single.manifests[0]!.digest).toBe(image.digest);

    await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--all', '--src-tls-verify=false', `docker://${host}/a/b/multi:v1`, `oci:${out.path}/multi:v1`]);
    const multi = JSON.parse(await readFile(join(out.path, 'multi', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(multi.manifests[0]!.digest).toBe(index.digest);
    for (const c of index.children) for (const l of c.layers) await readFile(join(out.path, 'multi', 'blobs', 'sha256', l.slice(7)));

    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${host}/team/app:v1`]);
    const info = JSON.parse(stdout) as { Digest: string; Layers: string[] };
    expect(info.Digest).toBe(image.digest);
    expect(info.Layers).toEqual(image.layers);
    const tags = await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${host}/team/app`]);
    expect(JSON.parse(tags.stdout)).toMatchObject({ Tags: ['v1'] });
  });

  it('answers /v2/, manifests by tag and digest, HEAD, and ignores ?ns=', async () => {
    const ping = await raw(port, 'GET', '/v2/');
    expect(ping.status).toBe(200);
    expect(ping.json()).toEqual({});
    expect(ping.headers['docker-distribution-api-version']).toBe('registry/2.0');

    const stored = await store.getManifest('team/app', 'v1');
    for (const ref of ['v1', image.digest]) {
      const get = await raw(port, 'GET', `/v2/team/app/manifests/${ref}?ns=docker.io`);
      expect(get.status).toBe(200);
      expect(get.headers['content-type']).toBe(MediaType.OCI_MANIFEST);
      expect(get.headers['docker-content-digest']).toBe(image.digest);
      expect(Number(get.headers['content-length'])).toBe(stored.size);
      expect(get.body.equals(stored.bytes)).toBe(true);
      const head = await raw(port, 'HEAD', `/v2/team/app/manifests/${ref}`);
      expect(head.status).toBe(200);
      expect(head.body.length).toBe(0);
      expect(head.headers['docker-content-digest']).toBe(image.digest);
      expect(Number(head.headers['content-length'])).toBe(stored.size);
    }
    const idx = await raw(port, 'GET', '/v2/a/b/multi/manifests/v1');
    expect(idx.headers['content-type']).toBe(MediaType.OCI_INDEX);
  });

  it('serves blobs whole and by Range, and refuses bad ranges with 416', async () => {
    const layer = image.layers[0]!;
    const size = (await store.blobSize(layer))!;
    const whole = await raw(port, 'GET', `/v2/team/app/blobs/${layer}`);
    expect(whole.status).toBe(200);
    expect(sha256Digest(whole.body)).toBe(layer);
    expect(whole.headers['docker-content-digest']).toBe(layer);
    const head = await raw(port, 'HEAD', `/v2/team/app/blobs/${layer}`);
    expect(head.headers['content-length']).toBe(String(size));

    const r1 = await raw(port, 'GET', `/v2/team/app/blobs/${layer}`, { range: 'bytes=10-19' });
    expect(r1.status).toBe(206);
    expect(r1.headers['content-range']).toBe(`bytes 10-19/${size}`);
    expect(r1.body.equals(whole.body.subarray(10, 20))).toBe(true);
    const r2 = await raw(port, 'GET', `/v2/team/app/blobs/${layer}`, { range: `bytes=${size - 5}-` });
    expect(r2.body.equals(whole.body.subarray(size - 5))).toBe(true);
    const r3 = await raw(port, 'GET', `/v2/team/app/blobs/${layer}`, { range: 'bytes=-7' });
    expect(r3.body.equals(whole.body.subarray(size - 7))).toBe(true);
    for (const bad of [`bytes=${size}-`, 'bytes=20-10', 'bytes=abc', 'items=0-1']) {
      const r = await raw(port, 'GET', `/v2/team/app/blobs/${layer}`, { range: bad });
      expect(r.status).toBe(416);
      expect(r.headers['content-range']).toBe(`bytes */${size}`);
      expect(r.json().errors[0].code).toBe('RANGE_INVALID');
    }
  });

  it('paginates tags and the catalog with n, last and Link', async () => {
    const m = await store.getManifest('team/app', 'v1');
    await store.putManifest('team/app', m.bytes, m.mediaType, ['v2', 'v3', 'v4', 'v5']);
    const p1 = await raw(port, 'GET', '/v2/team/app/tags/list?n=2');
    expect(p1.json()).toEqual({ name: 'team/app', tags: ['v1', 'v2'] });
    expect(p1.headers.link).toBe('</v2/team/app/tags/list?n=2&last=v2>; rel="next"');
    const p2 = await raw(port, 'GET', '/v2/team/app/tags/list?n=2&last=v2');
    expect(p2.json().tags).toEqual(['v3', 'v4']);
    const p3 = await raw(port, 'GET', '/v2/team/app/tags/list?n=2&last=v4');
    expect(p3.json().tags).toEqual(['v5']);
    expect(p3.headers.link).toBeUndefined();
    expect((await raw(port, 'GET', '/v2/team/app/tags/list')).json().tags).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
    expect((await raw(port, 'GET', '/v2/team/app/tags/list?n=x')).json().errors[0].code).toBe('PAGINATION_NUMBER_INVALID');

    const c1 = await raw(port, 'GET', '/v2/_catalog?n=1');
    expect(c1.json()).toEqual({ repositories: ['a/b/multi'] });
    expect(c1.headers.link).toBe('</v2/_catalog?n=1&last=a%2Fb%2Fmulti>; rel="next"');
    const c2 = await raw(port, 'GET', '/v2/_catalog?n=1&last=a%2Fb%2Fmulti');
    expect(c2.json()).toEqual({ repositories: ['team/app'] });
  });

  it('lists referrers, filtered by artifactType', async () => {
    const cfg = Buffer.from('{}');
    await store.putBlob([cfg], sha256Digest(cfg));
    const payload = randomBytes(64);
    await store.putBlob([payload], sha256Digest(payload));
    const sig = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OCI_MANIFEST,
        artifactType: 'application/vnd.example.signature',
        config: { mediaType: MediaType.OCI_EMPTY, digest: sha256Digest(cfg), size: cfg.length },
        layers: [{ mediaType: 'application/octet-stream', digest: sha256Digest(payload), size: payload.length }],
        subject: { mediaType: MediaType.OCI_MANIFEST, digest: image.digest, size: (await store.getManifest('team/app', 'v1')).size },
        annotations: { 'org.example': 'yes' },
      }),
    );
    await store.putManifest('team/app', sig, MediaType.OCI_MANIFEST, []);
    const all = await raw(port, 'GET', `/v2/team/app/referrers/${image.digest}`);
    expect(all.status).toBe(200);
    expect(all.headers['content-type']).toBe(MediaType.OCI_INDEX);
    expect(all.json()).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.OCI_INDEX,
      manifests: [{ mediaType: MediaType.OCI_MANIFEST, digest: sha256Digest(sig), size: sig.length, artifactType: 'application/vnd.example.signature', annotations: { 'org.example': 'yes' } }],
    });
    const filtered = await raw(port, 'GET', `/v2/team/app/referrers/${image.digest}?artifactType=application/vnd.example.sbom`);
    expect(filtered.headers['oci-filters-applied']).toBe('artifactType');
    expect(filtered.json().manifests).toEqual([]);
    expect((await raw(port, 'GET', `/v2/team/app/referrers/${sha256Digest('none')}`)).json().manifests).toEqual([]);
  });

  it("answers with the spec's error bodies", async () => {
    const cases: Array<[string, string, number, string]> = [
      ['GET', '/v2/nope/manifests/v1', 404, 'NAME_UNKNOWN'],
      ['GET', '/v2/team/app/manifests/missing', 404, 'MANIFEST_UNKNOWN'],
      ['GET', `/v2/team/app/manifests/${sha256Digest('x')}`, 404, 'MANIFEST_UNKNOWN'],
      ['GET', `/v2/team/app/blobs/${sha256Digest('x')}`, 404, 'BLOB_UNKNOWN'],
      ['GET', '/v2/team/app/blobs/sha256:abc', 400, 'DIGEST_INVALID'],
      ['GET', `/v2/team/app/blobs/sha512:${'a'.repeat(128)}`, 400, 'DIGEST_INVALID'],
      ['GET', `/v2/team/app/manifests/md5:${'a'.repeat(32)}`, 400, 'DIGEST_INVALID'],
      ['GET', '/v2/team/app/referrers/v1', 400, 'DIGEST_INVALID'],
      ['GET', '/v2/Team/App/manifests/v1', 400, 'NAME_INVALID'],
      ['GET', '/v2/team/app/nothing/here', 404, 'NOT_FOUND'],
    ];
    for (const [method, path, status, code] of cases) {
      const r = await raw(port, method, path);
      expect({ path, status: r.status }).toEqual({ path, status });
      const body = r.json();
      expect(body.errors[0].code).toBe(code);
      expect(typeof body.errors[0].message).toBe('string');
    }
    const head = await raw(port, 'HEAD', '/v2/team/app/manifests/missing');
    expect(head.status).toBe(404);
    expect(head.body.length).toBe(0);
  });

  it('refuses path traversal in every spelling', async () => {
    const attempts = [
      '/v2/../../etc/passwd',
      '/v2/team/../../../etc/passwd/manifests/v1',
      '/v2/%2e%2e/%2e%2e/etc/passwd',
      '/v2/team%2f..%2f..%2fetc/manifests/passwd',
      '/v2/team/app/blobs/..%2F..%2F..%2Fetc%2Fpasswd',
      '/v2/team/app/blobs/sha256:..%2f..%2fetc',
      '/v2/team/app/manifests/..',
      '/v2/team\\..\\..\\etc/manifests/passwd',
      '/v2//etc/passwd/manifests/v1',
      '/v2/team/app/manifests/%2e%2e%2f%2e%2e%2findex.json',
    ];
    for (const path of attempts) {
      const r = await raw(port, 'GET', path);
      expect({ path, ok: r.status >= 400 && r.status < 500 }).toEqual({ path, ok: true });
      expect(r.body.toString()).not.toContain('root:');
      expect(['NAME_INVALID', 'NOT_FOUND', 'TAG_INVALID', 'DIGEST_INVALID']).toContain(r.json().errors[0].code);
    }
  });

  it('answers push and delete with 405 UNSUPPORTED', async () => {
    for (const [method, path] of [
      ['POST', '/v2/team/app/blobs/uploads/'],
      ['PATCH', '/v2/team/app/blobs/uploads/abc'],
      ['PUT', '/v2/team/app/manifests/v9'],
      ['DELETE', `/v2/team/app/manifests/${image.digest}`],
      ['DELETE', `/v2/team/app/blobs/${image.layers[0]}`],
    ] as const) {
      const r = await raw(port, method, path);
      expect(r.status).toBe(405);
      expect(r.json().errors[0].code).toBe('UNSUPPORTED');
    }
    await expect(
      run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${dir.path}:team/app:v1`, `docker://127.0.0.1:${port}/pushed:v1`]),
    ).rejects.toThrow();
  });

  it('counts requests and bytes, and exports them as Prometheus metrics', async () => {
    const before = handler.counters();
    const layer = image.layers[0]!;
    const r = await raw(port, 'GET', `/v2/team/app/blobs/${layer}`);
    // the count is taken when the response closes
    await expect.poll(() => handler.counters().bytesServed - before.bytesServed).toBeGreaterThanOrEqual(r.body.length);
    const after = handler.counters();
    expect(after.requests).toBeGreaterThan(before.requests);
    expect(after.byRoute.blob).toBeGreaterThan(before.byRoute.blob ?? 0);
    const text = (await renderMetrics(metrics)).body;
    expect(text).toMatch(/test_registry_requests_total\{method="GET",route="blob",status="200"\} \d+/);
    expect(text).toMatch(/test_registry_bytes_served_total \d+/);
    // a second handler on the same metrics registry shares the counters instead of throwing
    expect(() => createRegistryHandler({ store, metrics, metricsPrefix: 'test_registry_' })).not.toThrow();
  });

  it('with allowPush, accepts skopeo pushes (chunked uploads, manifests, an index with --all) and deletes', async () => {
    await using pushDir = await tempDir();
    const target = await openContentStore({ root: pushDir.path });
    const pushServer = http.createServer(createRegistryHandler({ store: target, allowPush: true }));
    await new Promise<void>((r) => pushServer.listen(0, '127.0.0.1', r));
    const pushPort = (pushServer.address() as AddressInfo).port;
    try {
      const host = `127.0.0.1:${pushPort}`;
      await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${dir.path}:team/app:v1`, `docker://${host}/pushed/app:v1`]);
      await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--all', '--dest-tls-verify=false', `oci:${dir.path}:a/b/multi:v1`, `docker://${host}/pushed/multi:v1`]);
      expect((await target.getManifest('pushed/app', 'v1')).digest).toBe(image.digest);
      expect((await target.getManifest('pushed/multi', 'v1')).digest).toBe(index.digest);
      const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${host}/pushed/app:v1`]);
      expect(JSON.parse(stdout)).toMatchObject({ Digest: image.digest, Layers: image.layers });
      expect(await target.verify()).toMatchObject({ corrupt: [] });

      // monolithic upload, a wrong digest, and a cross-repository mount
      const data = randomBytes(100);
      const good = await new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: pushPort, method: 'POST', path: `/v2/x/blobs/uploads/?digest=${sha256Digest(data)}` }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(data);
      });
      expect(good).toBe(201);
      expect(await target.hasBlob(sha256Digest(data))).toBe(true);
      const bad = await raw(pushPort, 'PUT', `/v2/x/blobs/uploads/${'0'.repeat(32)}?digest=${sha256Digest('y')}`);
      expect(bad.json().errors[0].code).toBe('BLOB_UPLOAD_UNKNOWN');
      const mount = await raw(pushPort, 'POST', `/v2/y/blobs/uploads/?mount=${sha256Digest(data)}&from=x`);
      expect(mount.status).toBe(201);
      const missing = await raw(pushPort, 'PUT', '/v2/y/manifests/v1', { 'content-type': MediaType.OCI_MANIFEST });
      expect(missing.json().errors[0].code).toBe('MANIFEST_INVALID');

      const del = await raw(pushPort, 'DELETE', '/v2/pushed/app/manifests/v1');
      expect(del.status).toBe(202);
      expect((await raw(pushPort, 'GET', '/v2/pushed/app/manifests/v1')).status).toBe(404);
      expect((await raw(pushPort, 'DELETE', `/v2/pushed/app/manifests/${image.digest}`)).status).toBe(202);
      expect((await raw(pushPort, 'GET', `/v2/pushed/app/manifests/${image.digest}`)).status).toBe(404);
      expect((await raw(pushPort, 'DELETE', `/v2/pushed/app/blobs/${image.layers[0]}`)).json().errors[0].code).toBe('UNSUPPORTED');
    } finally {
      pushServer.closeAllConnections();
      await new Promise<void>((r) => pushServer.close(() => r()));
    }
  });
});
