// Replication: keeps the content store equal to the desired artifacts. One sync pass at a time goes over
// the targets of the current state: an artifact complete on disk costs a few stats and no network;
// the rest are copied from upstream (manifests by pinned digest, only missing blobs, shared layers
// once). A failing artifact is reported and retried in the background with backoff; it never holds
// the others back. Passes also run on a timer (drift repair), after a full re-hash (verify), and on
// demand; pruning untags what is no longer desired and GC deletes it after a grace period.
//
// Sync windows (`config.syncWindows`): outside them nothing new is fetched from upstream. Artifacts
// complete on disk are still found ready and served, content the site had before (a repair) is
// fetched at any time, and an explicit sync (`syncNow`, the sync-now command) ignores the windows.
// What waits is fetched by a pass when the next window opens.
//
// A desired state counts as applied once every artifact of it has been attempted: artifacts still
// failing then are `failed` in the per-artifact status (and keep being retried), so a broken image
// upstream never stalls the desired-state consumer.
import { setMaxListeners } from 'node:events';
import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { DesiredArtifact, DesiredState } from '@uplink/contracts';
import { backoffDelay } from '@uplink/bus';
import {
  blobsOf,
  createBandwidthLimiter,
  createRegistryClient,
  isOciError,
  matchesPlatform,
  parseManifest,
  replicate,
  sha256Digest,
  storedTree,
  type ContentStore,
  type GcResult,
  type ManifestEntry,
  type RegistryClient,
  type StoredManifest,
} from '@uplink/oci';
import type { Logger } from '@uplink/observability';
import type { ApplyContext } from './apply.js';
import type { CredentialsFor } from './credentials.js';
import { SatelliteError, SatelliteErrorCode } from './errors.js';
import type { SatelliteMetrics } from './metrics.js';
import type { SyncEventSink } from './sync-events.js';
import { nextRetryDue, planPrune, summarize, syncTargets, type ArtifactStatus, type PrunePlan, type SyncSummary, type SyncTarget } from './sync-plan.js';
import { syncWindowState } from './sync-window.js';

export type SyncReason = 'state' | 'resume' | 'manual' | 'drift' | 'retry' | 'verify' | 'window';

export interface SyncResult {
  reason: SyncReason;
  /** revision of the state synced, 0 when there is none */
  revision: number;
  /** blob bytes fetched from upstream by this pass */
  bytes: number;
  durationMs: number;
  total: number;
  ready: number;
  failed: number;
  /** artifacts that needed fetching (missing, damaged or failing before) */
  fetched: number;
  /** artifacts whose content waits for the next sync window */
  waiting: number;
  artifacts: ArtifactStatus[];
}

export interface SyncWindowStatus {
  /** the state's windows, as written; empty = fetching is allowed at any time */
  windows: string[];
  /** fetching new content is allowed now */
  open: boolean;
  /** artifacts whose content waits for the next window */
  waiting: number;
  /** when the next window opens (while closed) */
  nextWindowAt?: string;
  /** when the current window closes (while open) */
  closesAt?: string;
  /** windows that could not be read, ignored */
  invalid?: string[];
}

export interface PruneResult extends PrunePlan {
  dryRun: boolean;
}

export interface VerifyStoreResult {
  checked: number;
  corrupt: string[];
  /** corrupt blobs were deleted and fetched again */
  removed: boolean;
  /** the sync that repaired them (when `remove`) */
  sync?: SyncResult;
}

export interface ImageEntry {
  repository: string;
  tag?: string;
  digest: string;
  /** manifests, config and layers of the stored platforms */
  sizeBytes: number;
  /** sync status when desired; `stored` for content kept only until GC */
  status: ArtifactStatus['status'] | 'stored';
}

export interface ReplicatorSummary extends SyncSummary {
  lastSyncAt: string | null;
  /** blob bytes fetched from upstream since start */
  bytesTotal: number;
}

export interface ReplicatorOptions {
  satellite: string;
  store: ContentStore;
  logger: Logger;
  metrics: SatelliteMetrics;
  events: SyncEventSink;
  credentialsFor: CredentialsFor;
  /** the store repository of an artifact @default its upstream repository */
  storeRepositoryOf?: (state: DesiredState, artifact: DesiredArtifact) => string;
  /** blobs downloaded at once per artifact @default 4 */
  blobConcurrency?: number;
  /** artifacts synced at once @default 4 */
  artifactConcurrency?: number;
  /** unreferenced content is deleted only after this long @default 3_600_000 */
  gcGraceMs?: number;
  /** backoff between attempts of a failing artifact @default { initialMs: 5_000, maxMs: 300_000 } */
  retry?: { initialMs?: number; maxMs?: number };
  /** retries of one upstream request inside an attempt @default { retries: 3, baseMs: 250, maxMs: 5_000 } */
  requestRetry?: { retries?: number; baseMs?: number; maxMs?: number };
  /** timeout of one upstream request, and longest silence in a body @default 30_000 */
  requestTimeoutMs?: number;
  /** the status of some artifact changed (debounce on the caller's side) */
  onChange?: () => void;
  /** content a prune must leave alone although no desired artifact names it (pull-through's cache) */
  spare?: () => Array<{ repository: string; digest: string; tags: string[] }>;
  /** the time sync windows are judged by (ms since epoch) @default Date.now */
  clock?: () => number;
  /** while content waits for a window, the clock is looked at again this often (it may be set late, e.g. by NTP after boot) @default 60_000 */
  windowRecheckMs?: number;
}

export interface Replicator {
  /** sync `state` (every artifact attempted once), prune what it no longer wants; for applyDesiredState */
  realise(state: DesiredState, ctx: ApplyContext): Promise<void>;
  /** make `state` the one kept in sync and start a pass in the background, without pruning (used at start) */
  resume(state: DesiredState): void;
  /** a pass over the current state now: missing or damaged content fetched, failing artifacts retried */
  syncNow(): Promise<SyncResult>;
  /** the timer's check: repair missing or damaged content, retry what is due, then GC */
  driftCheck(): Promise<SyncResult>;
  /** untag and unpin what the current state does not want */
  prune(opts?: { dryRun?: boolean }): Promise<PruneResult>;
  /** delete unreferenced blobs older than the grace period (`graceSeconds` overrides it) */
  gc(opts?: { graceSeconds?: number }): Promise<GcResult>;
  /** re-hash every blob; with `remove` delete corrupt ones and fetch them again @default remove false */
  verifyStore(opts?: { remove?: boolean }): Promise<VerifyStoreResult>;
  /** what the local registry serves */
  listImages(): Promise<ImageEntry[]>;
  /** per desired artifact, in desired-state order */
  artifacts(): ArtifactStatus[];
  summary(): ReplicatorSummary;
  /** the sync windows of the current state, now */
  syncWindow(): SyncWindowStatus;
  /** the state kept in sync, if any */
  readonly current: DesiredState | null;
  /** the client of an upstream registry (shared bandwidth budget, credentials from `credentialsFor`) */
  upstreamClient(registryUrl: string): RegistryClient;
  close(): Promise<void>;
}

const WORKING_EVERY_MS = 10_000;
const ERROR_MAX = 1_000;

export function createReplicator(opts: ReplicatorOptions): Replicator {
  const { store, metrics, events } = opts;
  const log = opts.logger.child({ component: 'replication' });
  const ociLog = opts.logger.child({ component: 'oci' });
  const blobConcurrency = opts.blobConcurrency ?? 4;
  const artifactConcurrency = opts.artifactConcurrency ?? 4;
  const gcGraceMs = opts.gcGraceMs ?? 3_600_000;
  const retry = { initialMs: 5_000, maxMs: 300_000, ...opts.retry };
  const limiter = createBandwidthLimiter({ bytesPerSecond: 0 });
  const clients = new Map<string, { client: RegistryClient; credsKey: string }>();
  const closing = new AbortController();

  let current: DesiredState | null = null;
  let targets: SyncTarget[] = [];
  let statuses = new Map<string, ArtifactStatus>();
  let lastSyncAt: string | null = null;
  let bytesTotal = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let windowTimer: NodeJS.Timeout | undefined;
  /** keys of artifacts whose content waits for a sync window */
  const waiting = new Set<string>();
  const clock = opts.clock ?? Date.now;
  const windowRecheckMs = opts.windowRecheckMs ?? 60_000;
  const windowNow = () => syncWindowState(current?.config.syncWindows ?? [], clock());
  let chain: Promise<unknown> = Promise.resolve();
  const background = new Set<Promise<unknown>>();

  /** passes, prune and GC one at a time */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  }

  function track(p: Promise<unknown>) {
    background.add(p);
    p.catch((err: unknown) => {
      if (!closing.signal.aborted) log.error({ err }, 'background sync failed');
    }).finally(() => background.delete(p));
  }

  const repoOf = (state: DesiredState) => (a: DesiredArtifact) => opts.storeRepositoryOf?.(state, a) ?? a.repository;

  function setTarget(state: DesiredState) {
    current = state;
    targets = syncTargets(state, repoOf(state));
    const next = new Map<string, ArtifactStatus>();
    for (const t of targets) {
      const prev = statuses.get(t.key);
      next.set(t.key, prev ? { ...prev, tags: t.tags } : { repository: t.repository, digest: t.digest, tags: t.tags, status: 'pending', attempts: 0 });
    }
    statuses = next;
    for (const k of waiting) if (!next.has(k)) waiting.delete(k);
    changed();
  }

  function changed() {
    const counts = { pending: 0, syncing: 0, ready: 0, failed: 0 };
    for (const s of statuses.values()) counts[s.status]++;
    for (const [k, v] of Object.entries(counts)) metrics.artifacts.set({ status: k }, v);
    opts.onChange?.();
  }

  function update(key: string, patch: Partial<ArtifactStatus>) {
    const s = statuses.get(key);
    if (!s) return;
    const next: ArtifactStatus = { ...s, ...patch };
    if (next.status !== 'failed') {
      delete next.error;
      delete next.code;
      delete next.nextRetryAt;
    }
    statuses.set(key, next);
    changed();
  }

  function clientFor(url: string): RegistryClient {
    const creds = opts.credentialsFor(url);
    const credsKey = creds ? createHash('sha256').update(`${creds.username}\0${creds.password}`).digest('hex') : '';
    const hit = clients.get(url);
    if (hit && hit.credsKey === credsKey) return hit.client;
    if (hit) void hit.client.close().catch(() => undefined);
    const client = createRegistryClient({
      url,
      limiter,
      logger: ociLog,
      timeoutMs: opts.requestTimeoutMs ?? 30_000,
      retry: { retries: 3, baseMs: 250, maxMs: 5_000, ...opts.requestRetry },
      ...(creds ? { credentials: creds } : {}),
    });
    clients.set(url, { client, credsKey });
    return client;
  }

  /** Is the target complete on disk? Damaged manifests and blobs (wrong hash or size) are listed. */
  async function checkLocal(t: SyncTarget): Promise<{ complete: boolean; damaged: string[]; root?: StoredManifest; sizeBytes: number }> {
    const damaged: string[] = [];
    let sizeBytes = 0;
    const load = async (digest: string): Promise<StoredManifest | undefined> => {
      let m: StoredManifest;
      try {
        m = await store.getManifest(t.repository, digest);
      } catch {
        return undefined;
      }
      if (sha256Digest(m.bytes) !== digest) {
        damaged.push(digest);
        return undefined;
      }
      sizeBytes += m.size;
      return m;
    };
    const visit = async (m: StoredManifest, platforms: string[] | undefined): Promise<boolean> => {
      let p;
      try {
        p = parseManifest(m.bytes, m.mediaType);
      } catch {
        damaged.push(m.digest);
        return false;
      }
      let ok = true;
      if (p.isIndex) {
        const children = platforms ? p.manifests.filter((c) => platforms.some((w) => matchesPlatform(c.platform, w))) : p.manifests;
        if (children.length === 0) return false;
        for (const c of children) {
          const child = await load(c.digest);
          if (!child || !(await visit(child, undefined))) ok = false;
        }
        return ok;
      }
      for (const b of blobsOf(p)) {
        const size = await store.blobSize(b.digest);
        if (size === undefined) ok = false;
        else if (size !== b.size) {
          damaged.push(b.digest);
          ok = false;
        } else sizeBytes += size;
      }
      return ok;
    };
    const root = await load(t.digest);
    if (!root) return { complete: false, damaged, sizeBytes: 0 };
    const complete = await visit(root, t.platforms);
    return { complete, damaged, root, sizeBytes };
  }

  /** the root pinned and every desired tag pointing at it */
  async function ensureRefs(t: SyncTarget, root: StoredManifest, entries: ManifestEntry[]) {
    const mine = entries.filter((e) => e.repository === t.repository && e.digest === t.digest);
    const pinned = mine.some((e) => e.tag === undefined && e.pinned);
    const missing = t.tags.filter((tag) => !mine.some((e) => e.tag === tag));
    if (pinned && missing.length === 0) return;
    await store.putManifest(t.repository, root.bytes, root.mediaType, missing, { pin: true });
  }

  interface PassOptions {
    prune: boolean;
    /** which artifacts to attempt: every one, or only failing ones whose retry is due */
    only?: 'due';
    signal?: AbortSignal;
  }

  async function pass(reason: SyncReason, o: PassOptions): Promise<SyncResult> {
    const started = performance.now();
    const state = current;
    const revision = state?.revision ?? 0;
    const signal = o.signal ? AbortSignal.any([o.signal, closing.signal]) : closing.signal;
    // every request of every blob download listens on it
    setMaxListeners(0, signal);
    if (state) limiter.setRate(state.config.bandwidthLimit);
    metrics.syncs.inc({ reason });
    let bytes = 0;
    let fetched = 0;
    let announced = false;
    const announce = () => {
      if (announced) return;
      announced = true;
      events.emit({ event: 'sync.started', revision });
    };
    // a new state or an explicit request is always announced; timers only when they find work
    if (reason === 'state' || reason === 'manual') announce();
    // an explicit sync ignores the windows
    const gate: { open: boolean; nextOpenAt?: number } = reason === 'manual' ? { open: true } : windowNow();
    let held = 0;

    const entries = await store.listManifests();
    const now = Date.now();
    const todo = targets.filter((t) => {
      const s = statuses.get(t.key);
      if (!s) return false;
      if (o.only === 'due') return s.status === 'failed' && (!s.nextRetryAt || Date.parse(s.nextRetryAt) <= now);
      // timers leave a failing artifact to its own backoff
      if ((reason === 'drift' || reason === 'verify') && s.status === 'failed' && s.nextRetryAt && Date.parse(s.nextRetryAt) > now) return false;
      return true;
    });

    const syncOne = async (t: SyncTarget) => {
      if (signal.aborted) return;
      const t0 = performance.now();
      const before = statuses.get(t.key);
      const wasReady = before?.status === 'ready';
      try {
        const local = await checkLocal(t);
        if (local.complete && local.root) {
          await ensureRefs(t, local.root, entries);
          waiting.delete(t.key);
          update(t.key, { status: 'ready', attempts: 0, readyAt: new Date().toISOString() });
          // complete on disk: worth an event for a new state or a request, or when it was failing
          // (not for each artifact found intact at every start)
          if (reason === 'state' || reason === 'manual' || before?.status === 'failed') {
            announce();
            events.emit({ event: 'artifact.synced', revision, artifact: { repository: t.repository, digest: t.digest }, bytes: 0, durationMs: Math.round(performance.now() - t0) });
          }
          return;
        }
        // outside the sync windows only content the site had before (a repair) is fetched
        if (!gate.open && before?.readyAt === undefined && gate.nextOpenAt !== undefined) {
          for (const d of local.damaged) await store.deleteBlob(d);
          held++;
          waiting.add(t.key);
          // a failing artifact keeps its error; its next attempt is when the window opens
          if (before?.status === 'failed') update(t.key, { nextRetryAt: new Date(Date.now() + Math.max(0, gate.nextOpenAt - clock())).toISOString() });
          return;
        }
        waiting.delete(t.key);
        announce();
        fetched++;
        if (wasReady || local.damaged.length > 0) {
          metrics.repairs.inc(Math.max(1, local.damaged.length));
          log.warn({ repository: t.repository, digest: t.digest, damaged: local.damaged }, 'stored artifact incomplete or damaged; fetching again');
        }
        for (const d of local.damaged) await store.deleteBlob(d);
        update(t.key, { status: 'syncing' });
        if (!t.registryUrl) {
          throw new SatelliteError(SatelliteErrorCode.REGISTRY_UNKNOWN, `artifact ${t.upstreamRepository}@${t.digest} names registry "${t.registry}", which the desired state does not list`);
        }
        const client = clientFor(t.registryUrl);
        const r = await replicate({
          client,
          store,
          artifact: { repository: t.upstreamRepository, storeRepository: t.repository, digest: t.digest, ...(t.platforms ? { platforms: t.platforms } : {}) },
          concurrency: blobConcurrency,
          signal,
          logger: ociLog,
        });
        bytes += r.bytesFetched;
        bytesTotal += r.bytesFetched;
        metrics.syncBytes.inc(r.bytesFetched);
        await ensureRefs(t, await store.getManifest(t.repository, t.digest), await store.listManifests());
        update(t.key, { status: 'ready', attempts: 0, readyAt: new Date().toISOString() });
        const durationMs = Math.round(performance.now() - t0);
        log.info({ repository: t.repository, digest: t.digest, bytes: r.bytesFetched, blobs: r.blobsFetched, skipped: r.blobsSkipped, durationMs, revision }, 'artifact synced');
        events.emit({ event: 'artifact.synced', revision, artifact: { repository: t.repository, digest: t.digest }, bytes: r.bytesFetched, durationMs });
      } catch (err) {
        if (signal.aborted) {
          // stopping: the work resumes at the next start (partial blobs stay for a ranged resume)
          update(t.key, { status: before?.status === 'ready' ? 'ready' : 'pending' });
          return;
        }
        const code = errorCode(err);
        const message = `${code}: ${(err as Error).message ?? String(err)}`.slice(0, ERROR_MAX);
        const attempts = (before?.attempts ?? 0) + 1;
        const nextRetryAt = new Date(Date.now() + backoffDelay(attempts, retry)).toISOString();
        update(t.key, { status: 'failed', error: message, code, attempts, nextRetryAt });
        metrics.artifactFailures.inc({ code });
        log.warn({ repository: t.repository, digest: t.digest, code, err: (err as Error).message, attempts, nextRetryAt, revision }, 'artifact sync failed; will retry');
        announce();
        events.emit({ event: 'artifact.failed', revision, artifact: { repository: t.repository, digest: t.digest }, error: message, durationMs: Math.round(performance.now() - t0) });
      }
    };
    await mapLimit(todo, artifactConcurrency, syncOne);

    if (o.prune && !signal.aborted) await pruneTo(false);
    const durationMs = Math.round(performance.now() - started);
    const all = [...statuses.values()];
    const sum = summarize(all);
    if (announced) {
      lastSyncAt = new Date().toISOString();
      events.emit({ event: 'sync.completed', revision, bytes, durationMs, ready: sum.ready, failed: sum.failed });
      metrics.syncDuration.observe(durationMs / 1_000);
      if (bytes > 0) metrics.syncLastBytes.set(bytes);
      log.info({ reason, revision, bytes, durationMs, ready: sum.ready, failed: sum.failed, total: sum.total }, 'sync completed');
    } else if (fetched === 0 && todo.length > 0 && lastSyncAt === null) {
      lastSyncAt = new Date().toISOString();
    }
    if (held > 0) log.info({ reason, revision, waiting: held, nextWindowAt: windowStatus().nextWindowAt }, 'new content waits for the next sync window');
    scheduleRetry();
    scheduleWindow();
    return { reason, revision, bytes, durationMs, total: sum.total, ready: sum.ready, failed: sum.failed, fetched, waiting: held, artifacts: all.map((s) => ({ ...s })) };
  }

  /** a pass when the next window opens, while something waits for it */
  function scheduleWindow() {
    clearTimeout(windowTimer);
    windowTimer = undefined;
    if (closing.signal.aborted || waiting.size === 0) return;
    const w = windowNow();
    const delay = w.open ? 0 : w.nextOpenAt === undefined ? undefined : w.nextOpenAt - clock();
    if (delay === undefined) return;
    // the clock is looked at again now and then: a device clock may be corrected after boot
    windowTimer = setTimeout(
      () => {
        if (windowNow().open) track(exclusive(() => pass('window', { prune: false })));
        else scheduleWindow();
      },
      Math.min(Math.max(0, delay) + 50, windowRecheckMs),
    );
    windowTimer.unref();
  }

  function windowStatus(): SyncWindowStatus {
    const windows = (current?.config.syncWindows ?? []).map((w) => w.window);
    const w = windowNow();
    return {
      windows,
      open: w.open,
      waiting: [...waiting].filter((k) => statuses.get(k)?.status !== 'ready').length,
      ...(w.nextOpenAt !== undefined ? { nextWindowAt: new Date(w.nextOpenAt).toISOString() } : {}),
      ...(w.closesAt !== undefined ? { closesAt: new Date(w.closesAt).toISOString() } : {}),
      ...(w.invalid.length > 0 ? { invalid: w.invalid } : {}),
    };
  }

  function scheduleRetry() {
    clearTimeout(retryTimer);
    if (closing.signal.aborted) return;
    const due = nextRetryDue([...statuses.values()]);
    if (due === undefined) return;
    retryTimer = setTimeout(() => track(exclusive(() => pass('retry', { prune: false, only: 'due' }))), Math.max(0, due - Date.now()));
    retryTimer.unref();
  }

  async function pruneTo(dryRun: boolean): Promise<PruneResult> {
    const spared = opts.spare?.() ?? [];
    const plan = planPrune(await store.listManifests(), [...targets, ...spared]);
    if (dryRun || (plan.untag.length === 0 && plan.unpin.length === 0)) return { ...plan, dryRun };
    for (const u of plan.untag) await store.untag(u.repository, u.tag);
    for (const u of plan.unpin) await store.unpin(u.repository, u.digest).catch(() => undefined);
    // the grace period starts now: content pruned today is deleted GC_GRACE_S later, not at once
    const touched = new Set<string>();
    for (const m of [...plan.untag, ...plan.unpin]) await touchTree(m.repository, m.digest, touched);
    log.info({ untagged: plan.untag.length, unpinned: plan.unpin.length }, 'pruned content no longer desired');
    return { ...plan, dryRun };
  }

  async function touchTree(repository: string, digest: string, seen: Set<string>) {
    const now = new Date();
    for (const d of await storedTree(store, repository, digest, seen)) {
      await utimes(join(store.root, 'blobs', 'sha256', d.slice('sha256:'.length)), now, now).catch(() => undefined);
    }
  }


  async function collect(graceMs: number): Promise<GcResult> {
    const r = await store.gc({ graceMs });
    metrics.gcFreedBytes.inc(r.freedBytes);
    metrics.storeBytes.set((await store.usage()).bytes);
    if (r.deleted.length > 0 || r.tmpRemoved > 0) log.info({ deleted: r.deleted.length, freedBytes: r.freedBytes, skippedOpen: r.skippedOpen, skippedYoung: r.skippedYoung }, 'store gc');
    return r;
  }

  async function listImages(): Promise<ImageEntry[]> {
    const entries = await store.listManifests();
    const byKey = new Map([...statuses.values()].map((s) => [`${s.repository}@${s.digest}`, s]));
    const sizes = new Map<string, number>();
    const out: ImageEntry[] = [];
    const roots = entries.filter((e) => e.tag !== undefined || e.pinned);
    for (const e of roots) {
      const key = `${e.repository}@${e.digest}`;
      // a pinned entry with tags is listed once per tag
      if (e.tag === undefined && roots.some((o) => o.tag !== undefined && o.repository === e.repository && o.digest === e.digest)) continue;
      let size = sizes.get(key);
      if (size === undefined) {
        size = await treeSize(e.repository, e.digest);
        sizes.set(key, size);
      }
      out.push({ repository: e.repository, ...(e.tag === undefined ? {} : { tag: e.tag }), digest: e.digest, sizeBytes: size, status: byKey.get(key)?.status ?? 'stored' });
    }
    return out.sort((a, b) => cmp(a.repository, b.repository) || cmp(a.tag ?? '', b.tag ?? '') || cmp(a.digest, b.digest));
  }

  async function treeSize(repository: string, digest: string): Promise<number> {
    let total = 0;
    const seen = new Set<string>();
    const walk = async (d: string) => {
      if (seen.has(d)) return;
      seen.add(d);
      let m: StoredManifest;
      try {
        m = await store.getManifest(repository, d);
      } catch {
        return;
      }
      total += m.size;
      let p;
      try {
        p = parseManifest(m.bytes, m.mediaType);
      } catch {
        return;
      }
      for (const c of p.manifests) if (await store.hasManifest(repository, c.digest)) await walk(c.digest);
      for (const b of blobsOf(p)) if (!seen.has(b.digest)) {
        seen.add(b.digest);
        total += b.size;
      }
    };
    await walk(digest);
    return total;
  }

  return {
    async realise(state, ctx) {
      const keepAlive = setInterval(() => ctx.working(), WORKING_EVERY_MS);
      try {
        await exclusive(async () => {
          setTarget(state);
          await pass('state', { prune: true, signal: ctx.signal });
          if (!ctx.signal.aborted && !closing.signal.aborted) await collect(gcGraceMs);
        });
      } finally {
        clearInterval(keepAlive);
      }
      // stopping mid-sync: not applied; the state is delivered again after the restart
      if (ctx.signal.aborted || closing.signal.aborted) throw new Error('satellite stopping before the state was synced');
    },
    resume(state) {
      track(
        exclusive(async () => {
          if (current && current.revision >= state.revision) return;
          setTarget(state);
          await pass('resume', { prune: false });
        }),
      );
    },
    syncNow: () => exclusive(() => pass('manual', { prune: false })),
    prune: (o = {}) => exclusive(() => pruneTo(o.dryRun ?? false)),
    gc: (o = {}) => exclusive(() => collect(o.graceSeconds === undefined ? gcGraceMs : o.graceSeconds * 1_000)),
    async verifyStore(o = {}) {
      const remove = o.remove ?? false;
      const r = await exclusive(() => store.verify({ remove }));
      if (r.corrupt.length > 0) {
        log.warn({ corrupt: r.corrupt.length, remove }, 'corrupt blobs in the store');
        metrics.repairs.inc(r.corrupt.length);
      }
      if (!remove || r.corrupt.length === 0) return { checked: r.checked, corrupt: r.corrupt, removed: remove && r.corrupt.length > 0 };
      const sync = await exclusive(() => pass('verify', { prune: false }));
      return { checked: r.checked, corrupt: r.corrupt, removed: true, sync };
    },
    listImages,
    artifacts: () => [...statuses.values()].map((s) => ({ ...s, tags: [...s.tags] })),
    summary: () => {
      let held = 0;
      for (const k of waiting) if (statuses.has(k) && statuses.get(k)!.status !== 'ready' && statuses.get(k)!.status !== 'failed') held++;
      return { ...summarize([...statuses.values()], held), lastSyncAt, bytesTotal };
    },
    syncWindow: windowStatus,
    get current() {
      return current;
    },
    upstreamClient: clientFor,
    driftCheck: () =>
      exclusive(async () => {
        const r = await pass('drift', { prune: false });
        if (!closing.signal.aborted) await collect(gcGraceMs);
        return r;
      }),
    async close() {
      closing.abort();
      clearTimeout(retryTimer);
      clearTimeout(windowTimer);
      await Promise.allSettled([...background]);
      await chain.catch(() => undefined);
      for (const { client } of clients.values()) await client.close().catch(() => undefined);
      clients.clear();
    },
  };
}

function errorCode(err: unknown): string {
  if (isOciError(err)) return err.code;
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'string' && /^[A-Z_]+$/.test(c) ? c : 'INTERNAL';
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Run `fn` over items with at most `limit` at once. `fn` handles its own errors. */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
