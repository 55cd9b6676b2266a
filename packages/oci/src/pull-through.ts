// Pull-through for the registry handler: a manifest or blob the store lacks is fetched from the
// upstream registry when its repository is on the allow-list, served while it is stored, and kept as
// proxy-cached content within a store quota. Eviction is least recently used and touches only what
// pull-through itself brought in: it untags the tags it created (never a pinned manifest, never a tag
// that has moved on) and lets a GC restricted to that content's blobs delete what nothing else uses,
// so desired (pinned or tagged) content and blobs it shares are never deleted.
//
// A tag pull-through created is revalidated when asked for after `tagTtlMs`: a HEAD upstream, and when
// the tag moved there, the new manifest is fetched and the tag moved here too. An unreachable upstream
// leaves the cached manifest served (and asked again a little later, not on every request).
//
// The ledger of proxy-cached content lives in a JSON file beside the store (not inside the OCI layout).
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { open, readFile, rename } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { RegistryClient } from './client.js';
import { isDigest, isTag } from './digest.js';
import { OciError, isOciError } from './errors.js';
import type { ContentStore, StoredManifest } from './store.js';
import type { OciLogger } from './logger.js';
import { storedTree } from './tree.js';

export interface PullThroughOptions {
  store: ContentStore;
  /** the upstream for a registry host (from `?ns=`, or `defaultHost`); undefined = that host is never pulled through */
  upstream: (host: string) => RegistryClient | undefined;
  /** registry host of requests without `?ns=` (Docker, CRI-O, skopeo) @default none: such requests are never pulled through */
  defaultHost?: string;
  /**
   * `<host>/<repository>` patterns that may be pulled through: `*` matches within one path segment,
   * `**` any number of segments (`docker.io/library/*`, `ghcr.io/acme/**`). Empty = pull-through off.
   */
  allow: string[];
  /** store size in bytes above which proxy-cached content is evicted, least recently used first @default 0 = no limit */
  quotaBytes?: number;
  /** @default `<store.root>.pull-through.json` */
  ledgerPath?: string;
  /** a pulled-through tag older than this is checked against the upstream when asked for; 0 = never @default 300_000 */
  tagTtlMs?: number;
  /** longest a revalidation waits for the upstream before the cached manifest is served @default 3_000 */
  revalidateTimeoutMs?: number;
  /** the clock tag ages are judged by (ms) @default Date.now */
  clock?: () => number;
  logger?: OciLogger;
}

/** One request that missed: the store repository it resolved to, and what the client asked for. */
export interface PullThroughRequest {
  /** repository in the store (after `resolveRepository`) */
  repository: string;
  /** the repository path as the client sent it: the upstream's path */
  name: string;
  /** the registry host the client named with `?ns=` */
  ns: string | undefined;
}

export interface PullThroughStats {
  manifestsFetched: number;
  blobsFetched: number;
  /** blob bytes received from upstreams */
  bytesFetched: number;
  /** misses answered not-found because the upstream could not be reached */
  upstreamUnavailable: number;
  /** proxy-cached manifests and blobs evicted for the quota */
  evicted: number;
  /** entries in the ledger */
  cached: number;
  /** pulled-through tags checked against their upstream */
  tagsRevalidated: number;
  /** of those, tags that had moved upstream and were moved here */
  tagsMoved: number;
  /** checks the upstream did not answer (the cached manifest was served) */
  revalidationFailures: number;
}

export interface EvictionResult {
  evicted: number;
  freedBytes: number;
  usageBytes: number;
}

export interface PullThrough {
  /** whether a miss of `name` (from `ns`) may be fetched: on the allow-list and an upstream exists */
  allows(name: string, ns: string | undefined): boolean;
  /** fetch and store a manifest the store lacks; throws MANIFEST_UNKNOWN saying why when it cannot */
  manifest(req: PullThroughRequest, reference: string): Promise<StoredManifest>;
  /**
   * `cached` is what the store holds for `tag`: when pull-through created that tag and last checked it
   * more than `tagTtlMs` ago, ask the upstream and follow a moved tag. Never throws: on any failure the
   * cached manifest is the answer.
   */
  revalidate(req: PullThroughRequest, tag: string, cached: StoredManifest): Promise<StoredManifest>;
  /** answer GET of a blob the store lacks from upstream, storing it as it streams (the last chunk is held back until the digest is verified) */
  serveBlob(req: PullThroughRequest, digest: string, res: ServerResponse): Promise<void>;
  /** fetch a blob the store lacks into the store (for HEAD and Range requests) */
  fetchBlob(req: PullThroughRequest, digest: string): Promise<void>;
  /** note that a manifest was served (LRU) */
  touch(repository: string, digest: string): void;
  /** what pull-through brought in, by repository: a prune of undesired tags must leave these tags alone */
  cachedManifests(): Array<{ repository: string; digest: string; tags: string[] }>;
  /** evict proxy-cached content until the store is within the quota */
  enforceQuota(): Promise<EvictionResult>;
  stats(): PullThroughStats;
  /** wait for pending ledger writes and quota work */
  flush(): Promise<void>;
}

interface ManifestEntry {
  kind: 'manifest';
  repository: string;
  digest: string;
  /** tags pull-through created */
  tags: string[];
  lastUsed: number;
}

interface BlobEntry {
  kind: 'blob';
  repository: string;
  digest: string;
  size: number;
  lastUsed: number;
}

type Entry = ManifestEntry | BlobEntry;

/** `*` within a segment, `**` across segments; matched against `<host>/<repository>` */
export function compileAllowList(patterns: string[]): (hostAndRepository: string) => boolean {
  const res = patterns
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p) => {
      const body = p
        .split(/(\*\*|\*)/)
        .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return new RegExp(`^${body}$`);
    });
  return (s) => res.some((re) => re.test(s));
}

export async function createPullThrough(opts: PullThroughOptions): Promise<PullThrough> {
  const { store, logger: log } = opts;
  const allowed = compileAllowList(opts.allow);
  const quota = opts.quotaBytes ?? 0;
  const ledgerPath = opts.ledgerPath ?? `${store.root.replace(/\/+$/, '')}.pull-through.json`;
  const stats: PullThroughStats = {
    manifestsFetched: 0,
    blobsFetched: 0,
    bytesFetched: 0,
    upstreamUnavailable: 0,
    evicted: 0,
    cached: 0,
    tagsRevalidated: 0,
    tagsMoved: 0,
    revalidationFailures: 0,
  };
  const tagTtlMs = opts.tagTtlMs ?? 300_000;
  const revalidateTimeoutMs = opts.revalidateTimeoutMs ?? 3_000;
  const clock = opts.clock ?? Date.now;
  /** `<repository>:<tag>` -> when it was last checked upstream (ms); nothing after a restart: checked at first use */
  const checkedAt = new Map<string, number>();
  const revalidating = new Map<string, Promise<StoredManifest>>();
  const entries = new Map<string, Entry>();
  const keyOf = (kind: Entry['kind'], repository: string, digest: string) => `${kind} ${repository} ${digest}`;
  try {
    const saved = JSON.parse(await readFile(ledgerPath, 'utf8')) as { entries?: Entry[] };
    for (const e of saved.entries ?? []) entries.set(keyOf(e.kind, e.repository, e.digest), e);
  } catch {
    // no ledger yet (or unreadable: start empty; untracked content is then kept like desired content)
  }
  const inflight = new Map<string, Promise<void>>();
  let saving: Promise<void> = Promise.resolve();
  let quotaWork: Promise<EvictionResult> | undefined;

  const hostOf = (ns: string | undefined) => (ns ? ns.toLowerCase() : opts.defaultHost);
  const upstreamFor = (name: string, ns: string | undefined) => {
    const host = hostOf(ns);
    if (!host || !allowed(`${host}/${name}`)) return undefined;
    const client = opts.upstream(host);
    return client ? { host, client } : undefined;
  };

  function save(): Promise<void> {
    stats.cached = entries.size;
    const body = JSON.stringify({ entries: [...entries.values()] });
    saving = saving.then(async () => {
      const tmp = `${ledgerPath}.tmp-${randomBytes(4).toString('hex')}`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, ledgerPath);
    }).catch((err: unknown) => log?.warn({ err: (err as Error).message, path: ledgerPath }, 'cannot save the pull-through ledger'));
    return saving;
  }

  function record(e: Entry) {
    const k = keyOf(e.kind, e.repository, e.digest);
    const prev = entries.get(k);
    if (prev?.kind === 'manifest' && e.kind === 'manifest') e.tags = [...new Set([...prev.tags, ...e.tags])];
    entries.set(k, e);
    void save();
    scheduleQuota();
  }

  let quotaAgain = false;
  function scheduleQuota() {
    if (quota <= 0) return;
    if (quotaWork) {
      quotaAgain = true;
      return;
    }
    quotaWork = enforce().finally(() => {
      quotaWork = undefined;
      if (quotaAgain) {
        quotaAgain = false;
        scheduleQuota();
      }
    });
    quotaWork.catch((err: unknown) => log?.warn({ err: (err as Error).message }, 'pull-through quota enforcement failed'));
  }

  /** not found, saying why: the upstream is down, or it does not have it either */
  function missError(kind: 'manifest' | 'blob', what: string, upstream: { host: string; client: RegistryClient }, err: unknown): OciError {
    const code = kind === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN';
    if (isOciError(err) && (err.code === 'MANIFEST_UNKNOWN' || err.code === 'NAME_UNKNOWN' || err.code === 'BLOB_UNKNOWN')) {
      return new OciError(code, `${what} is not on this satellite, nor on the upstream ${upstream.client.url}`, { cause: err });
    }
    stats.upstreamUnavailable++;
    const why = err instanceof Error ? err.message : String(err);
    log?.warn({ what, upstream: upstream.client.url, err: why }, 'pull-through miss: upstream unreachable');
    return new OciError(code, `${what} is not on this satellite and its upstream ${upstream.client.url} is unreachable (${why})`, { cause: err });
  }

  /** run once per digest at a time; a second caller waits for the first */
  async function single(key: string, fn: () => Promise<void>): Promise<boolean> {
    const running = inflight.get(key);
    if (running) {
      await running.catch(() => undefined);
      return false;
    }
    const p = fn();
    inflight.set(key, p);
    try {
      await p;
      return true;
    } finally {
      inflight.delete(key);
    }
  }

  async function enforce(): Promise<EvictionResult> {
    await Promise.all(inflight.values()).catch(() => undefined);
    let usage = (await store.usage()).bytes;
    const result: EvictionResult = { evicted: 0, freedBytes: 0, usageBytes: usage };
    while (usage > quota) {
      const victim = [...entries.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!victim) {
        log?.warn({ usage, quota }, 'store above the pull-through quota with no proxy-cached content left to evict');
        break;
      }
      entries.delete(keyOf(victim.kind, victim.repository, victim.digest));
      const candidates = new Set<string>();
      if (victim.kind === 'manifest') {
        if (store.isPinned(victim.repository, victim.digest)) continue; // desired now: not ours to evict
        for (const tag of victim.tags) {
          const at = await store.getManifest(victim.repository, tag).catch(() => undefined);
          if (at?.digest === victim.digest) await store.untag(victim.repository, tag);
        }
        await storedTree(store, victim.repository, victim.digest, candidates);
        // blobs of this manifest recorded on their own go with it
        for (const e of [...entries.values()]) if (e.kind === 'blob' && candidates.has(e.digest)) entries.delete(keyOf(e.kind, e.repository, e.digest));
      } else {
        candidates.add(victim.digest);
      }
      // a GC limited to these blobs: whatever a tagged or pinned manifest still reaches is kept
      const gc = await store.gc({ graceMs: 0, only: candidates });
      result.evicted++;
      result.freedBytes += gc.freedBytes;
      stats.evicted++;
      usage = (await store.usage()).bytes;
      log?.debug({ repository: victim.repository, digest: victim.digest, freedBytes: gc.freedBytes, usage, quota }, 'proxy-cached content evicted');
    }
    result.usageBytes = usage;
    if (result.evicted > 0) await save();
    return result;
  }

  return {
    allows: (name, ns) => upstreamFor(name, ns) !== undefined,

    revalidate(req, tag, cached) {
      if (tagTtlMs <= 0) return Promise.resolve(cached);
      const key = `${req.repository}:${tag}`;
      const entry = entries.get(keyOf('manifest', req.repository, cached.digest));
      // only tags pull-through created: tags of desired content follow the desired state
      if (entry?.kind !== 'manifest' || !entry.tags.includes(tag)) return Promise.resolve(cached);
      const last = checkedAt.get(key);
      if (last !== undefined && clock() - last < tagTtlMs) return Promise.resolve(cached);
      const running = revalidating.get(key);
      if (running) return running;
      const up = upstreamFor(req.name, req.ns);
      if (!up) return Promise.resolve(cached);
      const p = (async (): Promise<StoredManifest> => {
        const signal = AbortSignal.timeout(revalidateTimeoutMs);
        try {
          stats.tagsRevalidated++;
          const now = await up.client.resolve(req.name, tag, { signal });
          checkedAt.set(key, clock());
          if (now.digest === cached.digest) return cached;
          const fetched = await up.client.getManifest(req.name, now.digest, { signal });
          await store.putManifest(req.repository, fetched.bytes, fetched.mediaType, [tag]);
          stats.tagsMoved++;
          // the tag left the old manifest: eviction must not untag it there, nor count it as this tag's
          entry.tags = entry.tags.filter((t) => t !== tag);
          record({ kind: 'manifest', repository: req.repository, digest: fetched.digest, tags: [tag], lastUsed: Date.now() });
          log?.info({ repository: req.repository, tag, from: cached.digest, to: fetched.digest }, 'pulled-through tag moved upstream; followed');
          return { bytes: fetched.bytes, mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.size };
        } catch (err) {
          stats.revalidationFailures++;
          // ask again in a minute at the earliest, not on every request while the upstream is away
          checkedAt.set(key, clock() - tagTtlMs + Math.min(tagTtlMs, 60_000));
          log?.debug({ repository: req.repository, tag, err: err instanceof Error ? err.message : String(err) }, 'pulled-through tag not revalidated; serving the cached manifest');
          return cached;
        } finally {
          revalidating.delete(key);
        }
      })();
      revalidating.set(key, p);
      return p;
    },

    async manifest(req, reference) {
      const up = upstreamFor(req.name, req.ns);
      if (!up) throw new OciError('MANIFEST_UNKNOWN', `manifest ${req.name}:${reference} is not on this satellite`, { repository: req.repository, reference });
      const what = `manifest ${up.host}/${req.name}${isDigest(reference) ? '@' : ':'}${reference}`;
      let fetched;
      try {
        fetched = await up.client.getManifest(req.name, reference);
      } catch (err) {
        throw missError('manifest', what, up, err);
      }
      const tags = isTag(reference) ? [reference] : [];
      await store.putManifest(req.repository, fetched.bytes, fetched.mediaType, tags);
      if (isTag(reference)) checkedAt.set(`${req.repository}:${reference}`, clock());
      stats.manifestsFetched++;
      log?.debug({ repository: req.repository, upstream: up.client.url, reference, digest: fetched.digest }, 'manifest pulled through');
      record({ kind: 'manifest', repository: req.repository, digest: fetched.digest, tags, lastUsed: Date.now() });
      return { bytes: fetched.bytes, mediaType: fetched.mediaType, digest: fetched.digest, size: fetched.size };
    },

    async serveBlob(req, digest, res) {
      const up = upstreamFor(req.name, req.ns);
      if (!up) throw new OciError('BLOB_UNKNOWN', `blob ${digest} is not on this satellite`, { digest });
      let served = false;
      const first = await single(`blob ${digest}`, async () => {
        let source;
        try {
          source = await up.client.openBlob(req.name, digest);
        } catch (err) {
          throw missError('blob', `blob ${up.host}/${req.name}@${digest}`, up, err);
        }
        const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': digest, ETag: `"${digest}"` };
        if (source.size !== undefined) headers['Content-Length'] = String(source.size);
        res.writeHead(200, headers);
        served = true;
        const toStore = new PassThrough();
        const stored = store.putBlob(toStore, digest);
        let storeFailed = false;
        stored.catch(() => {
          storeFailed = true;
          toStore.destroy();
        });
        let clientGone = false;
        res.once('close', () => {
          clientGone = true;
        });
        // the client gets every chunk but the last until the whole blob is verified: a corrupt
        // transfer ends as a truncated response, never as complete wrong bytes
        let held: Buffer | undefined;
        let size = 0;
        try {
          for await (const chunk of source.stream as AsyncIterable<Buffer>) {
            size += chunk.length;
            stats.bytesFetched += chunk.length;
            if (storeFailed) break;
            if (!toStore.write(chunk)) await Promise.race([once(toStore, 'drain'), stored.catch(() => undefined)]);
            if (held && !clientGone && !res.write(held)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
            held = chunk;
          }
          toStore.end();
        } catch (err) {
          toStore.destroy(err as Error);
          source.stream.destroy();
          await stored.catch(() => undefined);
          res.destroy();
          throw err;
        }
        try {
          await stored;
        } catch (err) {
          source.stream.destroy();
          res.destroy();
          log?.warn({ digest, upstream: up.client.url, err: (err as Error).message }, 'pull-through blob rejected');
          throw err;
        }
        if (clientGone) res.destroy();
        else res.end(held);
        stats.blobsFetched++;
        record({ kind: 'blob', repository: req.repository, digest, size, lastUsed: Date.now() });
      }).catch((err: unknown) => {
        if (served) return true;
        throw err;
      });
      if (!first && !served) {
        // another request fetched it meanwhile: serve the stored copy
        if (!(await store.hasBlob(digest))) throw new OciError('BLOB_UNKNOWN', `blob ${digest} could not be pulled through`, { digest });
        const reader = await store.openBlob(digest);
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(reader.size), 'Docker-Content-Digest': digest, ETag: `"${digest}"` });
        for await (const chunk of reader.stream as AsyncIterable<Buffer>) if (!res.write(chunk)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        res.end();
      }
    },

    async fetchBlob(req, digest) {
      const up = upstreamFor(req.name, req.ns);
      if (!up) throw new OciError('BLOB_UNKNOWN', `blob ${digest} is not on this satellite`, { digest });
      await single(`blob ${digest}`, async () => {
        let r;
        try {
          r = await up.client.fetchBlob(req.name, digest, store.partialPath(digest));
        } catch (err) {
          throw missError('blob', `blob ${up.host}/${req.name}@${digest}`, up, err);
        }
        await store.commitPartial(digest);
        stats.blobsFetched++;
        stats.bytesFetched += r.bytesFetched;
        record({ kind: 'blob', repository: req.repository, digest, size: r.size, lastUsed: Date.now() });
      });
    },

    touch(repository, digest) {
      const e = entries.get(keyOf('manifest', repository, digest));
      if (e) e.lastUsed = Date.now();
    },

    cachedManifests: () =>
      [...entries.values()].flatMap((e) => (e.kind === 'manifest' ? [{ repository: e.repository, digest: e.digest, tags: [...e.tags] }] : [])),
    enforceQuota: () => quotaWork ?? enforce(),
    stats: () => ({ ...stats, cached: entries.size }),
    async flush() {
      await quotaWork?.catch(() => undefined);
      await saving;
    },
  };
}
