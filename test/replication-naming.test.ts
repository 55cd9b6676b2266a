// What runtimes ask for reaches the right content: two registries holding the same repository path are
// stored apart and told apart by containerd's `?ns=<host>`; an allow-listed image nobody desired is
// pulled through on a miss, and a prune of undesired content leaves it alone.
import { describe, expect, it } from 'vitest';
import { pushTestImage, startUpstreamRegistry } from '@uplink/testkit';
import { desiredState, rawManifest, sha256, startReplicationSite, waitSettled } from './replication-site.js';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

async function manifestDigest(url: string): Promise<string | number> {
  const res = await fetch(url, { headers: { accept: ACCEPT } });
  if (res.status !== 200) return res.status;
  return sha256(Buffer.from(await res.arrayBuffer()));
}

describe('replication naming and pull-through', () => {
  it('keeps two registries with the same path apart, reached with ?ns=; pulls through what is allowed and prune spares it', async () => {
    await using site = await startReplicationSite();
    const one = site.upstream;
    await using two = await startUpstreamRegistry();
    const a1 = await pushTestImage({ registry: one, repository: 'library/web', tag: 'v1' });
    const a2 = await pushTestImage({ registry: two, repository: 'library/web', tag: 'v1' });
    const only = await pushTestImage({ registry: one, repository: 'library/db', tag: 'v1' });
    const extra = await pushTestImage({ registry: one, repository: 'library/tool', tag: 'v1' });

    const sat = await site.start({ PULL_THROUGH_ALLOW: `${one.host}/library/tool` });
    const base = sat.registryUrl;
    const registries = { one: one.url, two: two.url };
    await site.publish(
      desiredState(1, registries, [
        { registry: 'one', repository: 'library/web', tag: 'v1', digest: a1.digest },
        { registry: 'two', repository: 'library/web', tag: 'v1', digest: a2.digest },
        { registry: 'one', repository: 'library/db', tag: 'v1', digest: only.digest },
      ]),
    );
    const status = await waitSettled(sat.statusUrl, 1);
    expect(status.artifacts.map((a) => a.repository).sort()).toEqual(['127.0.0.1-' + one.port + '/library/web', '127.0.0.1-' + two.port + '/library/web', 'library/db'].sort());
    expect(status.artifacts.every((a) => a.status === 'ready')).toBe(true);

    // containerd names the registry it means; an unshared path is reachable without it too
    expect(await manifestDigest(`${base}/v2/library/web/manifests/v1?ns=${one.host}`)).toBe(a1.digest);
    expect(await manifestDigest(`${base}/v2/library/web/manifests/v1?ns=${two.host}`)).toBe(a2.digest);
    expect(await manifestDigest(`${base}/v2/library/db/manifests/v1?ns=${one.host}`)).toBe(only.digest);
    expect(sha256(await rawManifest(new URL(base).host, 'library/db', 'v1'))).toBe(only.digest);

    // not desired but allow-listed: fetched on the miss, then served from the store
    expect(await manifestDigest(`${base}/v2/library/tool/manifests/v1?ns=${one.host}`)).toBe(extra.digest);
    // a new state prunes (db is gone) but leaves pull-through's cache alone
    await site.publish(
      desiredState(2, registries, [
        { registry: 'one', repository: 'library/web', tag: 'v1', digest: a1.digest },
        { registry: 'two', repository: 'library/web', tag: 'v1', digest: a2.digest },
      ]),
    );
    await waitSettled(sat.statusUrl, 2);
    expect(await manifestDigest(`${base}/v2/library/db/manifests/v1?ns=${one.host}`)).toBe(404);
    await one.stop();
    expect(await manifestDigest(`${base}/v2/library/tool/manifests/v1?ns=${one.host}`)).toBe(extra.digest);
  });
});
