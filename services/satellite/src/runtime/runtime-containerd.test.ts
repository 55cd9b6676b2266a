// A real containerd (CRI plugin, config_path = the certs.d the mirror writer produced) pulls images
// by their upstream names through CRI PullImage; the satellite's registry handler (on a free port, in
// place of 127.0.0.1:5050) serves them, also with the upstream registry stopped.
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPullThrough, createRegistryClient, createRegistryHandler, openContentStore, replicate } from '@uplink/oci';
import { containerdUnavailable, pushTestImage, startContainerd, startUpstreamRegistry, tempDir } from '@uplink/testkit';
import { applyMirrors } from './mirrors.js';
import { parseMirrorSpec, planMirrors } from './mirror-spec.js';
import { createRepositoryResolver, nameArtifacts } from './naming.js';
import { registriesOf } from './registry-host.js';

const unavailable = await containerdUnavailable();
/** set UPLINK_REGISTRY_ACCESS_LOG=<file> to keep what containerd sent (one JSON line per request) */
const accessLogFile = process.env.UPLINK_REGISTRY_ACCESS_LOG;

describe.skipIf(unavailable !== undefined)(`containerd pulls through the satellite${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  it('pulls by upstream name via CRI from the satellite, also with the upstream stopped, and pulls through what is not desired', async () => {
    await using up = await startUpstreamRegistry();
    const app = await pushTestImage({ registry: up, repository: 'library/app', tag: 'v1', layers: 2, layerBytes: 32 * 1024 });
    const web = await pushTestImage({ registry: up, repository: 'library/web', tag: 'v1', layers: 1, layerBytes: 16 * 1024 });
    await using data = await tempDir('uplink-rt-');

    // the satellite side: desired state -> store (by the naming rule) -> registry handler
    const state = {
      registries: [{ name: 'lab', url: up.url }],
      artifacts: [{ registry: 'lab', repository: 'library/app', tag: 'v1', digest: app.digest }],
    };
    const store = await openContentStore({ root: join(data.path, 'store') });
    await using client = createRegistryClient({ url: up.url, retry: { retries: 0 }, timeoutMs: 3_000 });
    for (const n of nameArtifacts(state)) {
      await replicate({ client, store, artifact: { repository: n.artifact.repository, storeRepository: n.storeRepository, digest: n.artifact.digest, tag: n.artifact.tag! } });
    }
    const pull = await createPullThrough({ store, upstream: (h) => (h === up.host ? client : undefined), allow: [`${up.host}/library/web`] });
    const requests: Array<{ method: string; url: string; status: number; userAgent?: string }> = [];
    const handler = createRegistryHandler({
      store,
      resolveRepository: createRepositoryResolver(state),
      pullThrough: pull,
      logger: {
        debug: (o: object) => {
          const r = o as { method: string; url: string; status: number; userAgent?: string };
          if (r.url === undefined) return;
          requests.push({ method: r.method, url: r.url, status: r.status, ...(r.userAgent ? { userAgent: r.userAgent } : {}) });
          if (accessLogFile) appendFileSync(accessLogFile, JSON.stringify(r) + '\n');
        },
        info: () => undefined,
        warn: () => undefined,
      },
    });
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const mirrorUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // the runtime side: hosts.toml written by the mirror writer, read by a real containerd
      const root = join(data.path, 'root');
      const written = await applyMirrors({ root, mirrorUrl, targets: planMirrors({ selections: parseMirrorSpec('containerd'), registries: registriesOf(state) }) });
      expect(written.written.map((p) => p.slice(root.length))).toEqual(['/etc/containerd/config.toml', `/etc/containerd/certs.d/${up.host}/hosts.toml`]);
      await using containerd = await startContainerd({ configPath: join(root, 'etc/containerd/certs.d') });

      const appName = `${up.host}/library/app:v1`;
      await containerd.cri.pullImage(appName);
      expect((await containerd.cri.imageStatus(appName))?.repoDigests).toContain(`${up.host}/library/app@${app.digest}`);
      // every manifest and blob came from the satellite, asked for by upstream name with ?ns=<upstream host>
      const ns = `ns=${encodeURIComponent(up.host)}`;
      expect(requests.filter((r) => r.url.includes(`/v2/library/app/blobs/`) && r.url.includes(ns) && r.status === 200).length).toBe(3);
      expect(requests.some((r) => r.url.startsWith(`/v2/library/app/manifests/v1?${ns}`) && r.status === 200)).toBe(true);
      expect(handler.counters().byRoute.blob).toBe(3);

      // pull-through: not desired, allow-listed, fetched from upstream while served
      const webName = `${up.host}/library/web:v1`;
      await containerd.cri.pullImage(webName);
      expect(pull.stats()).toMatchObject({ manifestsFetched: 1, blobsFetched: 2 });

      // upstream gone: both still pull, from the satellite
      await up.stop();
      await containerd.cri.removeImage(appName);
      await containerd.cri.removeImage(webName);
      expect(await containerd.cri.imageStatus(appName)).toBeNull();
      const before = handler.counters().byRoute.blob ?? 0;
      await containerd.cri.pullImage(appName);
      await containerd.cri.pullImage(webName);
      expect((await containerd.cri.imageStatus(webName))?.repoDigests).toContain(`${up.host}/library/web@${web.digest}`);
      // removing an image in CRI keeps its content in containerd's store, so a re-pull may only resolve:
      // the manifests at least were asked of the satellite again
      expect(handler.counters().byRoute.manifest).toBeGreaterThanOrEqual(4);
      expect(handler.counters().byRoute.blob ?? 0).toBeGreaterThanOrEqual(before);
      expect(pull.stats().manifestsFetched).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pull.flush();
    }
  });
});
