// Tiny test images built offline with umoci and pushed with skopeo: single images with random
// layers (optionally sharing a layer by seed) and multi-platform indexes, as OCI or Docker media types.
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './process.js';

const run = promisify(execFile);
const UMOCI = process.env.UPLINK_UMOCI ?? '/usr/bin/umoci';
const SKOPEO = process.env.UPLINK_SKOPEO ?? '/usr/bin/skopeo';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

export type ImageFormat = 'oci' | 'docker';

export interface RegistryTarget {
  /** `127.0.0.1:<port>` */
  host: string;
  credentials?: { username: string; password: string } | undefined;
}

export interface TestImageOptions {
  /** where to push: an UpstreamRegistry, or `{ host }` */
  registry: RegistryTarget;
  repository: string;
  tag: string;
  /** @default 1 */
  layers?: number;
  /** bytes of random content in each layer (incompressible, so the blob is about that size) @default 1024 */
  layerBytes?: number;
  /** images built with the same seed have the same first layer (same digest), to test deduplication */
  sharedLayerFrom?: string;
  /** `os/arch[/variant]` @default 'linux/amd64' */
  platform?: string;
  /** 'docker' pushes Docker schema2 media types (manifest list for an index) @default 'oci' */
  format?: ImageFormat;
}

export interface TestImage {
  /** digest of the manifest as pushed */
  digest: string;
  mediaType: string;
  /** config digest */
  config: string;
  /** layer digests, base first */
  layers: string[];
  platform: string;
}

export interface TestIndexOptions extends Omit<TestImageOptions, 'platform'> {
  /** @default ['linux/amd64', 'linux/arm64'] */
  platforms?: string[];
}

export interface TestIndex {
  digest: string;
  mediaType: string;
  children: TestImage[];
}

interface Layout extends AsyncDisposable {
  path: string;
}

async function newLayout(): Promise<Layout> {
  const dir = await tempDir('uplink-image-');
  const path = join(dir.path, 'layout');
  await run(UMOCI, ['init', '--layout', path]);
  return { path, [Symbol.asyncDispose]: async () => dir[Symbol.asyncDispose]() };
}

/** deterministic bytes from a seed (a sha256 counter stream) */
function seeded(seed: string, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let off = 0, i = 0; off < n; i++) off += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, off);
  return out;
}

async function buildImage(layout: Layout, name: string, o: Omit<TestImageOptions, 'registry' | 'repository' | 'tag'>): Promise<Omit<TestImage, 'mediaType'>> {
  const platform = o.platform ?? 'linux/amd64';
  const [os, arch, variant] = platform.split('/');
  const image = `${layout.path}:${name}`;
  await run(UMOCI, ['new', '--image', image]);
  const bytes = o.layerBytes ?? 1024;
  for (let i = 0; i < (o.layers ?? 1); i++) {
    const file = join(layout.path, '..', `layer-${name}-${i}.bin`);
    await writeFile(file, i === 0 && o.sharedLayerFrom !== undefined ? seeded(o.sharedLayerFrom, bytes) : randomBytes(bytes));
    // a fixed mtime makes equal content give an equal layer digest
    await utimes(file, 1_000_000, 1_000_000);
    await run(UMOCI, ['insert', '--image', image, file, `/layer-${i}.bin`]);
  }
  const cfg = ['config', '--image', image, '--os', os ?? 'linux', '--architecture', arch ?? 'amd64'];
  if (variant) cfg.push('--config.label', `variant=${variant}`);
  await run(UMOCI, cfg);
  const desc = await refDescriptor(layout, name);
  const manifest = JSON.parse(await readBlob(layout, desc.digest)) as { config: { digest: string }; layers: Array<{ digest: string }> };
  return { digest: desc.digest, config: manifest.config.digest, layers: manifest.layers.map((l) => l.digest), platform };
}

async function refDescriptor(layout: Layout, name: string): Promise<{ digest: string; size: number; mediaType: string }> {
  const index = JSON.parse(await readFile(join(layout.path, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; size: number; mediaType: string; annotations?: Record<string, string> }>;
  };
  const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name);
  if (!d) throw new Error(`umoci layout has no ${name}`);
  return d;
}

function readBlob(layout: Layout, digest: string): Promise<string> {
  return readFile(join(layout.path, 'blobs', 'sha256', digest.replace(/^sha256:/, '')), 'utf8');
}

async function push(layout: Layout, name: string, o: TestImageOptions, all: boolean): Promise<{ digest: string; mediaType: string }> {
  const digestFile = join(layout.path, '..', `digest-${name}`);
  const args = ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', '--digestfile', digestFile];
  if (all) args.push('--all');
  if (o.format === 'docker') args.push('--format', 'v2s2');
  if (o.registry.credentials) args.push('--dest-creds', `${o.registry.credentials.username}:${o.registry.credentials.password}`);
  args.push(`oci:${layout.path}:${name}`, `docker://${o.registry.host}/${o.repository}:${o.tag}`);
  try {
    await run(SKOPEO, args);
  } catch (err) {
    throw new Error(`skopeo copy to ${o.registry.host}/${o.repository}:${o.tag} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
  }
  const digest = (await readFile(digestFile, 'utf8')).trim();
  const docker = o.format === 'docker';
  const mediaType = all
    ? docker ? 'application/vnd.docker.distribution.manifest.list.v2+json' : OCI_INDEX
    : docker ? 'application/vnd.docker.distribution.manifest.v2+json' : OCI_MANIFEST;
  return { digest, mediaType };
}

/** Build a small image and push it; returns the digest the registry knows it by. */
export async function pushTestImage(o: TestImageOptions): Promise<TestImage> {
  await using layout = await newLayout();
  const built = await buildImage(layout, 'image', o);
  const pushed = await push(layout, 'image', o, false);
  return { ...built, ...pushed };
}

/**
 * Build one image per platform, an OCI index over them (written by hand into the layout), and push
 * it all with `skopeo copy --all`. With format 'docker' the registry gets a Docker manifest list.
 * Child digests are those in the layout (OCI format) and change under 'docker' conversion; read the
 * pushed index to get them then.
 */
export async function pushTestIndex(o: TestIndexOptions): Promise<TestIndex> {
  await using layout = await newLayout();
  const platforms = o.platforms ?? ['linux/amd64', 'linux/arm64'];
  const children: TestImage[] = [];
  const descriptors = [];
  for (const [i, platform] of platforms.entries()) {
    const child = await buildImage(layout, `child-${i}`, { ...o, platform });
    const desc = await refDescriptor(layout, `child-${i}`);
    const [os, architecture, variant] = platform.split('/');
    descriptors.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, platform: { architecture, os, ...(variant ? { variant } : {}) } });
    children.push({ ...child, mediaType: OCI_MANIFEST });
  }
  const indexBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: descriptors }));
  const indexDigest = `sha256:${createHash('sha256').update(indexBytes).digest('hex')}`;
  await writeFile(join(layout.path, 'blobs', 'sha256', indexDigest.slice(7)), indexBytes);
  const indexPath = join(layout.path, 'index.json');
  const top = JSON.parse(await readFile(indexPath, 'utf8')) as { manifests: unknown[] };
  top.manifests.push({ mediaType: OCI_INDEX, digest: indexDigest, size: indexBytes.length, annotations: { 'org.opencontainers.image.ref.name': 'index' } });
  await writeFile(indexPath, JSON.stringify(top));
  const pushed = await push(layout, 'index', o, true);
  return { ...pushed, children };
}
