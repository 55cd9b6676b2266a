// Sync windows: outside the state's windows the satellite applies a new state and serves what it has,
// but fetches no new content; /status says when the next window opens; sync-now overrides; when the
// window opens, what waited is fetched. The satellite's clock is moved by the test, not waited for.
import { describe, expect, it } from 'vitest';
import { contentDigest, type DesiredState } from '@uplink/contracts';
import { pushTestImage, waitFor } from '@uplink/testkit';
import { getStatus, SAT, startReplicationSite, waitSettled } from './replication-site.js';

const HOUR = 3_600_000;

function desired(revision: number, upstreamUrl: string, artifacts: DesiredState['artifacts']): DesiredState {
  const content = {
    satellite: SAT,
    registries: [{ name: 'lab', url: upstreamUrl }],
    artifacts,
    config: { heartbeatSeconds: 30, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [{ window: '10:00-11:00' }] },
  };
  return { ...content, revision, digest: contentDigest(content), issuedAt: new Date().toISOString() };
}

describe('sync windows', () => {
  it('holds new content until the window opens, serves what it has meanwhile, and sync-now overrides', async () => {
    await using site = await startReplicationSite();
    const up = site.upstream;
    const app = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v1', layerBytes: 16 * 1024 });
    const web = await pushTestImage({ registry: up, repository: 'library/web', tag: 'v1', layerBytes: 16 * 1024 });
    // the satellite's clock reads 08:00 UTC: two hours before the window
    const fakeStart = Date.parse('2030-01-01T08:00:00.000Z');
    let offset = fakeStart - Date.now();
    const sat = await site.start({}, { clock: () => Date.now() + offset, replication: { retry: { initialMs: 200, maxMs: 1_000 }, windowRecheckMs: 100 } });
    const manifest = (repo: string) => fetch(`${sat.registryUrl}/v2/${repo}/manifests/v1`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }).then((r) => r.status);

    // applied and reported, but nothing fetched: it waits for 10:00
    await site.publish(desired(1, up.url, [{ registry: 'lab', repository: 'library/app', tag: 'v1', digest: app.digest }]));
    let s = await waitFor(async () => {
      const st = await getStatus(sat.statusUrl);
      return st.applied?.revision === 1 && st.sync.window.waiting === 1 && st;
    }, { what: 'revision 1 applied, its content waiting' });
    expect(s.sync.window).toEqual({ windows: ['10:00-11:00'], open: false, waiting: 1, nextWindowAt: '2030-01-01T10:00:00.000Z' });
    expect(s.artifacts).toEqual([expect.objectContaining({ repository: 'library/app', status: 'pending' })]);
    // what the heartbeat reports: waiting for the window, not syncing
    expect(s.sync.status).toBe('waiting');
    expect(s.sync.bytesTotal).toBe(0);
    expect(await manifest('library/app')).toBe(404);

    // sync-now does not wait for the window
    const now = await sat.syncNow();
    expect(now).toMatchObject({ reason: 'manual', fetched: 1, ready: 1, waiting: 0 });
    expect(await manifest('library/app')).toBe(200);
    s = await getStatus(sat.statusUrl);
    expect(s.sync.window).toMatchObject({ open: false, waiting: 0 });

    // a new state outside the window: what is there is served, the new image waits
    await site.publish(
      desired(2, up.url, [
        { registry: 'lab', repository: 'library/app', tag: 'v1', digest: app.digest },
        { registry: 'lab', repository: 'library/web', tag: 'v1', digest: web.digest },
      ]),
    );
    s = await waitFor(async () => {
      const st = await getStatus(sat.statusUrl);
      return st.applied?.revision === 2 && st.sync.window.waiting === 1 && st;
    }, { what: 'revision 2 applied, the new image waiting' });
    expect(Object.fromEntries(s.artifacts.map((a) => [a.repository, a.status]))).toEqual({ 'library/app': 'ready', 'library/web': 'pending' });
    expect(s.sync.status).toBe('waiting');
    expect(await manifest('library/app')).toBe(200);
    expect(await manifest('library/web')).toBe(404);
    const bytesBefore = s.sync.bytesTotal;

    // 10:00: the window opens and what waited is fetched
    offset += 2 * HOUR;
    s = await waitSettled(sat.statusUrl, 2);
    expect(s.artifacts.every((a) => a.status === 'ready')).toBe(true);
    expect(s.sync.status).toBe('synced');
    expect(s.sync.window).toEqual({ windows: ['10:00-11:00'], open: true, waiting: 0, closesAt: '2030-01-01T11:00:00.000Z' });
    expect(s.sync.bytesTotal).toBeGreaterThan(bytesBefore);
    expect(await manifest('library/web')).toBe(200);
  });
});
