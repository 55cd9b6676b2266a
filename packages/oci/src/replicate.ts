// Copy one pinned artifact from an upstream registry into the local store: manifests by digest,
// only the blobs the store lacks, each fetched once even when several syncs want it at the same time.
import type { RegistryClient } from './client.js';
import { assertDigest, assertRepository } from './digest.js';
import { OciError } from './errors.js';
import { blobsOf, matchesPlatform, parseManifest, type Descriptor } from './manifest.js';
import type { ContentStore } from './store.js';
import type { OciLogger } from './logger.js';

export interface ReplicateArtifact {
  repository: string;
  /** the manifest or index to copy, always pinned */
  digest: string;
  /** the repository in the store @default `repository` */
  storeRepository?: string;
  /** tag to point at it in the store */
  tag?: string;
  /** `os/arch[/variant]`: keep only these children of an index (the index itself is stored unchanged) */
  platforms?: string[];
}

export interface ReplicateOptions {
  client: RegistryClient;
  store: ContentStore;
  artifact: ReplicateArtifact;
  /** blobs downloaded at once @default 3 */
  concurrency?: number;
  signal?: AbortSignal;
  logger?: OciLogger;
}

export interface ReplicateResult {
  /** blob bytes received over the network (a resumed blob counts only its remainder) */
  bytesFetched: number;
  blobsFetched: number;
  /** blobs already in the store, or fetched by a concurrent sync */
  blobsSkipped: number;
  manifests: number;
}

// Downloads in flight per store, shared by every replicate() call on it.
const inflight = new WeakMap<ContentStore, Map<string, Promise<number>>>();

export async function replicate(opts: ReplicateOptions): Promise<ReplicateResult> {
  const { client, store, artifact, signal, logger } = opts;
  assertRepository(artifact.repository);
  assertDigest(artifact.digest);
  const repo = artifact.repository;
  const local = artifact.storeRepository ?? repo;
  if (local !== repo) assertRepository(local);
  const result: ReplicateResult = { bytesFetched: 0, blobsFetched: 0, blobsSkipped: 0, manifests: 0 };

  // 1. manifests, depth first; children are stored before their parent so a visible tag never
  //    points at content the store lacks
  const manifests: Array<{ bytes: Buffer; mediaType: string; digest: string }> = [];
  const blobs = new Map<string, Descriptor>();
  const fetchTree = async (digest: string, platforms: string[] | undefined) => {
    const m = await client.getManifest(repo, digest, signal ? { signal } : {});
    const p = parseManifest(m.bytes, m.mediaType);
    if (p.isIndex) {
      const children = platforms ? p.manifests.filter((c) => platforms.some((w) => matchesPlatform(c.platform, w))) : p.manifests;
      if (platforms && children.length === 0) {
        throw new OciError('MANIFEST_UNKNOWN', `${repo}@${digest} has no manifest for ${platforms.join(', ')}`, { repository: repo, digest });
      }
      for (const c of children) await fetchTree(c.digest, undefined);
    } else {
      for (const b of blobsOf(p)) blobs.set(b.digest, b);
    }
    manifests.push(m);
  };
  await fetchTree(artifact.digest, artifact.platforms);

  // 2. blobs the store lacks, bounded concurrency, deduplicated across concurrent syncs
  let shared = inflight.get(store);
  if (!shared) inflight.set(store, (shared = new Map()));
  const downloads = shared;
  const fetchOne = async (d: Descriptor) => {
    const running = downloads.get(d.digest);
    if (running) {
      await running;
      result.blobsSkipped++;
      return;
    }
    // registered before the first await, so a concurrent sync of the same digest waits for this one
    const p = (async () => {
      if (await store.hasBlob(d.digest)) return -1;
      const r = await client.fetchBlob(repo, d.digest, store.partialPath(d.digest), { expectedSize: d.size, ...(signal ? { signal } : {}) });
      await store.commitPartial(d.digest);
      return r.bytesFetched;
    })();
    downloads.set(d.digest, p);
    try {
      const n = await p;
      if (n < 0) {
        result.blobsSkipped++;
      } else {
        result.bytesFetched += n;
        result.blobsFetched++;
      }
    } finally {
      downloads.delete(d.digest);
    }
  };
  await mapLimit([...blobs.values()], opts.concurrency ?? 3, fetchOne);

  // 3. manifests in dependency order, the root pinned and tagged
  for (const m of manifests) {
    const isRoot = m.digest === artifact.digest;
    await store.putManifest(local, m.bytes, m.mediaType, isRoot && artifact.tag ? [artifact.tag] : [], { pin: isRoot });
    result.manifests++;
  }
  logger?.debug({ repository: local, digest: artifact.digest, ...result }, 'artifact replicated');
  return result;
}

/** Run `fn` over items with at most `limit` at once; the first failure wins after all settle. */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (firstError !== undefined) throw firstError;
}
