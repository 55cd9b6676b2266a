// The state-publisher's domain: groups, assignments and configs in, one desired state per satellite
// out. Every change runs in one transaction under the compute lock (find the affected satellites,
// compute, compare digests, write the changed ones in bulk), replies after the commit, and hands the
// new revisions to the publication queue.
import {
  DesiredStateContent,
  ErrorCode,
  SatelliteConfig,
  UplinkError,
  canonicalJson,
  parseOrThrow,
  satelliteOf,
  type DesiredState,
  type DesiredArtifact,
  type Group,
  type RpcMethod,
  type RpcRequest,
  type SatelliteStateView,
  type StateApplied,
} from '@uplink/contracts';
import { sleep } from '@uplink/bus';
import { withTransaction, type Pool, type PoolClient } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import { computeDesiredState, normalizeRegistryUrl } from './desired-state.js';
import { pinGroupArtifacts, tagKey, tagsToResolve, type TagRef, type UnresolvedArtifact } from './group-artifacts.js';
import type { StatePublisherMetrics } from './metrics.js';
import type { StatePublication } from './publication.js';
import { artifactStatuses, desiredStateDocument, planRevisions, satelliteDigester, sharedContent, type ComputedContent } from './revisions.js';
import * as store from './store.js';
import type { TagResolver } from './tag-resolver.js';

type Req<M extends RpcMethod<'state'>> = RpcRequest<'state', M>;
type KnownTags = Map<string, { digest: string | undefined; error: string | undefined }>;

/** A group as replied: the contracts `Group` plus what the change did and which tags are not pinned. */
export type GroupReply = Group & {
  /** satellites that got a new revision from this change */
  affectedSatellites: number;
  /** tags never resolved: left out of every desired state until the upstream answers */
  unresolved: UnresolvedArtifact[];
};

export interface StatePublisherOptions {
  pool: Pool;
  publication: StatePublication;
  resolver: TagResolver;
  logger: Logger;
  metrics: StatePublisherMetrics;
  /** tag lookups at once @default 16 */
  resolveConcurrency?: number;
  /**
   * longest a putGroup waits for the upstream, over all its tags; tags not resolved by then are
   * retried in the background @default 5_000
   */
  resolveDeadlineMs?: number;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

export class StatePublisher {
  private readonly pool: Pool;
  private readonly publication: StatePublication;
  private readonly resolver: TagResolver;
  private readonly log: Logger;
  private readonly metrics: StatePublisherMetrics;
  private readonly resolveConcurrency: number;
  private readonly resolveDeadlineMs: number;

  constructor(opts: StatePublisherOptions) {
    this.pool = opts.pool;
    this.publication = opts.publication;
    this.resolver = opts.resolver;
    this.log = opts.logger;
    this.metrics = opts.metrics;
    this.resolveConcurrency = opts.resolveConcurrency ?? 16;
    this.resolveDeadlineMs = opts.resolveDeadlineMs ?? 5_000;
  }

  // ── RPC methods ───────────────────────────────────────────────────────────────────────────────

  async putGroup({ name, body }: Req<'putGroup'>): Promise<GroupReply> {
    const registry = normalizeRegistryUrl(body.registry);
    // the operator waits for this reply: bound the whole lookup, the background loop does the rest
    await this.resolveTags(
      tagsToResolve(body.artifacts).map((t) => ({ registry, ...t })),
      AbortSignal.timeout(this.resolveDeadlineMs),
    );
    const { group, changed, unresolved } = await this.change(async (c, recompute) => {
      const known = await this.knownTags(c, [registry]);
      const { resolved, unresolved } = pinGroupArtifacts(body.registry, body.artifacts, known.get(registry) ?? new Map());
      await store.upsertGroup(c, name, body, resolved);
      const changed = await recompute(await store.satellitesOfGroups(c, [name]));
      return { group: (await store.getGroup(c, name))!, changed, unresolved };
    });
    if (unresolved.length > 0) this.log.warn({ group: name, unresolved }, 'group has tags not resolved yet; they are left out until the upstream answers');
    this.log.info({ group: name, satellites: group.satellites.length, revisions: changed.length }, 'group put');
    return { ...toGroup(group), affectedSatellites: changed.length, unresolved };
  }

  async getGroup({ name }: Req<'getGroup'>): Promise<Group & { unresolved: UnresolvedArtifact[] }> {
    const group = await store.getGroup(this.pool, name);
    if (!group) throw new UplinkError(ErrorCode.GROUP_NOT_FOUND, `no group named "${name}"`);
    const registry = normalizeRegistryUrl(group.registry);
    const known = await this.knownTags(this.pool, [registry]);
    return { ...toGroup(group), unresolved: pinGroupArtifacts(group.registry, group.artifacts, known.get(registry) ?? new Map()).unresolved };
  }

  async listGroups(_req: Req<'listGroups'>): Promise<Group[]> {
    return (await store.listGroups(this.pool)).map(toGroup);
  }

  async deleteGroup({ name }: Req<'deleteGroup'>): Promise<{ name: string; deleted: true }> {
    const changed = await this.change(async (c, recompute) => {
      const satellites = await store.deleteGroup(c, name);
      if (!satellites) throw new UplinkError(ErrorCode.GROUP_NOT_FOUND, `no group named "${name}"`);
      return recompute(satellites);
    });
    this.log.info({ group: name, revisions: changed.length }, 'group deleted');
    return { name, deleted: true };
  }

  async assign({ group, satellite }: Req<'assign'>): Promise<{ group: string; satellite: string }> {
    await this.change(async (c, recompute) => {
      await this.mustExist(c, group, satellite);
      await store.assign(c, group, satellite);
      return recompute([satellite]);
    });
    this.log.info({ group, satellite }, 'group assigned');
    return { group, satellite };
  }

  async unassign({ group, satellite }: Req<'unassign'>): Promise<{ group: string; satellite: string }> {
    await this.change(async (c, recompute) => {
      await this.mustExist(c, group, satellite);
      await store.unassign(c, group, satellite);
      return recompute([satellite]);
    });
    this.log.info({ group, satellite }, 'group unassigned');
    return { group, satellite };
  }

  async putConfig({ satellite, body }: Req<'putConfig'>): Promise<SatelliteConfig> {
    let merged!: SatelliteConfig;
    await this.change(async (c, recompute) => {
      const current = await store.loadConfig(c, satellite);
      if (!current.exists) throw new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `no satellite named "${satellite}"`);
      merged = SatelliteConfig.parse({ ...this.config(current.config, satellite), ...body });
      await store.saveConfig(c, satellite, merged);
      return recompute([satellite]);
    });
    this.log.info({ satellite }, 'satellite config put');
    return merged;
  }

  async getState({ satellite }: Req<'getState'>): Promise<SatelliteStateView> {
    const row = await store.loadState(this.pool, satellite);
    if (!row) throw new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `no satellite named "${satellite}"`);
    const applied = row.applied ? { revision: row.applied.revision, digest: row.applied.digest, at: row.applied.at.toISOString() } : null;
    const doc = row.document;
    if (!doc) return { desired: null, applied, artifacts: [] };
    return {
      desired: { revision: doc.revision, digest: doc.digest, artifacts: doc.artifacts, config: doc.config },
      applied,
      artifacts: artifactStatuses(doc, row.since, applied, row.appliedArtifacts),
    };
  }

  /** Recompute these satellites (after creation or deletion); deleted ones get their STATE subject purged. */
  async recompute({ satellites }: Req<'recompute'>): Promise<{ published: number }> {
    const names = [...new Set(satellites)];
    const changed = await this.change(async (c, recompute) => {
      const existing = await store.existingSatellites(c, names);
      return recompute(names.filter((n) => existing.has(n)));
    }, names);
    return { published: changed.length };
  }

  // ── bus ───────────────────────────────────────────────────────────────────────────────────────

  /** A satellite reported a revision applied: kept when newer than the last report. */
  async recordApplied(body: StateApplied, subject: string): Promise<void> {
    if (satelliteOf(subject) !== body.satellite) {
      // a site may only report for itself; ignore (and do not retry) anything else
      this.log.warn({ subject, satellite: body.satellite }, 'applied report for another satellite ignored');
      return;
    }
    const updated = await store.recordApplied(this.pool, body);
    if (updated) this.log.debug({ satellite: body.satellite, revision: body.revision }, 'applied revision recorded');
  }

  // ── background ────────────────────────────────────────────────────────────────────────────────

  /**
   * One pass of the retry loop: satellites that never got a state are computed, unpublished revisions
   * are published, deleted satellites' subjects purged.
   */
  async republish(): Promise<void> {
    const missing = await store.satellitesWithoutState(this.pool, 1_000);
    if (missing.length > 0) {
      this.log.info({ satellites: missing.length }, 'computing satellites without a desired state');
      await this.change((_c, recompute) => recompute(missing));
    }
    await this.publication.publish();
    this.metrics.unpublishedBacklog.set(await store.countUnpublished(this.pool));
  }

  /**
   * Remove shared contents no satellite points at any more and publication records older than
   * `historyDays`, so neither grows with every change.
   */
  async cleanup(opts: { historyDays: number; minAgeS?: number }): Promise<{ contents: number; published: number }> {
    const removed = await withTransaction(this.pool, async (c) => {
      await store.lock(c, store.Lock.compute);
      return store.collectGarbage(c, { minAgeS: opts.minAgeS ?? 60, historyDays: opts.historyDays });
    });
    if (removed.contents > 0 || removed.published > 0) this.log.info(removed, 'unused desired-state contents and old publication records removed');
    this.metrics.cleanedUp.inc({ what: 'contents' }, removed.contents);
    this.metrics.cleanedUp.inc({ what: 'published' }, removed.published);
    return removed;
  }

  /** Re-resolve every tag of every group; a tag that moved upstream gives new revisions. */
  async refreshTags(): Promise<{ groups: number; revisions: number }> {
    const sources = await store.listGroupSources(this.pool);
    const refs = new Map<string, TagRef & { registry: string }>();
    for (const g of sources) {
      const registry = normalizeRegistryUrl(g.registry);
      for (const t of tagsToResolve(g.artifacts)) refs.set(`${registry} ${tagKey(t.repository, t.tag)}`, { registry, ...t });
    }
    if (refs.size === 0) return { groups: 0, revisions: 0 };
    await this.resolveTags([...refs.values()]);
    let changedGroups = 0;
    const changed = await this.change(async (c, recompute) => {
      const groups = await store.listGroupSources(c);
      const known = await this.knownTags(c, [...new Set(groups.map((g) => normalizeRegistryUrl(g.registry)))]);
      const updates: { name: string; resolved: DesiredArtifact[] }[] = [];
      for (const g of groups) {
        const { resolved } = pinGroupArtifacts(g.registry, g.artifacts, known.get(normalizeRegistryUrl(g.registry)) ?? new Map());
        if (canonicalJson(resolved) !== canonicalJson(g.resolved)) updates.push({ name: g.name, resolved });
      }
      changedGroups = updates.length;
      if (updates.length === 0) return [];
      await store.updateResolved(c, updates);
      return recompute(await store.satellitesOfGroups(c, updates.map((u) => u.name)));
    });
    if (changedGroups > 0) this.log.info({ groups: changedGroups, revisions: changed.length }, 'tags moved upstream');
    return { groups: changedGroups, revisions: changed.length };
  }

  /** Run a loop body every `intervalMs` until `signal` aborts; failures are logged, never thrown. */
  async loop(what: string, intervalMs: number, signal: AbortSignal, body: () => Promise<unknown>, opts: { immediately?: boolean } = {}): Promise<void> {
    if (!opts.immediately) await sleep(intervalMs, signal);
    while (!signal.aborted) {
      try {
        await body();
      } catch (err) {
        this.log.warn({ err: (err as Error).message, loop: what }, 'background pass failed, will retry');
      }
      await sleep(intervalMs, signal);
    }
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────

  /**
   * One change: a transaction under the compute lock whose body returns the satellites that got a new
   * revision; after the commit they (and `alsoPublish`, e.g. deleted satellites to purge) go to the
   * publication queue, which runs in the background.
   */
  private async change<T extends string[] | { changed: string[] }>(
    body: (c: PoolClient, recompute: (satellites: string[]) => Promise<string[]>) => Promise<T>,
    alsoPublish: string[] = [],
  ): Promise<T> {
    const documents: DesiredState[] = [];
    const result = await withTransaction(this.pool, async (c) => {
      await store.lock(c, store.Lock.compute);
      return body(c, (satellites) => this.recomputeIn(c, satellites, documents));
    });
    const changed = Array.isArray(result) ? result : result.changed;
    const toPublish = [...new Set([...changed, ...alsoPublish])];
    if (toPublish.length > 0) {
      // the committed documents travel along, so publishing need not read them back
      this.publication.publish(toPublish, documents).catch(() => {
        // logged by the queue; the retry loop publishes what is left
      });
    }
    return result;
  }

  /**
   * Compute, compare and write; returns the satellites that got a new revision. Satellites with the
   * same groups and config share one computed (and validated) content: only their names differ.
   */
  private async recomputeIn(c: PoolClient, satellites: string[], documents: DesiredState[]): Promise<string[]> {
    // `documents` collects what is written, for the publication queue once committed
    if (satellites.length === 0) return [];
    const inputs = await store.loadSatelliteInputs(c, satellites);
    const groupNames = [...new Set(inputs.flatMap((i) => i.groups))];
    const groups = new Map((await store.loadGroupContents(c, groupNames)).map((g) => [g.name, g]));
    interface Template {
      content: DesiredStateContent;
      digestFor: (satellite: string) => string;
      shared: store.SharedContent;
    }
    const templates = new Map<string, Template>();
    const computed: ComputedContent[] = [];
    const templateOf = new Map<string, Template>();
    // stored configs are mostly alike (often the defaults): parse and key each distinct one once
    const configs = new Map<string, { config: SatelliteConfig; key: string }>();
    for (const i of inputs) {
      const raw = JSON.stringify(i.config ?? null);
      let c = configs.get(raw);
      if (!c) {
        const config = this.config(i.config, i.name);
        configs.set(raw, (c = { config, key: canonicalJson(config) }));
      }
      const config = c.config;
      const key = `${i.groups.join(',')}|${c.key}`;
      let t = templates.get(key);
      if (!t) {
        const content = computeDesiredState({ satellite: i.name, groups: i.groups.flatMap((n) => groups.get(n) ?? []), config });
        // what goes on the wire is checked once per distinct content, not once per satellite
        parseOrThrow(DesiredStateContent, content, `desired state of ${i.name}`);
        t = { content, digestFor: satelliteDigester(content), shared: sharedContent(content) };
        templates.set(key, t);
      }
      computed.push({ content: i.name === t.content.satellite ? t.content : { ...t.content, satellite: i.name }, digest: t.digestFor(i.name) });
      templateOf.set(i.name, t);
    }
    const plan = planRevisions(computed, new Map(inputs.map((i) => [i.name, { revision: i.revision, digest: i.digest }])));
    if (plan.length === 0) return [];
    const issuedAt = new Date();
    const used = new Map<string, store.SharedContent>();
    const rows = plan.map((p) => {
      const shared = templateOf.get(p.satellite)!.shared;
      used.set(shared.id, shared);
      return { satellite: p.satellite, revision: p.revision, digest: p.digest, contentId: shared.id };
    });
    const started = performance.now();
    const written = await store.writeRevisions(c, [...used.values()], rows, issuedAt.toISOString());
    this.log.debug({ revisions: rows.length, contents: used.size, ms: Math.round(performance.now() - started) }, 'revisions written');
    if (written !== plan.length) {
      // cannot happen under the compute lock; refuse rather than publish a revision out of order
      throw new UplinkError(ErrorCode.CONFLICT, 'desired states changed concurrently; try again');
    }
    for (const p of plan) documents.push(desiredStateDocument(p, issuedAt));
    return plan.map((p) => p.satellite);
  }

  private config(stored: unknown, satellite: string): SatelliteConfig {
    const r = SatelliteConfig.safeParse(stored ?? {});
    if (r.success) return r.data;
    this.log.warn({ satellite, err: r.error.message }, 'stored satellite config invalid; using defaults');
    return SatelliteConfig.parse({});
  }

  private async mustExist(c: PoolClient, group: string, satellite: string): Promise<void> {
    const e = await store.exists(c, group, satellite);
    if (!e.group) throw new UplinkError(ErrorCode.GROUP_NOT_FOUND, `no group named "${group}"`);
    if (!e.satellite) throw new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `no satellite named "${satellite}"`);
  }

  /** Known resolutions of these registries: registry -> `repository:tag` -> last digest and error. */
  private async knownTags(q: Pick<Pool, 'query'>, registries: string[]): Promise<Map<string, KnownTags>> {
    const out = new Map<string, KnownTags>();
    for (const r of await store.loadTagResolutions(q, registries)) {
      let m = out.get(r.registry);
      if (!m) out.set(r.registry, (m = new Map()));
      m.set(tagKey(r.repository, r.tag), { digest: r.digest, error: r.error });
    }
    return out;
  }

  /** Look tags up upstream (bounded concurrency) and record every answer and failure. */
  private async resolveTags(refs: (TagRef & { registry: string })[], signal?: AbortSignal): Promise<void> {
    if (refs.length === 0) return;
    const results = await mapLimit(refs, this.resolveConcurrency, async (r) => {
      try {
        if (signal?.aborted) throw new Error('the upstream did not answer in time; retrying in the background');
        const digest = await this.resolver.resolve(r.registry, r.repository, r.tag, signal ? { signal } : {});
        this.metrics.tagResolutions.inc();
        return { ...r, digest };
      } catch (err) {
        this.metrics.tagResolutionFailures.inc();
        const error = (err as Error).message;
        this.log.warn({ registry: r.registry, repository: r.repository, tag: r.tag, err: error }, 'tag not resolved; keeping the last known digest');
        return { ...r, error };
      }
    });
    await store.saveTagResolutions(this.pool, results);
  }
}

function toGroup(g: store.GroupRow): Group {
  return {
    name: g.name,
    registry: g.registry,
    artifacts: g.artifacts,
    satellites: g.satellites,
    resolved: g.resolved,
    updatedAt: new Date(g.updatedAt).toISOString(),
  };
}
