// A broken upstream artifact is rejected and reported, nothing of it is served, and every other
// artifact still syncs; a failing artifact keeps being retried and recovers once upstream is fixed.
import { existsSync } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pushTestImage, startUpstreamRegistry, waitFor } from '@uplink/testkit';
import { desiredState, getStatus, lastAppliedReport, outboxSyncEvents, rawManifest, sha256, startReplicationSite, waitSettled } from './replication-site.js';

describe('replication failures', () => {
  it('rejects a broken manifest, a digest mismatch, a truncated blob and bad credentials; the rest converges; a fixed upstream recovers', async () => {
    await using site = await startReplicationSite();
    const up = site.upstream;
    await using locked = await startUpstreamRegistry({ auth: 'basic' });
    const ok = await pushTestImage({ registry: up, repository: 'good/ok', tag: 'v1', layers: 2, layerBytes: 64 * 1024 });
    const broken = await pushTestImage({ registry: up, repository: 'bad/manifest', tag: 'v1' });
    const mismatch = await pushTestImage({ registry: up, repository: 'bad/mismatch', tag: 'v1', layerBytes: 64 * 1024 });
    const truncated = await pushTestImage({ registry: up, repository: 'bad/truncated', tag: 'v1', layerBytes: 64 * 1024 });
    const secret = await pushTestImage({ registry: locked, repository: 'bad/secret', tag: 'v1' });

    await writeFile(up.blobDataPath(broken.digest), '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": [');
    const layerPath = up.blobDataPath(mismatch.layers[0]!);
    const original = await readFile(layerPath);
    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1]! ^= 0xff;
    await writeFile(layerPath, flipped);
    await truncate(up.blobDataPath(truncated.layers[0]!), 1_000);

    const sat = await site.start({}, { credentialsFor: (url) => (url === locked.url ? { username: 'uplink', password: 'wrong' } : undefined) });
    const host = new URL(sat.registryUrl).host;
    const artifacts = [
      { registry: 'up', repository: 'good/ok', tag: 'v1', digest: ok.digest },
      { registry: 'up', repository: 'bad/manifest', tag: 'v1', digest: broken.digest },
      { registry: 'up', repository: 'bad/mismatch', tag: 'v1', digest: mismatch.digest },
      { registry: 'up', repository: 'bad/truncated', tag: 'v1', digest: truncated.digest },
      { registry: 'locked', repository: 'bad/secret', tag: 'v1', digest: secret.digest },
    ];
    await site.publish(desiredState(1, { up: up.url, locked: locked.url }, artifacts));

    // applied once every artifact was attempted: the broken ones are failed, with their reason
    const status = await waitSettled(sat.statusUrl, 1);
    const byRepo = Object.fromEntries(status.artifacts.map((a) => [a.repository, a]));
    expect(byRepo['good/ok']).toMatchObject({ status: 'ready' });
    expect(byRepo['bad/manifest']).toMatchObject({ status: 'failed', error: expect.stringMatching(/^(DIGEST_MISMATCH|MANIFEST_INVALID|UPSTREAM_UNAVAILABLE): /) });
    expect(byRepo['bad/mismatch']).toMatchObject({ status: 'failed', error: expect.stringMatching(/^DIGEST_MISMATCH: /) });
    expect(byRepo['bad/truncated']).toMatchObject({ status: 'failed', error: expect.stringMatching(/^(SIZE_MISMATCH|DIGEST_MISMATCH|PROTOCOL_ERROR): /) });
    expect(byRepo['bad/secret']).toMatchObject({ status: 'failed', error: expect.stringMatching(/^UNAUTHORIZED: /) });
    expect(status.sync).toMatchObject({ status: 'degraded', ready: 1, failed: 4, total: 5 });

    // reported: artifact.failed events in OUTBOX, and the state-applied report on the hub
    const events = await outboxSyncEvents(site.leafNc);
    const failedRepos = new Set(events.filter((e) => e.event === 'artifact.failed' && e.revision === 1).map((e) => e.artifact!.repository));
    expect([...failedRepos].sort()).toEqual(['bad/manifest', 'bad/mismatch', 'bad/secret', 'bad/truncated']);
    expect(events.find((e) => e.event === 'sync.completed' && e.revision === 1)).toMatchObject({ ready: 1, failed: 4 });
    await waitFor(async () => (await lastAppliedReport(site.hubNc))?.artifacts?.filter((a) => a.status === 'failed').length === 4, { what: 'failed artifacts in the applied report' });

    // nothing of them is stored or served; the good one is, byte for byte
    expect(sha256(await rawManifest(host, 'good/ok', 'v1'))).toBe(ok.digest);
    for (const a of artifacts.slice(1)) await expect(rawManifest(host, a.repository, 'v1')).rejects.toThrow(/manifest unknown|not found|name unknown/i);
    const blobFile = (digest: string) => join(site.data.path, 'store', 'blobs', 'sha256', digest.slice(7));
    expect(existsSync(blobFile(broken.digest))).toBe(false);
    expect(existsSync(blobFile(mismatch.layers[0]!))).toBe(false);
    expect(existsSync(blobFile(truncated.layers[0]!))).toBe(false);
    expect(existsSync(blobFile(ok.layers[0]!))).toBe(true);

    // retried in the background: once upstream serves the right bytes, the artifact converges
    await writeFile(layerPath, original);
    await waitFor(async () => (await getStatus(sat.statusUrl)).artifacts.find((a) => a.repository === 'bad/mismatch')?.status === 'ready', {
      what: 'bad/mismatch retried and ready',
      timeoutMs: 20_000,
    });
    expect(sha256(await rawManifest(host, 'bad/mismatch', 'v1'))).toBe(mismatch.digest);
    await waitFor(async () => (await outboxSyncEvents(site.leafNc)).some((e) => e.event === 'artifact.synced' && e.artifact?.repository === 'bad/mismatch'), {
      what: 'artifact.synced of the recovered artifact',
    });
    await waitFor(async () => (await lastAppliedReport(site.hubNc))?.artifacts?.find((a) => a.repository === 'bad/mismatch')?.status === 'ready', {
      what: 'the recovery reported to the hub',
    });
  });
});
