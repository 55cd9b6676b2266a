// Replication end to end: desired state on the hub -> the satellite copies the artifacts from a real
// docker-registry into its store -> skopeo pulls identical digests from the satellite's registry,
// with the upstream up or down; a retag moves only the changed layer's bytes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pushTestImage, pushTestIndex, startLinkProxy, tempDir, waitFor } from '@uplink/testkit';
import {
  blobsOfImage,
  desiredState,
  getStatus,
  lastAppliedReport,
  metric,
  outboxSyncEvents,
  rawManifest,
  sha256,
  skopeo,
  startReplicationSite,
  sumSizes,
  waitSettled,
} from './replication-site.js';

const MiB = 1024 * 1024;

describe('replication', () => {
  it('syncs an index, images sharing layers and a large layer; serves identical digests with the upstream up or down; a retag moves one layer', async () => {
    await using site = await startReplicationSite();
    const up = site.upstream;
    const idx = await pushTestIndex({ registry: up, repository: 'team/multi', tag: 'v1', platforms: ['linux/amd64', 'linux/arm64'] });
    const a = await pushTestImage({ registry: up, repository: 'team/a', tag: 'v1', layers: 2, sharedLayerFrom: 'base', layerBytes: 256 * 1024 });
    const b = await pushTestImage({ registry: up, repository: 'team/b', tag: 'v1', layers: 2, sharedLayerFrom: 'base', layerBytes: 256 * 1024 });
    const big = await pushTestImage({ registry: up, repository: 'team/big', tag: 'v1', layers: 1, layerBytes: 4 * MiB, format: 'docker' });
    expect(a.layers[0]).toBe(b.layers[0]);

    const registries = { upstream: up.url };
    const artifacts = [
      { registry: 'upstream', repository: 'team/multi', tag: 'v1', digest: idx.digest },
      { registry: 'upstream', repository: 'team/a', tag: 'v1', digest: a.digest },
      { registry: 'upstream', repository: 'team/b', tag: 'v1', digest: b.digest },
      { registry: 'upstream', repository: 'team/big', tag: 'v1', digest: big.digest },
    ];
    const sat = await site.start();
    const host = new URL(sat.registryUrl).host;
    await site.publish(desiredState(1, registries, artifacts));
    const status = await waitSettled(sat.statusUrl, 1);
    expect(status.artifacts).toEqual(artifacts.map((x) => ({ repository: x.repository, digest: x.digest, tags: ['v1'], status: 'ready' })));
    expect(status.registry.port).toBe(sat.registryPort);
    expect(status.sync).toMatchObject({ status: 'synced', ready: 4, total: 4, failed: 0 });

    // every blob once: the shared layer is counted once, manifests are not blobs
    const expected = sumSizes(
      await blobsOfImage(up.url, 'team/multi', idx.digest),
      await blobsOfImage(up.url, 'team/a', a.digest),
      await blobsOfImage(up.url, 'team/b', b.digest),
      await blobsOfImage(up.url, 'team/big', big.digest),
    );
    const events = await outboxSyncEvents(site.leafNc);
    expect(events.map((e) => e.event)).toEqual(['sync.started', 'artifact.synced', 'artifact.synced', 'artifact.synced', 'artifact.synced', 'sync.completed']);
    expect(events.at(-1)).toMatchObject({ revision: 1, bytes: expected, ready: 4, failed: 0 });
    expect(events.at(-1)!.durationMs).toBeGreaterThan(0);
    expect(await metric(sat.statusUrl, 'uplink_satellite_sync_bytes_total')).toBe(expected);

    // the cloud sees the per-artifact status in the state-applied report
    await waitFor(async () => (await lastAppliedReport(site.hubNc))?.artifacts?.length === 4, { what: 'state-applied report with artifacts' });
    expect((await lastAppliedReport(site.hubNc))!.artifacts!.every((x) => x.status === 'ready')).toBe(true);

    const servedAsUpstream = async () => {
      // the index by tag and by digest, and each platform's manifest, byte for byte
      expect(sha256(await rawManifest(host, 'team/multi', 'v1'))).toBe(idx.digest);
      expect(sha256(await rawManifest(host, 'team/multi', idx.digest))).toBe(idx.digest);
      for (const [i, arch] of ['amd64', 'arm64'].entries()) {
        const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', '--override-arch', arch, `docker://${host}/team/multi:v1`)) as { Architecture: string; Layers: string[] };
        expect(inspected).toMatchObject({ Architecture: arch, Layers: idx.children[i]!.layers });
        expect(sha256(await rawManifest(host, 'team/multi', idx.children[i]!.digest))).toBe(idx.children[i]!.digest);
      }
      for (const [repo, img] of [['team/a', a], ['team/b', b], ['team/big', big]] as const) {
        expect(sha256(await rawManifest(host, repo, 'v1'))).toBe(img.digest);
      }
      // a full pull (skopeo verifies every blob digest)
      await using out = await tempDir();
      await skopeo('--insecure-policy', 'copy', '--quiet', '--all', '--src-tls-verify=false', `docker://${host}/team/multi:v1`, `oci:${out.path}/multi:v1`);
      await skopeo('--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${host}/team/big:v1`, `dir:${out.path}/big`);
    };
    await servedAsUpstream();

    // WAN/upstream gone: everything synced still pulls, and a new revision with the same images applies
    await up.stop();
    await servedAsUpstream();
    await site.publish(desiredState(2, registries, [...artifacts].reverse()));
    const offline = await waitSettled(sat.statusUrl, 2);
    expect(offline.artifacts.every((x) => x.status === 'ready')).toBe(true);
    await servedAsUpstream();
    await up.restart();

    // team/a retagged: the same base layer, one new layer (and so a new config); only those move
    const a2 = await pushTestImage({ registry: up, repository: 'team/a', tag: 'v2', layers: 2, sharedLayerFrom: 'base', layerBytes: 256 * 1024 });
    expect(a2.layers[0]).toBe(a.layers[0]);
    const a2Blobs = await blobsOfImage(up.url, 'team/a', a2.digest);
    const changed = a2.layers[1]!;
    const before = await metric(sat.statusUrl, 'uplink_satellite_sync_bytes_total');
    await site.publish(desiredState(3, registries, artifacts.map((x) => (x.repository === 'team/a' ? { ...x, tag: 'v2', digest: a2.digest } : x))));
    await waitSettled(sat.statusUrl, 3);
    const moved = (await metric(sat.statusUrl, 'uplink_satellite_sync_bytes_total')) - before;
    expect(moved).toBe(a2Blobs.get(changed)! + a2Blobs.get(a2.config)!);
    const completed = (await outboxSyncEvents(site.leafNc)).filter((e) => e.event === 'sync.completed' && e.revision === 3);
    expect(completed).toEqual([expect.objectContaining({ bytes: moved, ready: 4, failed: 0 })]);
    expect(sha256(await rawManifest(host, 'team/a', 'v2'))).toBe(a2.digest);
    // v1 is no longer desired: untagged
    await expect(rawManifest(host, 'team/a', 'v1')).rejects.toThrow(/manifest unknown|not found|MANIFEST_UNKNOWN/i);

    const images = await sat.listImages();
    expect(images.map((i) => `${i.repository}:${i.tag}`)).toEqual(['team/a:v2', 'team/b:v1', 'team/big:v1', 'team/multi:v1']);
    expect(images.find((i) => i.repository === 'team/big')!.sizeBytes).toBeGreaterThan(4 * MiB);
    expect((await getStatus(sat.statusUrl)).sync.bytesTotal).toBe(expected + moved);
  });

  it('stops a long sync when a newer state arrives and applies the newer one without waiting for it', async () => {
    await using site = await startReplicationSite();
    const up = site.upstream;
    const big = await pushTestImage({ registry: up, repository: 'team/big', tag: 'v1', layerBytes: 16 * MiB });
    const small = await pushTestImage({ registry: up, repository: 'team/small', tag: 'v1' });
    // a slow WAN: the big layer would take ~16 s
    await using wan = await startLinkProxy({ port: up.port });
    wan.throttle(MiB);
    const registries = { up: `http://127.0.0.1:${wan.port}` };
    const sat = await site.start();
    await site.publish(desiredState(1, registries, [{ registry: 'up', repository: 'team/big', tag: 'v1', digest: big.digest }]));
    await waitFor(async () => (await getStatus(sat.statusUrl)).artifacts[0]?.status === 'syncing', { what: 'the big layer downloading' });

    await site.publish(desiredState(2, registries, [{ registry: 'up', repository: 'team/small', tag: 'v1', digest: small.digest }]));
    const status = await waitSettled(sat.statusUrl, 2);
    // applied while the big layer was still far from complete
    expect(existsSync(join(site.data.path, 'store', 'blobs', 'sha256', big.layers[0]!.slice(7)))).toBe(false);
    expect(status.artifacts).toEqual([expect.objectContaining({ repository: 'team/small', status: 'ready' })]);
    expect(status.history.map((h) => h.revision)).toEqual([2]);
  });
});
