// Pure decisions of replication: which artifacts a desired state asks for (grouped per stored
// manifest), what the store holds that is no longer desired, and how the sync looks as a whole.
import type { DesiredState } from '@uplink/contracts';

/** One manifest the store must hold: every desired artifact with this repository and digest. */
export interface SyncTarget {
  /** `<store repository>@<digest>`, the key of its status */
  key: string;
  /** repository in the local store (what clients pull) */
  repository: string;
  /** repository at the upstream */
  upstreamRepository: string;
  /** registry name in the desired state */
  registry: string;
  /** upstream base URL, undefined when the state names no such registry */
  registryUrl: string | undefined;
  digest: string;
  tags: string[];
  /** children of an index to keep; undefined = all */
  platforms: string[] | undefined;
}

export type ArtifactState = 'pending' | 'syncing' | 'ready' | 'failed';

export interface ArtifactStatus {
  repository: string;
  digest: string;
  tags: string[];
  status: ArtifactState;
  /** why the last attempt failed */
  error?: string;
  /** stable code of that error */
  code?: string;
  /** failed attempts in a row */
  attempts: number;
  /** when the next retry is due (failed only) */
  nextRetryAt?: string;
  /** when it was last found complete */
  readyAt?: string;
}

export interface SyncSummary {
  status: 'idle' | 'syncing' | 'waiting' | 'synced' | 'degraded' | 'failed';
  ready: number;
  total: number;
  failed: number;
}

export interface StoreEntry {
  repository: string;
  digest: string;
  tag?: string;
  pinned: boolean;
}

export interface PrunePlan {
  untag: { repository: string; tag: string; digest: string }[];
  unpin: { repository: string; digest: string }[];
}

/**
 * The manifests `state` asks for. Artifacts naming the same repository and digest (one per tag, as
 * the state-publisher writes them) become one target; its platforms are the union, or all when any
 * of them asks for all.
 */
export function syncTargets(state: Pick<DesiredState, 'registries' | 'artifacts'>, storeRepositoryOf: (a: DesiredState['artifacts'][number]) => string = (a) => a.repository): SyncTarget[] {
  const urls = new Map(state.registries.map((r) => [r.name, r.url]));
  const byKey = new Map<string, SyncTarget>();
  for (const a of state.artifacts) {
    const repository = storeRepositoryOf(a);
    const key = `${repository}@${a.digest}`;
    const t = byKey.get(key);
    if (!t) {
      byKey.set(key, {
        key,
        repository,
        upstreamRepository: a.repository,
        registry: a.registry,
        registryUrl: urls.get(a.registry),
        digest: a.digest,
        tags: a.tag ? [a.tag] : [],
        platforms: a.platforms && a.platforms.length > 0 ? [...a.platforms] : undefined,
      });
      continue;
    }
    if (a.tag && !t.tags.includes(a.tag)) t.tags.push(a.tag);
    if (!a.platforms || a.platforms.length === 0) t.platforms = undefined;
    else if (t.platforms) for (const p of a.platforms) if (!t.platforms.includes(p)) t.platforms.push(p);
  }
  for (const t of byKey.values()) t.tags.sort();
  return [...byKey.values()];
}

/**
 * What to take away so the store keeps only `targets`: tags no target names, and pins of manifests
 * no target is. A tag a target names stays even while that target is still failing, so the image a
 * runtime uses keeps being served until its replacement has arrived.
 */
export function planPrune(entries: readonly StoreEntry[], targets: readonly Pick<SyncTarget, 'repository' | 'digest' | 'tags'>[]): PrunePlan {
  const tags = new Set(targets.flatMap((t) => t.tags.map((tag) => `${t.repository}:${tag}`)));
  const pins = new Set(targets.map((t) => `${t.repository}@${t.digest}`));
  const plan: PrunePlan = { untag: [], unpin: [] };
  for (const e of entries) {
    if (e.tag !== undefined) {
      if (!tags.has(`${e.repository}:${e.tag}`)) plan.untag.push({ repository: e.repository, tag: e.tag, digest: e.digest });
    } else if (e.pinned && !pins.has(`${e.repository}@${e.digest}`)) {
      plan.unpin.push({ repository: e.repository, digest: e.digest });
    }
  }
  return plan;
}

/** The sync as one word for heartbeats and /status. */
/**
 * The state's sync status from its artifacts'. `waiting` counts artifacts held for the next sync
 * window: when they are all that is left to fetch, the status is `waiting`, not `syncing`.
 */
export function summarize(statuses: readonly Pick<ArtifactStatus, 'status'>[], waiting = 0): SyncSummary {
  const total = statuses.length;
  const ready = statuses.filter((s) => s.status === 'ready').length;
  const failed = statuses.filter((s) => s.status === 'failed').length;
  let status: SyncSummary['status'];
  if (total === 0) status = 'idle';
  else if (ready === total) status = 'synced';
  else if (failed === total) status = 'failed';
  else if (ready + failed === total) status = 'degraded';
  else if (waiting > 0 && ready + failed + waiting >= total) status = 'waiting';
  else status = 'syncing';
  return { status, ready, total, failed };
}

/** The earliest time a failed artifact is due for a retry, or undefined. */
export function nextRetryDue(statuses: readonly Pick<ArtifactStatus, 'status' | 'nextRetryAt'>[]): number | undefined {
  let due: number | undefined;
  for (const s of statuses) {
    if (s.status !== 'failed' || !s.nextRetryAt) continue;
    const t = Date.parse(s.nextRetryAt);
    if (due === undefined || t < due) due = t;
  }
  return due;
}
