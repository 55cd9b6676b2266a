import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { isRepository } from '@uplink/oci';
import { createLogger } from '@uplink/observability';
import { tempDir } from '@uplink/testkit';
import { applyRuntimeConfig } from './index.js';
import { applyMirrors } from './mirrors.js';
import { parseMirrorSpec, planMirrors } from './mirror-spec.js';
import { createRepositoryResolver, nameArtifacts } from './naming.js';
import { renderContainerdConfig } from './render.js';
import type { RegistryEndpoint } from './registry-host.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, 'testdata', 'fixture');
const GOLDEN = join(here, 'testdata', 'golden');
const MIRROR = 'http://127.0.0.1:5050';
const REGISTRIES: RegistryEndpoint[] = [
  { host: 'docker.io', server: 'https://registry-1.docker.io' },
  { host: 'quay.io', server: 'https://quay.io' },
  { host: '127.0.0.1:5000', server: 'http://127.0.0.1:5000' },
];
const ALL = planMirrors({ selections: parseMirrorSpec('containerd;k3s;rke2;crio;docker'), registries: REGISTRIES });

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  return out.sort();
}

async function fixtureRoot() {
  const dir = await tempDir('uplink-runtime-');
  await cp(FIXTURE, dir.path, { recursive: true });
  return dir;
}

describe('mirror config writers', () => {
  it('write the golden files from the fixture, keeping unrelated settings and comments, with backups', async () => {
    await using root = await fixtureRoot();
    const r = await applyMirrors({ root: root.path, mirrorUrl: MIRROR, targets: ALL });
    expect(r.skipped).toEqual([]);
    expect(r.notes.join()).toMatch(/docker.io only/);
    for (const rel of await files(GOLDEN)) {
      const golden = (await readFile(join(GOLDEN, rel), 'utf8')).replaceAll('@ROOT@', root.path);
      expect(await readFile(join(root.path, rel), 'utf8'), rel).toBe(golden);
    }
    expect(r.written.map((p) => relative(root.path, p)).sort()).toEqual(await files(GOLDEN));
    // the previous version of every file that existed is kept beside it
    for (const rel of await files(FIXTURE)) {
      expect(await readFile(join(root.path, `${rel}.uplink-bak`), 'utf8')).toBe(await readFile(join(FIXTURE, rel), 'utf8'));
    }
    const containerd = parseToml(await readFile(join(root.path, 'etc/containerd/config.toml'), 'utf8')) as any;
    expect(containerd.plugins['io.containerd.grpc.v1.cri'].containerd.snapshotter).toBe('overlayfs');
    expect(containerd.plugins['io.containerd.grpc.v1.cri'].registry.configs['harbor.example.com'].tls.insecure_skip_verify).toBe(true);
    expect(containerd.plugins['io.containerd.grpc.v1.cri'].registry.config_path).toBe(join(root.path, 'etc/containerd/certs.d'));
    const k3s = parseYaml(await readFile(join(root.path, 'etc/rancher/k3s/registries.yaml'), 'utf8'));
    expect(k3s.configs['harbor.example.com'].auth.password).toBe('s3cret');
    expect(k3s.mirrors['docker.io'].endpoint).toEqual([MIRROR, 'https://dockerhub-cache.internal']);
    const docker = JSON.parse(await readFile(join(root.path, 'etc/docker/daemon.json'), 'utf8'));
    expect(docker['log-opts']).toEqual({ 'max-size': '10m' });
  });

  it('change nothing when applied again (content and mtime stay)', async () => {
    await using root = await fixtureRoot();
    const first = await applyMirrors({ root: root.path, mirrorUrl: MIRROR, targets: ALL });
    const mtimes = await Promise.all(first.written.map(async (p) => (await stat(p)).mtimeMs));
    const again = await applyMirrors({ root: root.path, mirrorUrl: MIRROR, targets: ALL });
    expect(again.written).toEqual([]);
    expect(again.backups).toEqual([]);
    expect(again.restart).toEqual([]);
    expect(await Promise.all(first.written.map(async (p) => (await stat(p)).mtimeMs))).toEqual(mtimes);
  });

  it('roll back every file of the apply when one cannot be written', async () => {
    await using root = await fixtureRoot();
    // a directory where Docker's daemon.json should be: the last write of the set fails
    await rm(join(root.path, 'etc/docker/daemon.json'));
    await mkdir(join(root.path, 'etc/docker/daemon.json/inside'), { recursive: true });
    const before = await files(root.path);
    const contents = await Promise.all(before.map((rel) => readFile(join(root.path, rel), 'utf8')));

    const err = await applyMirrors({ root: root.path, mirrorUrl: MIRROR, targets: ALL }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RUNTIME_CONFIG_WRITE_FAILED', path: join(root.path, 'etc/docker/daemon.json') });
    expect((err as Error).message).toMatch(/restored/);
    expect(await files(root.path)).toEqual(before);
    expect(await Promise.all(before.map((rel) => readFile(join(root.path, rel), 'utf8')))).toEqual(contents);
    // directories made for new files are gone too
    await expect(stat(join(root.path, 'etc/rancher/rke2'))).rejects.toThrow();
    await expect(stat(join(root.path, 'etc/containerd/certs.d/docker.io'))).rejects.toThrow();
  });

  it('create every file from nothing under an empty root', async () => {
    await using root = await tempDir('uplink-runtime-');
    const r = await applyMirrors({ root: root.path, mirrorUrl: MIRROR, targets: ALL });
    expect(r.backups).toEqual([]);
    expect(await readFile(join(root.path, 'etc/containerd/config.toml'), 'utf8')).toBe(
      `version = 2\n\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${join(root.path, 'etc/containerd/certs.d')}"\n`,
    );
    expect(JSON.parse(await readFile(join(root.path, 'etc/docker/daemon.json'), 'utf8'))).toEqual({ 'registry-mirrors': [MIRROR] });
    const conf = parseToml(await readFile(join(root.path, 'etc/containers/registries.conf'), 'utf8')) as any;
    expect(conf.registry.map((e: any) => [e.prefix, e.mirror[0].location])).toEqual([
      ['127.0.0.1:5000', '127.0.0.1:5050'],
      ['docker.io', '127.0.0.1:5050'],
      ['quay.io', '127.0.0.1:5050'],
    ]);
  });

  it('leave a file it cannot parse or that contradicts the change alone, and write the others', async () => {
    await using root = await tempDir('uplink-runtime-');
    await mkdir(join(root.path, 'etc/containers'), { recursive: true });
    await writeFile(join(root.path, 'etc/containers/registries.conf'), 'this is = = not toml\n');
    await mkdir(join(root.path, 'etc/containerd'), { recursive: true });
    const legacy = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\n  endpoint = ["https://mirror.example"]\n';
    await writeFile(join(root.path, 'etc/containerd/config.toml'), legacy);
    const r = await applyMirrors({ root: root.path, mirrorUrl: MIRROR, targets: ALL });
    expect(r.skipped.map((s) => [s.runtime, s.code])).toEqual([
      ['containerd', 'RUNTIME_CONFIG_CONFLICT'],
      ['crio', 'RUNTIME_CONFIG_INVALID'],
    ]);
    expect(await readFile(join(root.path, 'etc/containers/registries.conf'), 'utf8')).toBe('this is = = not toml\n');
    expect(await readFile(join(root.path, 'etc/containerd/config.toml'), 'utf8')).toBe(legacy);
    expect(r.written.map((p) => relative(root.path, p))).toContain('etc/rancher/k3s/registries.yaml');
  });

  it('keep an existing config_path and put hosts.toml there', () => {
    const r = renderContainerdConfig('version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"\n', '/x/certs.d');
    expect(r).toMatchObject({ changed: false, certsDir: '/etc/containerd/certs.d' });
    const v1 = renderContainerdConfig('# old\n[plugins.cri]\n  stream_server_port = "10010"\n', '/etc/containerd/certs.d');
    expect(v1.content).toBe('# old\n[plugins.cri]\n  stream_server_port = "10010"\n\n[plugins.cri.registry]\n  config_path = "/etc/containerd/certs.d"\n');
  });
});

describe('mirror selection', () => {
  it('parse runtime lists and per-runtime registries', () => {
    expect(parseMirrorSpec('containerd,k3s')).toEqual([
      { runtime: 'containerd', hosts: undefined },
      { runtime: 'k3s', hosts: undefined },
    ]);
    expect(parseMirrorSpec('containerd:docker.io,GHCR.io; podman:index.docker.io;')).toEqual([
      { runtime: 'containerd', hosts: ['docker.io', 'ghcr.io'] },
      { runtime: 'crio', hosts: ['docker.io'] },
    ]);
    expect(parseMirrorSpec('  ')).toEqual([]);
  });

  it('reject a bad spec with a message that says what is wrong', () => {
    expect(() => parseMirrorSpec('containerd:docker.io;cri-d')).toThrow(/unknown runtime "cri-d"/);
    expect(() => parseMirrorSpec('k3s:')).toThrow(/names no registry/);
    expect(() => parseMirrorSpec('k3s:not a host')).toThrow(/not a registry host/);
    try {
      parseMirrorSpec('nope');
    } catch (err) {
      expect(err).toMatchObject({ code: 'MIRROR_SPEC_INVALID' });
    }
  });

  it('merge the spec with the desired state: hosts of the state by default, servers from its URLs', () => {
    const targets = planMirrors({
      selections: parseMirrorSpec('containerd:ghcr.io'),
      stateRuntimes: ['containerd', 'docker'],
      registries: [{ host: 'harbor.example.com', server: 'https://harbor.example.com' }],
    });
    expect(targets).toEqual([
      { runtime: 'containerd', registries: [{ host: 'ghcr.io', server: 'https://ghcr.io' }, { host: 'harbor.example.com', server: 'https://harbor.example.com' }] },
      { runtime: 'docker', registries: [{ host: 'harbor.example.com', server: 'https://harbor.example.com' }] },
    ]);
  });
});

describe('image naming', () => {
  const state = {
    registries: [
      { name: 'hub', url: 'https://registry-1.docker.io' },
      { name: 'harbor', url: 'https://harbor.example.com' },
      { name: 'lab', url: 'http://127.0.0.1:5000' },
    ],
    artifacts: [
      { registry: 'hub', repository: 'library/nginx', tag: 'alpine', digest: `sha256:${'a'.repeat(64)}` },
      { registry: 'harbor', repository: 'library/nginx', tag: 'alpine', digest: `sha256:${'b'.repeat(64)}` },
      { registry: 'lab', repository: 'team/app', digest: `sha256:${'c'.repeat(64)}` },
    ],
  };

  it('store a path under its own name, and under <host-key>/<path> when two registries share it', () => {
    expect(nameArtifacts(state).map((n) => [n.storeRepository, n.imageName])).toEqual([
      ['docker.io/library/nginx', 'docker.io/library/nginx:alpine'],
      ['harbor.example.com/library/nginx', 'harbor.example.com/library/nginx:alpine'],
      ['team/app', `127.0.0.1:5000/team/app@sha256:${'c'.repeat(64)}`],
    ]);
    for (const n of nameArtifacts(state)) expect(isRepository(n.storeRepository)).toBe(true);
  });

  it('resolve what containerd asks for (?ns=) to what the store holds', () => {
    const resolve = createRepositoryResolver(state);
    expect(resolve('library/nginx', 'docker.io')).toBe('docker.io/library/nginx');
    expect(resolve('library/nginx', 'registry-1.docker.io')).toBe('docker.io/library/nginx');
    expect(resolve('library/nginx', 'harbor.example.com')).toBe('harbor.example.com/library/nginx');
    // a registry the state does not give this path to never gets another registry's image
    expect(resolve('team/app', 'ghcr.io')).toBe('ghcr.io/team/app');
    expect(resolve('team/app', '127.0.0.1:5000')).toBe('team/app');
    expect(resolve('team/app', undefined)).toBe('team/app');
    expect(resolve('library/alpine', 'docker.io')).toBe('library/alpine');
    expect(resolve('other/x', '127.0.0.1:9999')).toBe('other/x');
    expect(createRepositoryResolver(null)('a/b', 'docker.io')).toBe('a/b');
  });
});

describe('applyRuntimeConfig', () => {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const state = {
    registries: [{ name: 'hub', url: 'https://registry-1.docker.io' }],
    artifacts: [{ registry: 'hub', repository: 'library/nginx', tag: 'alpine', digest: `sha256:${'a'.repeat(64)}` }],
    config: { heartbeatSeconds: 30, mirrors: ['k3s' as const], directDelivery: false, bandwidthLimit: 0, syncWindows: [] },
  };

  it('writes the runtimes of the spec and of the desired state, and reports a bad spec without throwing', async () => {
    await using root = await tempDir('uplink-runtime-');
    const r = await applyRuntimeConfig({ root: root.path, mirrorUrl: MIRROR, mirrors: 'containerd', state, logger });
    expect(r.errors).toEqual([]);
    expect(r.mirrors?.written.map((p) => relative(root.path, p))).toEqual(['etc/containerd/config.toml', 'etc/containerd/certs.d/docker.io/hosts.toml', 'etc/rancher/k3s/registries.yaml']);
    expect(r.runtimes).toEqual([
      { runtime: 'containerd', registries: ['docker.io'] },
      { runtime: 'k3s', registries: ['docker.io'] },
    ]);
    const bad = await applyRuntimeConfig({ root: root.path, mirrorUrl: MIRROR, mirrors: 'containerd;kubelet', state, logger });
    expect(bad.errors).toEqual([expect.objectContaining({ code: 'MIRROR_SPEC_INVALID', message: expect.stringMatching(/unknown runtime "kubelet"/) })]);
    expect(bad.mirrors).toBeNull();
    expect(bad.runtimes).toEqual([]);
  });
});
