import { describe, expect, it } from 'vitest';
import { startUpstreamRegistry } from './registry.js';
import { pushTestImage, pushTestIndex } from './images.js';

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json';

describe('upstream registry launcher and test images', () => {
  it('serves pushed images and indexes, and keeps its data across a restart on the same port', async () => {
    await using reg = await startUpstreamRegistry();
    const img = await pushTestImage({ registry: reg, repository: 'team/app', tag: 'v1', layers: 2, layerBytes: 2048 });
    expect(img.layers).toHaveLength(2);
    const m = await get(`${reg.url}/v2/team/app/manifests/v1`, { accept: ACCEPT });
    expect(m.status).toBe(200);
    expect(m.headers.get('docker-content-digest')).toBe(img.digest);
    expect(m.headers.get('content-type')).toBe('application/vnd.oci.image.manifest.v1+json');

    const idx = await pushTestIndex({ registry: reg, repository: 'team/multi', tag: 'v1' });
    const i = await get(`${reg.url}/v2/team/multi/manifests/${idx.digest}`, { accept: ACCEPT });
    const parsed = JSON.parse(i.body) as { manifests: Array<{ platform: { architecture: string } }> };
    expect(parsed.manifests.map((d) => d.platform.architecture)).toEqual(['amd64', 'arm64']);

    const port = reg.port;
    await reg.restart();
    expect(reg.port).toBe(port);
    expect((await get(`${reg.url}/v2/team/app/manifests/v1`, { accept: ACCEPT })).status).toBe(200);
  });

  it('pushes Docker schema2 media types and shares a seeded layer between images', async () => {
    await using reg = await startUpstreamRegistry();
    const a = await pushTestImage({ registry: reg, repository: 'a', tag: 't', format: 'docker', sharedLayerFrom: 'base', layers: 2 });
    const b = await pushTestImage({ registry: reg, repository: 'b', tag: 't', format: 'docker', sharedLayerFrom: 'base', layers: 2 });
    expect(a.layers[0]).toBe(b.layers[0]);
    expect(a.layers[1]).not.toBe(b.layers[1]);
    const m = await get(`${reg.url}/v2/a/manifests/t`, { accept: ACCEPT });
    expect(m.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    const list = await pushTestIndex({ registry: reg, repository: 'multi', tag: 'v1', format: 'docker' });
    const l = await get(`${reg.url}/v2/multi/manifests/v1`, { accept: ACCEPT });
    expect(l.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect(l.headers.get('docker-content-digest')).toBe(list.digest);
  });

  it('basic auth: refuses anonymous pulls, accepts the credentials', async () => {
    await using reg = await startUpstreamRegistry({ auth: 'basic' });
    await pushTestImage({ registry: reg, repository: 'private/app', tag: 'v1' });
    expect((await get(`${reg.url}/v2/private/app/manifests/v1`, { accept: ACCEPT })).status).toBe(401);
    const basic = `Basic ${Buffer.from(`${reg.credentials!.username}:${reg.credentials!.password}`).toString('base64')}`;
    expect((await get(`${reg.url}/v2/private/app/manifests/v1`, { accept: ACCEPT, authorization: basic })).status).toBe(200);
  });

  it('token auth: answers a Bearer challenge and accepts tokens from its token service', async () => {
    await using reg = await startUpstreamRegistry({ auth: 'token' });
    await pushTestImage({ registry: reg, repository: 'private/app', tag: 'v1' });
    const anon = await get(`${reg.url}/v2/private/app/manifests/v1`, { accept: ACCEPT });
    expect(anon.status).toBe(401);
    const challenge = anon.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer realm=/);
    const basic = `Basic ${Buffer.from(`${reg.credentials!.username}:${reg.credentials!.password}`).toString('base64')}`;
    const tok = await get(`${reg.tokenService!.url}?service=uplink-test-registry&scope=repository:private/app:pull`, { authorization: basic });
    const { token } = JSON.parse(tok.body) as { token: string };
    expect((await get(`${reg.url}/v2/private/app/manifests/v1`, { accept: ACCEPT, authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await get(`${reg.tokenService!.url}?service=x&scope=repository:private/app:pull`)).status).toBe(401);
  });
});
