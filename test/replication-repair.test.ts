// The store is kept equal to the applied state: missing content is fetched again (on demand and on
// the drift timer), corrupt blobs are found by verification and replaced, content no longer desired is
// pruned and collected, and a blob being served is never deleted under its reader.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pushTestImage, tempDir, waitFor } from '@uplink/testkit';
import { desiredState, metric, rawManifest, sha256, skopeo, startReplicationSite, waitSettled } from './replication-site.js';

const MiB = 1024 * 1024;

describe('replication repair and prune', () => {
  it('repairs deleted and corrupt content on demand and on the drift timer', async () => {
    await using site = await startReplicationSite();
    const up = site.upstream;
    const a = await pushTestImage({ registry: up, repository: 'team/a', tag: 'v1', layers: 2, layerBytes: 128 * 1024 });
    let sat = await site.start({ DRIFT_CHECK_INTERVAL_S: '0', VERIFY_INTERVAL_S: '0' });
    await site.publish(desiredState(1, { up: up.url }, [{ registry: 'up', repository: 'team/a', tag: 'v1', digest: a.digest }]));
    await waitSettled(sat.statusUrl, 1);
    const blobFile = (digest: string) => join(site.data.path, 'store', 'blobs', 'sha256', digest.slice(7));
    const pull = async () => {
      await using out = await tempDir();
      await skopeo('--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${new URL(sat.registryUrl).host}/team/a:v1`, `dir:${out.path}/a`);
    };

    // on demand: a deleted layer and a deleted manifest come back
    await rm(blobFile(a.layers[0]!));
    await rm(blobFile(a.digest));
    await expect(pull()).rejects.toThrow();
    const r = await sat.syncNow();
    expect(r).toMatchObject({ reason: 'manual', fetched: 1, ready: 1, failed: 0 });
    expect(r.bytes).toBeGreaterThanOrEqual(128 * 1024);
    await pull();

    // a corrupt blob of the right size is only found by re-hashing: verifyStore replaces it
    const layer = blobFile(a.layers[1]!);
    const bytes = await readFile(layer);
    bytes[100]! ^= 0xff;
    await writeFile(layer, bytes);
    expect(await sat.verifyStore()).toMatchObject({ corrupt: [a.layers[1]], removed: false });
    const v = await sat.verifyStore({ remove: true });
    expect(v.corrupt).toEqual([a.layers[1]]);
    expect(v.sync).toMatchObject({ fetched: 1, ready: 1 });
    expect(sha256(await readFile(layer))).toBe(a.layers[1]);
    await pull();
    expect(await metric(sat.statusUrl, 'uplink_satellite_repairs_total')).toBeGreaterThanOrEqual(2);

    // on the drift timer, without being asked
    await sat.close();
    sat = await site.start({ DRIFT_CHECK_INTERVAL_S: '1' });
    await waitSettled(sat.statusUrl, 1);
    await rm(blobFile(a.layers[0]!));
    await waitFor(() => existsSync(blobFile(a.layers[0]!)), { what: 'drift check to fetch the deleted layer again', timeoutMs: 10_000 });
    await pull();
  });

  it('prunes what is no longer desired and collects it, keeping shared layers and blobs being served', async () => {
    await using site = await startReplicationSite();
    const up = site.upstream;
    const a = await pushTestImage({ registry: up, repository: 'team/a', tag: 'v1', layers: 2, sharedLayerFrom: 'base', layerBytes: 64 * 1024 });
    // big enough that the blob cannot sit whole in loopback socket buffers while the reader pauses
    const b = await pushTestImage({ registry: up, repository: 'team/b', tag: 'v1', layers: 2, sharedLayerFrom: 'base', layerBytes: 24 * MiB });
    const sat = await site.start({ GC_GRACE_S: '0', DRIFT_CHECK_INTERVAL_S: '0' });
    const host = new URL(sat.registryUrl).host;
    const registries = { up: up.url };
    const artA = { registry: 'up', repository: 'team/a', tag: 'v1', digest: a.digest };
    await site.publish(desiredState(1, registries, [artA, { registry: 'up', repository: 'team/b', tag: 'v1', digest: b.digest }]));
    await waitSettled(sat.statusUrl, 1);
    const blobFile = (digest: string) => join(site.data.path, 'store', 'blobs', 'sha256', digest.slice(7));
    const onlyB = b.layers[1]!;

    // a client is in the middle of pulling b's big layer when b stops being desired
    const reader = await openSlowly(`${sat.registryUrl}/v2/team/b/blobs/${onlyB}`);
    await site.publish(desiredState(2, registries, [artA]));
    await waitSettled(sat.statusUrl, 2);
    await expect(rawManifest(host, 'team/b', 'v1')).rejects.toThrow(/manifest unknown|not found|name unknown/i);
    // collected with the state's apply (grace 0): b's manifest and config, but not the layer being read
    expect(existsSync(blobFile(b.digest))).toBe(false);
    expect(existsSync(blobFile(b.config))).toBe(false);
    expect(existsSync(blobFile(onlyB))).toBe(true);
    expect(await reader.finish()).toBe(onlyB); // the whole blob, intact

    const gc = await sat.gc();
    expect(gc.deleted).toEqual([onlyB]);
    expect(existsSync(blobFile(onlyB))).toBe(false);
    expect(existsSync(blobFile(a.layers[0]!))).toBe(true);
    expect(sha256(await rawManifest(host, 'team/a', 'v1'))).toBe(a.digest);
    expect(await sat.prune({ dryRun: true })).toEqual({ untag: [], unpin: [], dryRun: true });
    expect((await sat.listImages()).map((i) => `${i.repository}:${i.tag}`)).toEqual(['team/a:v1']);
    expect(await metric(sat.statusUrl, 'uplink_satellite_gc_freed_bytes_total')).toBeGreaterThanOrEqual(4 * MiB);
  });
});

/** GET a blob, read its first chunk and hold the rest until finish(), which returns the body's digest */
async function openSlowly(url: string): Promise<{ finish(): Promise<string> }> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(url, resolve).on('error', reject));
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode}`);
  const hash = createHash('sha256');
  await new Promise<void>((resolve) => {
    res.once('data', (chunk: Buffer) => {
      hash.update(chunk);
      res.pause();
      resolve();
    });
  });
  return {
    finish: () =>
      new Promise((resolve, reject) => {
        res.on('data', (chunk: Buffer) => hash.update(chunk));
        res.on('end', () => resolve(`sha256:${hash.digest('hex')}`));
        res.on('error', reject);
        res.resume();
      }),
  };
}
