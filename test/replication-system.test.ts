// The whole path: an operator puts upstream images in a group and assigns a site; the site's
// satellite replicates them and serves them locally, and the cloud's state view shows per-artifact
// status as the satellite reported it (a broken upstream image failed with its reason).
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { pushTestImage, startUpstreamRegistry, waitFor } from '@uplink/testkit';
import { startSystem } from './support/system.js';
import { rawManifest, sha256 } from './replication-site.js';

type StateView = {
  desired: { revision: number } | null;
  applied: { revision: number } | null;
  artifacts: { repository: string; digest: string; status: string; error?: string }[];
};

describe('replication through the whole system', () => {
  it('syncs a group to a site and shows per-artifact status in GET /satellites/{name}/state', async () => {
    await using sys = await startSystem({ catchupIntervalS: 60 });
    await using up = await startUpstreamRegistry();
    const agent = await pushTestImage({ registry: up, repository: 'plant/agent', tag: 'v1', layers: 2, layerBytes: 32 * 1024 });
    const broken = await pushTestImage({ registry: up, repository: 'plant/broken', tag: 'v1', layerBytes: 32 * 1024 });
    const layer = up.blobDataPath(broken.layers[0]!);
    const bytes = await readFile(layer);
    bytes[10]! ^= 0xff;
    await writeFile(layer, bytes);

    const site = await sys.addSite('edge-01');
    const sat = await site.start();
    expect((await sys.api('POST', '/v1/satellites', { name: 'edge-01' })).status).toBe(201);
    const put = await sys.api('PUT', '/v1/groups/plant', {
      registry: up.url,
      artifacts: [
        { repository: 'plant/agent', tags: ['v1'] },
        { repository: 'plant/broken', tags: ['v1'] },
      ],
    });
    expect(put.status).toBe(200);
    expect((await sys.api('PUT', '/v1/groups/plant/satellites/edge-01')).status).toBe(200);

    let view: StateView | undefined;
    await waitFor(
      async () => {
        view = (await sys.api<StateView>('GET', '/v1/satellites/edge-01/state')).body;
        const s = Object.fromEntries(view.artifacts.map((a) => [a.repository, a.status]));
        return view.applied !== null && view.applied.revision === view.desired?.revision && s['plant/agent'] === 'ready' && s['plant/broken'] === 'failed';
      },
      { what: `per-artifact status in the state view (last: ${JSON.stringify(view)})`, timeoutMs: 30_000 },
    );
    expect(view!.artifacts).toEqual(
      expect.arrayContaining([
        { repository: 'plant/agent', digest: agent.digest, status: 'ready' },
        { repository: 'plant/broken', digest: broken.digest, status: 'failed', error: expect.stringMatching(/^DIGEST_MISMATCH: /) },
      ]),
    );
    expect(sha256(await rawManifest(new URL(sat.registryUrl).host, 'plant/agent', 'v1'))).toBe(agent.digest);
  });
});
