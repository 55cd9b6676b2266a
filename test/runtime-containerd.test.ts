// The real satellite points a real containerd at itself: it writes certs.d/<upstream>/hosts.toml for
// the registries of its desired state, containerd pulls by upstream name through CRI PullImage and the
// satellite serves every byte (also with the upstream stopped); with direct delivery on, the image
// appears as a tarball in the K3s auto-import directory that `ctr images import` accepts, and goes
// away when direct delivery is turned off.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { contentDigest, decodeMessage, SCHEMA_HEADER, siteStreams, subjects, type DesiredState, type Heartbeat } from '@uplink/contracts';
import { containerdUnavailable, pushTestImage, startContainerd, waitFor } from '@uplink/testkit';
import { getStatus, SAT, startReplicationSite, waitSettled } from './replication-site.js';

const unavailable = await containerdUnavailable();

function desired(revision: number, upstreamUrl: string, artifacts: DesiredState['artifacts'], config: Partial<DesiredState['config']> = {}): DesiredState {
  const content = {
    satellite: SAT,
    registries: [{ name: 'lab', url: upstreamUrl }],
    artifacts,
    config: { heartbeatSeconds: 1, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [], ...config },
  };
  return { ...content, revision, digest: contentDigest(content), issuedAt: new Date().toISOString() };
}

/** sum of a Prometheus counter over the series whose labels include every one of `labels` */
async function counter(statusUrl: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${statusUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

describe.skipIf(unavailable !== undefined)(`runtime integration with a real containerd${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('writes hosts.toml for the upstream, containerd pulls the image from the satellite by its upstream name (also with the upstream down), and direct delivery imports with ctr', async () => {
    await using site = await startReplicationSite();
    const up = site.upstream;
    const img = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v1', layers: 2, layerBytes: 32 * 1024 });
    const root = join(site.data.path, 'root');
    const sat = await site.start({ RUNTIME_ROOT: root, MIRRORS: 'containerd' });
    const artifacts = [{ registry: 'lab', repository: 'library/app', tag: 'v1', digest: img.digest }];
    await site.publish(desired(1, up.url, artifacts));
    await waitSettled(sat.statusUrl, 1);

    // the satellite wrote the mirror config for the state's registry, pointing at its own registry
    const mirror = `http://127.0.0.1:${sat.registryPort}`;
    const status = await waitFor(async () => {
      const s = await getStatus(sat.statusUrl);
      return s.runtime.reason === 'state' && s;
    }, { what: 'runtime config applied for revision 1' });
    expect(status.runtime).toMatchObject({ mirrorUrl: mirror, runtimes: [{ runtime: 'containerd', registries: [up.host] }], errors: [] });
    const hostsPath = join(root, 'etc/containerd/certs.d', up.host, 'hosts.toml');
    expect(status.runtime.mirrors?.files).toContain(hostsPath);
    const hosts = await readFile(hostsPath, 'utf8');
    expect(hosts).toContain(`server = "${up.url}"`);
    expect(hosts).toMatch(new RegExp(`\\[host\\."${mirror.replaceAll('.', '\\.')}"\\]\\s+capabilities = \\["pull", "resolve"\\]`));
    const configPath = /config_path = "([^"]+)"/.exec(await readFile(join(root, 'etc/containerd/config.toml'), 'utf8'))?.[1];
    expect(configPath).toBe(join(root, 'etc/containerd/certs.d'));

    // a real containerd reading that config_path pulls by upstream name; the satellite served it
    await using containerd = await startContainerd({ configPath: configPath! });
    const name = `${up.host}/library/app:v1`;
    const blobsBefore = await counter(sat.statusUrl, 'uplink_registry_requests_total', { method: 'GET', route: 'blob', status: '200' });
    await containerd.cri.pullImage(name);
    expect((await containerd.cri.imageStatus(name))?.repoDigests).toContain(`${up.host}/library/app@${img.digest}`);
    // config + 2 layers, all from the satellite
    expect((await counter(sat.statusUrl, 'uplink_registry_requests_total', { method: 'GET', route: 'blob', status: '200' })) - blobsBefore).toBe(3);

    // upstream gone: removed and pulled again, from the satellite alone
    await up.stop();
    await containerd.cri.removeImage(name);
    expect(await containerd.cri.imageStatus(name)).toBeNull();
    const manifestsBefore = await counter(sat.statusUrl, 'uplink_registry_requests_total', { route: 'manifest', status: '200' });
    await containerd.cri.pullImage(name);
    expect((await containerd.cri.imageStatus(name))?.repoDigests).toContain(`${up.host}/library/app@${img.digest}`);
    expect(await counter(sat.statusUrl, 'uplink_registry_requests_total', { route: 'manifest', status: '200' })).toBeGreaterThan(manifestsBefore);

    // direct delivery on (upstream still down): the tarball comes from the local store
    await site.publish(desired(2, up.url, artifacts, { directDelivery: true }));
    const images = join(root, 'var/lib/rancher/k3s/agent/images');
    const delivered = await waitFor(async () => {
      const s = await getStatus(sat.statusUrl);
      return s.runtime.delivery?.images.length === 1 && s.runtime.delivery;
    }, { what: 'the image delivered as a tarball' });
    expect(delivered).toMatchObject({ enabled: true, dir: images, images: [{ name, digest: img.digest }], waiting: [], failed: [] });
    const tarball = delivered.images[0]!.file;
    expect((await readdir(images)).filter((f) => f.endsWith('.tar'))).toEqual([tarball]);
    await containerd.cri.removeImage(name);
    await containerd.ctr(['images', 'import', '--snapshotter', 'native', join(images, tarball)]);
    expect((await containerd.ctr(['images', 'ls', '-q'])).stdout.split('\n')).toContain(name);
    expect((await containerd.cri.imageStatus(name))?.repoTags).toContain(name);

    // the heartbeat tells the cloud: containerd configured, one image delivered, no error
    const jsm = await jetstreamManager(site.leafNc, { domain: SAT, checkAPI: false });
    const hb = await waitFor(async () => {
      const m = await jsm.streams.getMessage(siteStreams(SAT).OUTBOX.name, { last_by_subj: subjects.outbox(SAT, 'heartbeat') }).catch(() => null);
      const d = m ? decodeMessage('heartbeat', m.header?.get(SCHEMA_HEADER) || undefined, m.data) : undefined;
      return d?.ok && d.value.runtime?.delivered === 1 && d.value;
    }, { what: 'a heartbeat reporting the delivered image' });
    expect(hb.runtime).toEqual<Heartbeat['runtime']>({ at: expect.any(String), runtimes: ['containerd'], delivered: 1, errors: 0, lastError: null });

    // direct delivery off: our tarball is removed
    await site.publish(desired(3, up.url, artifacts, { directDelivery: false }));
    await waitFor(async () => (await readdir(images)).filter((f) => f.endsWith('.tar')).length === 0, { what: 'the tarball removed' });
    const after = await waitFor(async () => {
      const s = await getStatus(sat.statusUrl);
      return s.applied?.revision === 3 && s.runtime.delivery?.removed.length === 1 && s;
    }, { what: 'removal reported' });
    expect(after.runtime.delivery).toMatchObject({ enabled: false, images: [], removed: [tarball] });
  });
});
