// kill -9 in the middle of a layer download: after a restart the sync resumes the partial blob with a
// Range request (the upstream sends it less than twice), nothing half-written is ever served, and the
// satellite serves exactly the upstream's digests.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort, pushTestImage, startLinkProxy, startProcess, tempDir, waitFor, type Proc } from '@uplink/testkit';
import { desiredState, getStatus, rawManifest, sha256, skopeo, startReplicationSite } from './replication-site.js';

const MiB = 1024 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = createRequire(import.meta.url).resolve('tsx');

describe('replication after kill -9', () => {
  it('resumes a partly downloaded layer with Range and serves identical digests', async () => {
    await using site = await startReplicationSite();
    const up = site.upstream;
    const LAYER = 8 * MiB;
    const img = await pushTestImage({ registry: up, repository: 'team/big', tag: 'v1', layers: 1, layerBytes: LAYER });
    const layer = img.layers[0]!;
    // the WAN in front of the upstream: slow enough to kill the satellite mid-layer
    await using wan = await startLinkProxy({ port: up.port });
    wan.throttle(2 * MiB);
    const upstreamUrl = `http://127.0.0.1:${wan.port}`;

    const statusPort = await freePort();
    const registryPort = await freePort();
    const env = { ...process.env, ...site.env({ STATUS_PORT: String(statusPort), REGISTRY_PORT: String(registryPort), LOG_LEVEL: 'warn' }) };
    const statusUrl = `http://127.0.0.1:${statusPort}`;
    const spawnSatellite = () => startProcess(process.execPath, ['--conditions=uplink-source', '--import', tsx, join(root, 'services/satellite/src/main.ts')], { env, cwd: root });
    let proc: Proc = spawnSatellite();
    await using _stop = { [Symbol.asyncDispose]: () => proc.stop() };
    await waitFor(async () => (await fetch(`${statusUrl}/healthz`).catch(() => null))?.status === 200, { what: `satellite up: ${proc.output()}`, timeoutMs: 20_000 });

    await site.publish(desiredState(1, { up: upstreamUrl }, [{ registry: 'up', repository: 'team/big', tag: 'v1', digest: img.digest }]));
    const partial = join(site.data.path, 'store', 'tmp', `${layer.slice(7)}.partial`);
    const partialSize = () => {
      try {
        return statSync(partial).size;
      } catch {
        return 0;
      }
    };
    await waitFor(() => partialSize() >= 2 * MiB, { what: 'a quarter of the layer downloaded', timeoutMs: 20_000 });
    proc.child.kill('SIGKILL');
    await proc.exited;
    const killedAt = partialSize();
    expect(killedAt).toBeLessThan(LAYER);
    const before = wan.bytes.down;

    wan.throttle(0);
    proc = spawnSatellite();
    const served = `http://127.0.0.1:${registryPort}/v2/team/big/blobs/${layer}`;
    // from the first answer on, the layer is either unknown or whole and correct, never partial
    let sawMissing = false;
    await waitFor(
      async () => {
        const res = await fetch(served).catch(() => null);
        if (!res) return false;
        if (res.status === 404) {
          sawMissing = true;
          await res.arrayBuffer();
          return false;
        }
        expect(res.status).toBe(200);
        expect(`sha256:${createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')}`).toBe(layer);
        return true;
      },
      { what: `layer served after restart: ${proc.output()}`, timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(sawMissing || partialSize() === 0).toBe(true);
    const status = await getStatus(statusUrl);
    expect(status.artifacts).toEqual([expect.objectContaining({ repository: 'team/big', digest: img.digest, status: 'ready' })]);

    // the upstream sent the layer once plus the part the first run had not received, not twice
    const total = wan.bytes.down;
    expect(total).toBeLessThan(2 * LAYER);
    expect(total - before).toBeLessThan(LAYER - killedAt / 2);

    const host = `127.0.0.1:${registryPort}`;
    expect(sha256(await rawManifest(host, 'team/big', 'v1'))).toBe(img.digest);
    await using out = await tempDir();
    await skopeo('--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${host}/team/big:v1`, `dir:${out.path}/big`);
  });
});
