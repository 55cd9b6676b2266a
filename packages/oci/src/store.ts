// Content-addressed store on disk in OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/<hex>`),
// readable by skopeo (`oci:<root>:<repo>:<tag>`) and umoci. A blob becomes visible only after it was
// written to `tmp/`, fsynced, verified and renamed; index.json is replaced the same way.
//
// index.json holds, per repository, one entry per manifest it contains (annotation
// `dev.uplink.repository`, plus `dev.uplink.pinned` when it must survive GC untagged) and one entry
// per tag (`org.opencontainers.image.ref.name` = `<repo>:<tag>`).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { assertDigest, assertRepository, digestOfHash, fileDigest, hexOf, isDigest, isTag, sha256Digest } from './digest.js';
import { OciError } from './errors.js';
import { MediaType, parseManifest, type Descriptor, type ParsedManifest } from './manifest.js';
import type { OciLogger } from './logger.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const REPOSITORY_ANNOTATION = 'dev.uplink.repository';
export const PINNED_ANNOTATION = 'dev.uplink.pinned';

export interface ContentStoreOptions {
  /** directory of the OCI layout; created if missing */
  root: string;
  logger?: OciLogger;
}

export interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
  size: number;
}

export interface BlobRange {
  /** first byte, inclusive */
  start: number;
  /** last byte, inclusive @default size - 1 */
  end?: number;
}

export interface BlobReader {
  stream: Readable;
  /** size of the whole blob */
  size: number;
  start: number;
  /** inclusive */
  end: number;
}

export interface PutManifestOptions {
  /** keep this manifest through GC even when no tag points to it @default false */
  pin?: boolean;
}

export interface GcOptions {
  /** blobs younger than this are kept, protecting a sync in progress @default 3_600_000 */
  graceMs?: number;
  /** files in `tmp/` (partial downloads, uploads, leftovers of a crash) untouched for this long are removed @default 86_400_000 */
  tmpMaxAgeMs?: number;
  /** consider only these blobs for deletion (e.g. evicting a cache); everything else is kept @default every blob */
  only?: Iterable<string>;
}

export interface GcResult {
  deleted: string[];
  freedBytes: number;
  kept: number;
  /** unreferenced but open for reading */
  skippedOpen: number;
  /** unreferenced but younger than the grace period */
  skippedYoung: number;
  /** stale files removed from `tmp/` */
  tmpRemoved: number;
}

export interface StoreUsage {
  bytes: number;
  blobs: number;
}

export interface VerifyResult {
  checked: number;
  corrupt: string[];
}

/** one entry of the store's index: a manifest a repository holds, or a tag pointing at one */
export interface ManifestEntry {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  /** set for a tag entry */
  tag?: string;
  /** a member entry kept through GC without a tag */
  pinned: boolean;
}

export interface ContentStore {
  readonly root: string;
  hasBlob(digest: string): Promise<boolean>;
  /** size of a stored blob, undefined when absent */
  blobSize(digest: string): Promise<number | undefined>;
  /** a read stream over the blob or a range of it; the blob is protected from GC until the stream closes */
  openBlob(digest: string, range?: BlobRange): Promise<BlobReader>;
  /** store a blob from a stream, visible only once its sha256 equals `expectedDigest` */
  putBlob(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable, expectedDigest: string): Promise<{ digest: string; size: number }>;
  /** where a download of `digest` in progress lives (`<root>/tmp/<hex>.partial`), resumable across restarts */
  partialPath(digest: string): string;
  /** verify the partial download of `digest` and move it into the store */
  commitPartial(digest: string): Promise<{ digest: string; size: number }>;
  /** store manifest bytes unchanged in `repository`, point `tags` at it; returns its digest */
  putManifest(repository: string, bytes: Uint8Array, mediaType: string, tags: string[], opts?: PutManifestOptions): Promise<string>;
  /** by tag or digest; throws NAME_UNKNOWN / MANIFEST_UNKNOWN */
  getManifest(repository: string, reference: string): Promise<StoredManifest>;
  hasManifest(repository: string, digest: string): Promise<boolean>;
  /** remove a tag; false when it did not exist */
  untag(repository: string, tag: string): Promise<boolean>;
  pin(repository: string, digest: string): Promise<void>;
  /** whether `repository` holds `digest` pinned (kept through GC untagged) */
  isPinned(repository: string, digest: string): boolean;
  unpin(repository: string, digest: string): Promise<void>;
  listRepositories(): Promise<string[]>;
  /** every manifest and tag entry of every repository */
  listManifests(): Promise<ManifestEntry[]>;
  hasRepository(repository: string): Promise<boolean>;
  /** sorted; throws NAME_UNKNOWN for an unknown repository */
  listTags(repository: string): Promise<string[]>;
  /** manifests of `repository` whose `subject` is `digest`, as descriptors of an OCI index */
  referrers(repository: string, digest: string, artifactType?: string): Promise<Descriptor[]>;
  gc(opts?: GcOptions): Promise<GcResult>;
  usage(): Promise<StoreUsage>;
  /** re-hash every blob; `remove` deletes the corrupt ones */
  verify(opts?: { remove?: boolean }): Promise<VerifyResult>;
  /** remove one blob (e.g. found damaged); false when absent or open for reading */
  deleteBlob(digest: string): Promise<boolean>;
  /** how many readers hold a blob open (GC skips those) */
  openReaders(digest: string): number;
  /** remove a manifest and every tag pointing to it from a repository; false when it was not there */
  deleteManifest(repository: string, digest: string): Promise<boolean>;
  /** start a chunked blob upload in `tmp/`; returns its id */
  beginUpload(): Promise<string>;
  /** append to an upload; returns its size afterwards; throws BLOB_UNKNOWN for an unknown id */
  appendUpload(id: string, source: AsyncIterable<Uint8Array> | Readable): Promise<number>;
  /** undefined for an unknown id */
  uploadSize(id: string): Promise<number | undefined>;
  /** verify an upload against `digest` and move it into the store; the upload is gone afterwards either way */
  commitUpload(id: string, digest: string): Promise<{ digest: string; size: number }>;
  cancelUpload(id: string): Promise<void>;
}

interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface IndexFile {
  schemaVersion: 2;
  mediaType?: string;
  manifests: IndexEntry[];
}

export async function openContentStore(opts: ContentStoreOptions): Promise<ContentStore> {
  const root = opts.root;
  const blobsDir = join(root, 'blobs', 'sha256');
  const tmpDir = join(root, 'tmp');
  const indexPath = join(root, 'index.json');
  const log = opts.logger;
  await mkdir(blobsDir, { recursive: true });
  await mkdir(tmpDir, { recursive: true });
  const layoutPath = join(root, 'oci-layout');
  if (!(await exists(layoutPath))) await writeAtomic(layoutPath, JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  let index: IndexFile;
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as IndexFile;
    if (!Array.isArray(index.manifests)) throw new Error('index.json has no manifests array');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new OciError('STORE_IO', `cannot read ${indexPath}: ${(err as Error).message}`, { cause: err });
    index = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
    await writeAtomic(indexPath, JSON.stringify(index));
  }

  const readers = new Map<string, number>();
  const parsedCache = new Map<string, ParsedManifest>();
  let chain: Promise<unknown> = Promise.resolve();

  /** serialize index changes and GC */
  function locked<T>(fn: () => Promise<T>): Promise<T> {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  }

  async function saveIndex(manifests: IndexEntry[]) {
    const next: IndexFile = { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests };
    await writeAtomic(indexPath, JSON.stringify(next));
    index = next;
  }

  function blobPath(digest: string) {
    return join(blobsDir, hexOf(digest));
  }

  async function writeAtomic(path: string, data: string | Uint8Array) {
    const tmp = join(tmpDir, `write-${randomBytes(8).toString('hex')}`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDir(join(path, '..'));
  }

  const repoOf = (e: IndexEntry) => e.annotations?.[REPOSITORY_ANNOTATION] ?? legacyRepo(e);
  const tagOf = (e: IndexEntry) => {
    const ref = e.annotations?.[REF_NAME_ANNOTATION];
    if (ref === undefined) return undefined;
    const i = ref.lastIndexOf(':');
    return i < 0 ? ref : ref.slice(i + 1);
  };
  const isMember = (e: IndexEntry, repo: string) => repoOf(e) === repo && tagOf(e) === undefined;

  async function parsed(digest: string, mediaType?: string): Promise<ParsedManifest | undefined> {
    const hit = parsedCache.get(digest);
    if (hit) return hit;
    let bytes: Buffer;
    try {
      bytes = await readFile(blobPath(digest));
    } catch {
      return undefined;
    }
    try {
      const p = parseManifest(bytes, mediaType);
      parsedCache.set(digest, p);
      return p;
    } catch {
      return undefined;
    }
  }

  async function ingestFile(tmp: string, expectedDigest: string, digest: string, size: number) {
    if (digest !== expectedDigest) {
      await unlink(tmp).catch(() => undefined);
      throw new OciError('DIGEST_MISMATCH', `content hashes to ${digest}, expected ${expectedDigest}`, { digest: expectedDigest });
    }
    const dest = blobPath(digest);
    if (await exists(dest)) {
      // already stored: keep the old file, refresh its age for the GC grace period
      await unlink(tmp).catch(() => undefined);
      const now = new Date();
      await utimes(dest, now, now).catch(() => undefined);
      return { digest, size };
    }
    await rename(tmp, dest);
    await syncDir(blobsDir);
    return { digest, size };
  }

  const store: ContentStore = {
    root,
    async hasBlob(digest) {
      assertDigest(digest);
      return exists(blobPath(digest));
    },
    async blobSize(digest) {
      assertDigest(digest);
      try {
        return (await stat(blobPath(digest))).size;
      } catch {
        return undefined;
      }
    },
    async openBlob(digest, range) {
      assertDigest(digest);
      const path = blobPath(digest);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch {
        throw new OciError('BLOB_UNKNOWN', `blob ${digest} is not in the store`, { digest });
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? size - 1;
      if (start < 0 || start > end + 1 || end >= size) throw new OciError('PROTOCOL_ERROR', `range ${start}-${end} is outside blob ${digest} of ${size} bytes`, { digest });
      readers.set(digest, (readers.get(digest) ?? 0) + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const n = (readers.get(digest) ?? 1) - 1;
        if (n <= 0) readers.delete(digest);
        else readers.set(digest, n);
      };
      // the empty blob: a stream that ends at once
      const stream = end < start ? Readable.from([]) : createReadStream(path, { start, end });
      stream.once('close', release);
      stream.once('error', release);
      return { stream, size, start, end };
    },
    async putBlob(source, expectedDigest) {
      assertDigest(expectedDigest);
      const tmp = join(tmpDir, `put-${randomBytes(8).toString('hex')}`);
      const hash = createHash('sha256');
      let size = 0;
      const fh = await open(tmp, 'w');
      try {
        for await (const chunk of source as AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
          hash.update(chunk);
          await fh.write(chunk);
          size += chunk.length;
        }
        await fh.sync();
      } catch (err) {
        await fh.close();
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      await fh.close();
      return ingestFile(tmp, expectedDigest, digestOfHash(hash), size);
    },
    partialPath(digest) {
      assertDigest(digest);
      return join(tmpDir, `${hexOf(digest)}.partial`);
    },
    async commitPartial(digest) {
      const path = store.partialPath(digest);
      let got: { digest: string; size: number };
      try {
        got = await fileDigest(path);
      } catch (err) {
        throw new OciError('BLOB_UNKNOWN', `no partial download of ${digest}`, { digest, cause: err });
      }
      const fh = await open(path, 'r+');
      await fh.sync().finally(() => fh.close());
      return ingestFile(path, digest, got.digest, got.size);
    },
    async putManifest(repository, bytes, mediaType, tags, o = {}) {
      assertRepository(repository);
      for (const t of tags) if (!isTag(t)) throw new OciError('TAG_INVALID', `"${t}" is not a valid tag`, { reference: t });
      const p = parseManifest(bytes, mediaType);
      const digest = sha256Digest(bytes);
      const path = blobPath(digest);
      if (!(await exists(path))) {
        await writeAtomic(path, bytes);
      } else {
        const now = new Date();
        await utimes(path, now, now).catch(() => undefined);
      }
      parsedCache.set(digest, p);
      await locked(async () => {
        const tagSet = new Set(tags);
        const next = index.manifests.filter((e) => !(repoOf(e) === repository && tagSet.has(tagOf(e) ?? '\0')));
        const member = next.find((e) => e.digest === digest && isMember(e, repository));
        if (!member) {
          next.push({ mediaType: p.mediaType, digest, size: bytes.length, annotations: { [REPOSITORY_ANNOTATION]: repository, ...(o.pin ? { [PINNED_ANNOTATION]: 'true' } : {}) } });
        } else if (o.pin && member.annotations?.[PINNED_ANNOTATION] !== 'true') {
          const i = next.indexOf(member);
          next[i] = { ...member, annotations: { ...member.annotations, [PINNED_ANNOTATION]: 'true' } };
        }
        for (const t of tags) {
          next.push({ mediaType: p.mediaType, digest, size: bytes.length, annotations: { [REF_NAME_ANNOTATION]: `${repository}:${t}`, [REPOSITORY_ANNOTATION]: repository } });
        }
        await saveIndex(next);
      });
      log?.debug({ repository, digest, tags }, 'manifest stored');
      return digest;
    },
    async getManifest(repository, reference) {
      assertRepository(repository);
      const entries = index.manifests.filter((e) => repoOf(e) === repository);
      if (entries.length === 0) throw new OciError('NAME_UNKNOWN', `repository ${repository} is not in the store`, { repository });
      const entry = isDigest(reference) ? entries.find((e) => e.digest === reference) : entries.find((e) => tagOf(e) === reference);
      if (!entry) throw new OciError('MANIFEST_UNKNOWN', `manifest ${repository}:${reference} is not in the store`, { repository, reference });
      let bytes: Buffer;
      try {
        bytes = await readFile(blobPath(entry.digest));
      } catch (err) {
        throw new OciError('MANIFEST_UNKNOWN', `manifest ${repository}@${entry.digest} is indexed but its blob is missing`, { repository, digest: entry.digest, cause: err });
      }
      return { bytes, mediaType: entry.mediaType, digest: entry.digest, size: bytes.length };
    },
    async hasManifest(repository, digest) {
      return index.manifests.some((e) => e.digest === digest && repoOf(e) === repository);
    },
    async untag(repository, tag) {
      return locked(async () => {
        const next = index.manifests.filter((e) => !(repoOf(e) === repository && tagOf(e) === tag));
        if (next.length === index.manifests.length) return false;
        await saveIndex(next);
        return true;
      });
    },
    async pin(repository, digest) {
      await setPinned(repository, digest, true);
    },
    async unpin(repository, digest) {
      await setPinned(repository, digest, false);
    },
    isPinned(repository, digest) {
      return index.manifests.some((e) => e.digest === digest && isMember(e, repository) && e.annotations?.[PINNED_ANNOTATION] === 'true');
    },
    async listRepositories() {
      return [...new Set(index.manifests.map(repoOf).filter((r): r is string => !!r))].sort();
    },
    async listManifests() {
      const out: ManifestEntry[] = [];
      for (const e of index.manifests) {
        const repository = repoOf(e);
        if (!repository) continue;
        const tag = tagOf(e);
        out.push({
          repository,
          digest: e.digest,
          mediaType: e.mediaType,
          size: e.size,
          ...(tag === undefined ? {} : { tag }),
          pinned: e.annotations?.[PINNED_ANNOTATION] === 'true',
        });
      }
      return out;
    },
    async hasRepository(repository) {
      return index.manifests.some((e) => repoOf(e) === repository);
    },
    async listTags(repository) {
      const entries = index.manifests.filter((e) => repoOf(e) === repository);
      if (entries.length === 0) throw new OciError('NAME_UNKNOWN', `repository ${repository} is not in the store`, { repository });
      return [...new Set(entries.map(tagOf).filter((t): t is string => t !== undefined))].sort();
    },
    async referrers(repository, digest, artifactType) {
      const out: Descriptor[] = [];
      const seen = new Set<string>();
      for (const e of index.manifests) {
        if (repoOf(e) !== repository || seen.has(e.digest)) continue;
        seen.add(e.digest);
        const p = await parsed(e.digest, e.mediaType);
        if (!p || p.subject?.digest !== digest) continue;
        const type = p.artifactType ?? p.config?.mediaType;
        if (artifactType !== undefined && type !== artifactType) continue;
        out.push({
          mediaType: e.mediaType,
          digest: e.digest,
          size: e.size,
          ...(type === undefined ? {} : { artifactType: type }),
          ...(p.annotations === undefined ? {} : { annotations: p.annotations }),
        });
      }
      return out;
    },
    gc: (o = {}) => locked(() => collect(o.graceMs ?? 3_600_000, o.tmpMaxAgeMs ?? 86_400_000, o.only === undefined ? undefined : new Set(o.only))),
    async usage() {
      let bytes = 0;
      let blobs = 0;
      for (const name of await readdir(blobsDir)) {
        try {
          bytes += (await stat(join(blobsDir, name))).size;
          blobs++;
        } catch {
          // deleted meanwhile
        }
      }
      return { bytes, blobs };
    },
    async verify(o = {}) {
      const corrupt: string[] = [];
      let checked = 0;
      for (const name of await readdir(blobsDir)) {
        const digest = `sha256:${name}`;
        if (!isDigest(digest)) continue;
        checked++;
        const got = await fileDigest(join(blobsDir, name)).catch(() => undefined);
        if (got?.digest === digest) continue;
        corrupt.push(digest);
        log?.warn({ digest, actual: got?.digest }, 'corrupt blob in store');
        if (o.remove && !readers.has(digest)) {
          await unlink(join(blobsDir, name)).catch(() => undefined);
          parsedCache.delete(digest);
        }
      }
      return { checked, corrupt };
    },
    async deleteBlob(digest) {
      assertDigest(digest);
      if (readers.has(digest)) return false;
      parsedCache.delete(digest);
      return unlink(blobPath(digest)).then(
        () => true,
        () => false,
      );
    },
    openReaders: (digest) => readers.get(digest) ?? 0,
    async deleteManifest(repository, digest) {
      return locked(async () => {
        const next = index.manifests.filter((e) => !(repoOf(e) === repository && e.digest === digest));
        if (next.length === index.manifests.length) return false;
        await saveIndex(next);
        return true;
      });
    },
    async beginUpload() {
      const id = randomBytes(16).toString('hex');
      await writeAtomic(uploadPath(id), new Uint8Array());
      return id;
    },
    async appendUpload(id, source) {
      const path = uploadPath(id);
      let fh;
      try {
        fh = await open(path, 'r+');
      } catch (err) {
        throw new OciError('BLOB_UNKNOWN', `no upload ${id}`, { cause: err });
      }
      try {
        let pos = (await fh.stat()).size;
        for await (const chunk of source as AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
          await fh.write(chunk, 0, chunk.length, pos);
          pos += chunk.length;
        }
        await fh.sync();
        return pos;
      } finally {
        await fh.close();
      }
    },
    async uploadSize(id) {
      try {
        return (await stat(uploadPath(id))).size;
      } catch {
        return undefined;
      }
    },
    async commitUpload(id, digest) {
      assertDigest(digest);
      const path = uploadPath(id);
      let got: { digest: string; size: number };
      try {
        got = await fileDigest(path);
      } catch (err) {
        throw new OciError('BLOB_UNKNOWN', `no upload ${id}`, { cause: err });
      }
      return ingestFile(path, digest, got.digest, got.size);
    },
    async cancelUpload(id) {
      await unlink(uploadPath(id)).catch(() => undefined);
    },
  };

  function uploadPath(id: string) {
    if (!/^[a-f0-9]{32}$/.test(id)) throw new OciError('BLOB_UNKNOWN', `no upload ${id}`);
    return join(tmpDir, `upload-${id}`);
  }

  async function setPinned(repository: string, digest: string, pinned: boolean) {
    await locked(async () => {
      const i = index.manifests.findIndex((e) => e.digest === digest && isMember(e, repository));
      const entry = index.manifests[i];
      if (!entry) throw new OciError('MANIFEST_UNKNOWN', `manifest ${repository}@${digest} is not in the store`, { repository, digest });
      const annotations = { ...entry.annotations };
      if (pinned) annotations[PINNED_ANNOTATION] = 'true';
      else delete annotations[PINNED_ANNOTATION];
      const next = [...index.manifests];
      next[i] = { ...entry, annotations };
      await saveIndex(next);
    });
  }

  // Mark from tagged and pinned manifests through children, config, layers and referrers; sweep the rest.
  async function collect(graceMs: number, tmpMaxAgeMs: number, only: Set<string> | undefined): Promise<GcResult> {
    const marked = new Set<string>();
    const queue = index.manifests.filter((e) => tagOf(e) !== undefined || e.annotations?.[PINNED_ANNOTATION] === 'true').map((e) => e.digest);
    const typeOf = new Map(index.manifests.map((e) => [e.digest, e.mediaType]));
    for (;;) {
      while (queue.length > 0) {
        const d = queue.pop()!;
        if (marked.has(d)) continue;
        marked.add(d);
        const p = await parsed(d, typeOf.get(d));
        if (!p) continue;
        for (const child of p.manifests) queue.push(child.digest);
        if (p.config) marked.add(p.config.digest);
        for (const l of p.layers) marked.add(l.digest);
      }
      // referrers (signatures, SBOMs) of a kept manifest are kept too
      for (const e of index.manifests) {
        if (marked.has(e.digest)) continue;
        const p = await parsed(e.digest, e.mediaType);
        if (p?.subject && marked.has(p.subject.digest)) queue.push(e.digest);
      }
      if (queue.length === 0) break;
    }
    const result: GcResult = { deleted: [], freedBytes: 0, kept: 0, skippedOpen: 0, skippedYoung: 0, tmpRemoved: 0 };
    const now = Date.now();
    for (const name of await readdir(blobsDir)) {
      const digest = `sha256:${name}`;
      if (marked.has(digest) || (only !== undefined && !only.has(digest))) {
        result.kept++;
        continue;
      }
      if (readers.has(digest)) {
        result.skippedOpen++;
        continue;
      }
      const st = await stat(join(blobsDir, name)).catch(() => undefined);
      if (!st) continue;
      if (now - st.mtimeMs < graceMs) {
        result.skippedYoung++;
        continue;
      }
      await unlink(join(blobsDir, name)).catch(() => undefined);
      parsedCache.delete(digest);
      result.deleted.push(digest);
      result.freedBytes += st.size;
    }
    for (const name of await readdir(tmpDir)) {
      const st = await stat(join(tmpDir, name)).catch(() => undefined);
      if (st && now - st.mtimeMs >= tmpMaxAgeMs && (await unlink(join(tmpDir, name)).then(() => true, () => false))) result.tmpRemoved++;
    }
    if (result.deleted.length > 0) {
      const gone = new Set(result.deleted);
      const next = index.manifests.filter((e) => !gone.has(e.digest));
      if (next.length !== index.manifests.length) await saveIndex(next);
      log?.debug({ deleted: result.deleted.length, freedBytes: result.freedBytes }, 'store gc');
    }
    return result;
  }

  return store;
}

/** entries written by other tools: `ref.name` of `repo:tag`, or a bare tag */
function legacyRepo(e: IndexEntry): string | undefined {
  const ref = e.annotations?.[REF_NAME_ANNOTATION];
  if (!ref) return undefined;
  const i = ref.lastIndexOf(':');
  return i > 0 ? ref.slice(0, i) : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function syncDir(dir: string) {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some filesystems refuse fsync on directories; the rename is still atomic
  }
}
