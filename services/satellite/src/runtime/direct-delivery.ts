// Direct delivery: each desired image written as an OCI-archive tarball into the K3s/RKE2 auto-import
// directory (`var/lib/rancher/k3s/agent/images/`), for sites where the runtime cannot pull from a
// registry at all. Content comes from the local store only, never from upstream: an image the store
// does not hold completely is reported, not written. Tarballs are written to a temp name and renamed;
// ours are recorded in `uplink-delivery.json` beside them, and only ours are ever removed.
//
// The tar is produced with `tar-stream`: a small, widely used streaming tar writer, so multi-GB layers
// stream from the store to disk without being buffered, and the format details (ustar/pax headers for
// long names and large sizes) are handled by code many projects rely on rather than by hand.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack } from 'tar-stream';
import { parseManifest, type ContentStore, type Descriptor } from '@uplink/oci';
import { RuntimeError } from './errors.js';
import { syncDir, writeFileAtomic } from './files.js';

export const K3S_IMAGES_DIR = 'var/lib/rancher/k3s/agent/images';
export const RKE2_IMAGES_DIR = 'var/lib/rancher/rke2/agent/images';
export const DELIVERY_RECORD = 'uplink-delivery.json';
/** the annotation containerd's importer takes the full image name from */
const CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';
const REF_NAME = 'org.opencontainers.image.ref.name';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export interface DeliveryImage {
  /** the name runtimes know it by, e.g. `docker.io/library/nginx:alpine` */
  name: string;
  /** repository in the content store */
  repository: string;
  /** the manifest or index */
  digest: string;
}

export interface DeliveryRecord {
  name: string;
  digest: string;
  /** file name inside the delivery directory */
  file: string;
  size: number;
  writtenAt: string;
}

export interface DeliveryResult {
  dir: string;
  written: DeliveryRecord[];
  /** already there and unchanged */
  kept: DeliveryRecord[];
  /** tarballs of images no longer desired, removed */
  removed: string[];
  failed: { name: string; digest: string; code: string; message: string }[];
}

export interface DeliverImagesOptions {
  store: ContentStore;
  /** the auto-import directory, e.g. `<root>/var/lib/rancher/k3s/agent/images` */
  dir: string;
  images: DeliveryImage[];
}

/** `docker.io/library/nginx:alpine` @ digest -> `uplink-docker.io_library_nginx_alpine-<12 hex>.tar` */
export function deliveryFileName(image: Pick<DeliveryImage, 'name' | 'digest'>): string {
  const safe = image.name.replace(/@sha256:[a-f0-9]+$/, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 160);
  return `uplink-${safe}-${image.digest.slice('sha256:'.length, 'sha256:'.length + 12)}.tar`;
}

interface Blob {
  digest: string;
  size: number;
}

/** Every blob of the image the store holds, manifests included; throws DELIVERY_CONTENT_MISSING when incomplete. */
async function collect(store: ContentStore, image: DeliveryImage): Promise<{ root: { mediaType: string; size: number }; blobs: Blob[] }> {
  const blobs = new Map<string, Blob>();
  const missing = (what: string) =>
    new RuntimeError('DELIVERY_CONTENT_MISSING', `${image.name}: ${what} is not in the local store; it is delivered once it has been synced`);
  const need = async (d: Pick<Descriptor, 'digest'>, what: string) => {
    const size = await store.blobSize(d.digest);
    if (size === undefined) throw missing(`${what} ${d.digest}`);
    blobs.set(d.digest, { digest: d.digest, size });
  };
  let root;
  try {
    root = await store.getManifest(image.repository, image.digest);
  } catch {
    throw missing(`manifest ${image.digest}`);
  }
  const walk = async (bytes: Buffer, mediaType: string, digest: string, isRoot: boolean) => {
    blobs.set(digest, { digest, size: bytes.length });
    const p = parseManifest(bytes, mediaType);
    if (p.isIndex) {
      // an index filtered to some platforms at sync: deliver the children the store holds
      let present = 0;
      for (const c of p.manifests) {
        const child = await store.getManifest(image.repository, c.digest).catch(() => undefined);
        if (!child) continue;
        present++;
        await walk(child.bytes, child.mediaType, child.digest, false);
      }
      if (isRoot && present === 0) throw missing('every platform image of the index');
      return;
    }
    if (p.config) await need(p.config, 'config');
    for (const l of p.layers) await need(l, 'layer');
  };
  await walk(root.bytes, root.mediaType, root.digest, true);
  return { root: { mediaType: root.mediaType, size: root.size }, blobs: [...blobs.values()] };
}

/** Write `image` from the store as an OCI archive at `path` (temp file, fsync, rename). */
export async function writeOciArchive(store: ContentStore, image: DeliveryImage, path: string): Promise<number> {
  const { root, blobs } = await collect(store, image);
  const tag = /:([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/.exec(image.name.replace(/^[^/]*\//, ''))?.[1];
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: root.mediaType, digest: image.digest, size: root.size, annotations: { [CONTAINERD_IMAGE_NAME]: image.name, ...(tag ? { [REF_NAME]: tag } : {}) } }],
  };
  const tmp = `${path}.uplink-tmp-${randomBytes(6).toString('hex')}`;
  const pack = tarPack();
  const out = pipeline(pack, createWriteStream(tmp, { mode: 0o644 }));
  try {
    const small = (name: string, body: string) => new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body, (err) => (err ? reject(err) : resolve())));
    await small('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await small('index.json', JSON.stringify(index));
    for (const b of blobs) {
      const reader = await store.openBlob(b.digest);
      const entry = pack.entry({ name: `blobs/sha256/${b.digest.slice('sha256:'.length)}`, size: reader.size, mode: 0o644, mtime: new Date(0) });
      await pipeline(reader.stream, entry);
    }
    pack.finalize();
    await out;
    const fh = await open(tmp, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    pack.destroy();
    await out.catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return (await stat(path)).size;
}

async function readRecord(dir: string): Promise<DeliveryRecord[]> {
  try {
    const r = JSON.parse(await readFile(join(dir, DELIVERY_RECORD), 'utf8')) as { images?: DeliveryRecord[] };
    return Array.isArray(r.images) ? r.images : [];
  } catch {
    return [];
  }
}

/**
 * Make the delivery directory hold exactly the desired images (ours; other files are left alone):
 * write what is missing or changed, remove tarballs of images no longer desired, record the result.
 * One image that cannot be written is reported in `failed` and does not stop the others.
 */
export async function deliverImages(opts: DeliverImagesOptions): Promise<DeliveryResult> {
  const { dir, store } = opts;
  await mkdir(dir, { recursive: true });
  const previous = await readRecord(dir);
  const result: DeliveryResult = { dir, written: [], kept: [], removed: [], failed: [] };
  const wanted = new Map<string, DeliveryImage>();
  for (const image of opts.images) wanted.set(deliveryFileName(image), image);

  for (const [file, image] of wanted) {
    const path = join(dir, file);
    const before = previous.find((r) => r.file === file && r.digest === image.digest && r.name === image.name);
    const size = await stat(path).then((s) => s.size, () => undefined);
    if (before && size === before.size) {
      result.kept.push(before);
      continue;
    }
    try {
      const written = await writeOciArchive(store, image, path);
      result.written.push({ name: image.name, digest: image.digest, file, size: written, writtenAt: new Date().toISOString() });
    } catch (err) {
      const code = err instanceof RuntimeError ? err.code : 'DELIVERY_WRITE_FAILED';
      result.failed.push({ name: image.name, digest: image.digest, code, message: (err as Error).message });
    }
  }
  for (const r of previous) {
    if (wanted.has(r.file)) continue;
    await unlink(join(dir, r.file)).then(
      () => result.removed.push(r.file),
      (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : result.failed.push({ name: r.name, digest: r.digest, code: 'DELIVERY_WRITE_FAILED', message: `cannot remove ${r.file}: ${err.message}` })),
    );
  }
  const record = [...result.kept, ...result.written].sort((a, b) => (a.file < b.file ? -1 : 1));
  const changed = result.written.length > 0 || result.removed.length > 0 || record.length !== previous.length;
  if (changed) await writeFileAtomic(join(dir, DELIVERY_RECORD), JSON.stringify({ images: record }, null, 2) + '\n');
  await syncDir(dir);
  return result;
}
