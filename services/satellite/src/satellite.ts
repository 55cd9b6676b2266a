// The edge satellite: leaf connection, site streams, intake from the hub (live + catch-up) into
// STATE_LOCAL, the durable consumer that applies states (replicating their artifacts into the content
// store first), the local OCI registry over that store, runtime mirror config and direct delivery,
// reports, heartbeats, sync events and the status server.
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import {
  decodeMessage,
  SCHEMA_HEADER,
  siteDurables,
  siteStreams,
  subjects,
  type DesiredState,
  type SatelliteEnv,
} from '@uplink/contracts';
import { InvalidMessageError, provisionStreams, retry, runConsumer, type ConsumerRunner, startLinkMonitor, type LinkMonitor, connectLeaf } from '@uplink/bus';
import { Gauge, createLogger, startStatusServer, type Logger } from '@uplink/observability';
import { createPullThrough, openContentStore, type GcResult, type PullThrough } from '@uplink/oci';
import { applyDesiredState, type Realise } from './apply.js';
import { startCatchUp, type CatchUp } from './catch-up.js';
import { credentialsFromJson, type CredentialsFor } from './credentials.js';
import { outboxFromForwarder, startHeartbeat, type HeartbeatHandle } from './heartbeat.js';
import { createIntake } from './intake.js';
import { createSatelliteMetrics } from './metrics.js';
import { startAppliedReporter, type AppliedReporter } from './report.js';
import { startRegistryServer } from './registry-server.js';
import { createRepositoryResolver, nameArtifacts, registriesOf, type RepositoryResolver } from './runtime/index.js';
import { createReplicator, type ImageEntry, type PruneResult, type SyncResult, type VerifyStoreResult } from './replicator.js';
import { createRuntimeIntegration, mirrorUrlOf, type RuntimeStatus } from './runtime-config.js';
import { openStateStore } from './state-store.js';
import type { SatelliteStatus } from './status-server.js';
import { createSyncEventSink } from './sync-events.js';
import type { ArtifactStatus } from './sync-plan.js';

/** The satellite's configuration: its validated environment (contracts `SatelliteEnv`). */
export type SatelliteSettings = z.infer<typeof SatelliteEnv>;

export interface StartSatelliteOptions {
  /** @default a pino logger named "satellite" at LOG_LEVEL */
  logger?: Logger;
  /** more work that makes a state real before it is recorded as applied, run after replication @default none */
  realise?: Realise;
  /** upstream registry credentials @default from REGISTRY_CREDENTIALS */
  credentialsFor?: CredentialsFor;
  /** tuning of replication, for tests */
  replication?: {
    /** backoff between attempts of a failing artifact @default { initialMs: 5_000, maxMs: SYNC_RETRY_MAX_S } */
    retry?: { initialMs?: number; maxMs?: number };
    /** retries of one upstream request inside an attempt @default { retries: 3, baseMs: 250, maxMs: 5_000 } */
    requestRetry?: { retries?: number; baseMs?: number; maxMs?: number };
    /** @default 30_000 */
    requestTimeoutMs?: number;
    /** how often the clock is looked at while content waits for a sync window @default 60_000 */
    windowRecheckMs?: number;
  };
  /** the time sync windows are judged by (ms since epoch), for tests @default Date.now */
  clock?: () => number;
}

export interface SatelliteHandle extends AsyncDisposable {
  readonly satellite: string;
  /** base URL of /healthz, /status, /metrics */
  readonly statusUrl: string;
  /** the bound status port (useful with STATUS_PORT=0) */
  readonly statusPort: number;
  /** base URL of the local OCI registry, `http://<REGISTRY_HOST>:<port>` */
  readonly registryUrl: string;
  /** the bound registry port (useful with REGISTRY_PORT=0) */
  readonly registryPort: number;
  /** resolves once connected to the leaf, the site streams exist and the consumer is pulling */
  readonly ready: Promise<void>;
  status(): SatelliteStatus;
  /** sync the applied (or resumed) state now, inside a sync window or not: missing or damaged content fetched, failing artifacts retried */
  syncNow(): Promise<SyncResult>;
  /** write the runtime mirror config and direct-delivery tarballs again from the applied state */
  applyRuntimeConfig(): Promise<RuntimeStatus>;
  /** untag and unpin content the current state does not want (GC deletes it after GC_GRACE_S) */
  prune(opts?: { dryRun?: boolean }): Promise<PruneResult>;
  /** delete unreferenced blobs older than the grace period (or `graceSeconds`) */
  gc(opts?: { graceSeconds?: number }): Promise<GcResult>;
  /** re-hash every stored blob; with `remove` corrupt ones are deleted and fetched again (the timer's check always removes) */
  verifyStore(opts?: { remove?: boolean }): Promise<VerifyStoreResult>;
  /** the images the local registry serves */
  listImages(): Promise<ImageEntry[]>;
  /** per desired artifact: ready | syncing | pending | failed (with the error) */
  artifacts(): ArtifactStatus[];
  /** stop intake and the consumer, drain the connection, close the status server */
  close(): Promise<void>;
}

const HISTORY_IN_STATUS = 50;

export async function startSatellite(config: SatelliteSettings, opts: StartSatelliteOptions = {}): Promise<SatelliteHandle> {
  const sat = config.SATELLITE_NAME;
  const base = opts.logger ?? createLogger({ service: 'satellite', level: config.LOG_LEVEL });
  const log = base.bindings().satellite === sat ? base : base.child({ satellite: sat });
  const metrics = createSatelliteMetrics();
  const store = await openStateStore(config.DATA_DIR, sat, log);
  const abort = new AbortController();
  let closing = false;

  const content = await openContentStore({ root: join(config.DATA_DIR, 'store'), logger: log.child({ component: 'store' }) });
  const events = createSyncEventSink({ satellite: sat, logger: log });
  const credentialsFor = opts.credentialsFor ?? credentialsFromJson(config.REGISTRY_CREDENTIALS);
  let pullThrough: PullThrough | undefined;
  const namedArtifacts = new WeakMap<DesiredState, Map<DesiredState['artifacts'][number], string>>();
  let reporter: AppliedReporter | undefined;
  let reportTimer: NodeJS.Timeout | undefined;
  let heartbeat: HeartbeatHandle | undefined;
  // runtimes pointed at the registry (applied from start on, see below)
  const rt = createRuntimeIntegration({
    root: config.RUNTIME_ROOT,
    ...(config.MIRRORS ? { mirrors: config.MIRRORS } : {}),
    ...(config.DIRECT_DELIVERY_DIR ? { directDeliveryDir: config.DIRECT_DELIVERY_DIR } : {}),
    // read at each apply; the first is made once the registry listens
    mirrorUrl: () => mirrorUrlOf(config.REGISTRY_HOST, registry.port),
    store: content,
    state: () => store.document,
    metrics,
    logger: log,
  });
  const replicator = createReplicator({
    satellite: sat,
    store: content,
    logger: log,
    metrics,
    events,
    credentialsFor,
    // the naming rule: an artifact keeps its upstream path unless two registries of the state share it
    storeRepositoryOf: (state, artifact) => {
      let names = namedArtifacts.get(state);
      if (!names) namedArtifacts.set(state, (names = new Map(nameArtifacts(state).map((n) => [n.artifact, n.storeRepository]))));
      return names.get(artifact) ?? artifact.repository;
    },
    spare: () => pullThrough?.cachedManifests() ?? [],
    ...(opts.clock ? { clock: opts.clock } : {}),
    blobConcurrency: config.SYNC_CONCURRENCY,
    artifactConcurrency: config.ARTIFACT_CONCURRENCY,
    gcGraceMs: config.GC_GRACE_S * 1_000,
    retry: { initialMs: 5_000, maxMs: config.SYNC_RETRY_MAX_S * 1_000, ...opts.replication?.retry },
    ...(opts.replication?.requestRetry ? { requestRetry: opts.replication.requestRetry } : {}),
    ...(opts.replication?.requestTimeoutMs ? { requestTimeoutMs: opts.replication.requestTimeoutMs } : {}),
    ...(opts.replication?.windowRecheckMs ? { windowRecheckMs: opts.replication.windowRecheckMs } : {}),
    // per-artifact status changed: tell the cloud (debounced) when it belongs to the applied state
    onChange: () => {
      if (reportTimer || closing) return;
      reportTimer = setTimeout(() => {
        reportTimer = undefined;
        reportApplied();
        heartbeat?.soon();
        // direct delivery waiting for content that has arrived since
        rt.contentChanged();
      }, 1_000);
      reportTimer.unref();
    },
  });
  const artifactReport = () => replicator.artifacts().map((a) => ({ repository: a.repository, digest: a.digest, status: a.status, ...(a.error ? { error: a.error } : {}) }));
  function reportApplied() {
    const applied = store.applied;
    if (!applied || !reporter || replicator.current?.revision !== applied.revision) return;
    reporter.report({ satellite: sat, ...applied, artifacts: artifactReport() });
  }
  // `?ns=<host>` from containerd mirrors resolves through the naming rule of the current state
  let resolverOf: { state: DesiredState | null; resolve: RepositoryResolver } = { state: null, resolve: createRepositoryResolver(null) };
  const resolveRepository = (name: string, ns: string | undefined) => {
    const state = replicator.current;
    if (resolverOf.state !== state) resolverOf = { state, resolve: createRepositoryResolver(state) };
    return resolverOf.resolve(name, ns);
  };
  const allow = config.PULL_THROUGH_ALLOW.split(',').map((p) => p.trim()).filter(Boolean);
  if (allow.length > 0) {
    pullThrough = await createPullThrough({
      store: content,
      // the registries of the current state, with their credentials and the shared bandwidth budget
      upstream: (host) => {
        const ep = registriesOf(replicator.current).find((r) => r.host === host);
        return ep ? replicator.upstreamClient(ep.server) : undefined;
      },
      allow,
      quotaBytes: config.PULL_THROUGH_QUOTA_BYTES,
      tagTtlMs: config.PULL_THROUGH_TAG_TTL_S * 1_000,
      ...(opts.clock ? { clock: opts.clock } : {}),
      logger: log.child({ component: 'pull-through' }),
    });
    const pt = pullThrough;
    new Gauge({
      name: 'uplink_satellite_pull_through',
      help: 'pull-through counters since start: manifests, blobs and bytes fetched, upstream misses, evictions, cached entries, tags revalidated and moved',
      labelNames: ['counter'],
      registers: [metrics.registry],
      collect() {
        for (const [counter, value] of Object.entries(pt.stats())) this.set({ counter }, value);
      },
    });
  }
  const registry = await startRegistryServer({
    host: config.REGISTRY_HOST,
    port: config.REGISTRY_PORT,
    store: content,
    metrics: metrics.registry,
    logger: log,
    resolveRepository,
    ...(pullThrough ? { pullThrough } : {}),
  }).catch(async (err: unknown) => {
    await events.stop();
    throw err;
  });
  // runtimes pointed at the registry from start, from the applied state on disk: no hub needed
  void rt.apply('start');
  // content of the applied state is checked (and completed) from start, with or without the hub
  if (store.document) replicator.resume(store.document);
  const timers: NodeJS.Timeout[] = [];
  let checking = false;
  const everySeconds = (seconds: number, what: string, fn: () => Promise<unknown>) => {
    if (seconds <= 0) return;
    const t = setInterval(() => {
      if (checking || closing || !replicator.current) return;
      checking = true;
      fn()
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, `${what} failed`))
        .finally(() => (checking = false));
    }, seconds * 1_000);
    t.unref();
    timers.push(t);
  };
  everySeconds(config.DRIFT_CHECK_INTERVAL_S, 'drift check', () => replicator.driftCheck());
  everySeconds(config.VERIFY_INTERVAL_S, 'store verification', () => replicator.verifyStore({ remove: true }));

  let desired: SatelliteStatus['desired'] = store.applied ? { revision: store.applied.revision, digest: store.applied.digest } : null;
  const link: SatelliteStatus['link'] = { connected: false, lastContactAt: null };
  metrics.appliedRevision.set(store.applied?.revision ?? 0);
  metrics.linkConnected.set(0);
  if (store.applied) log.info({ revision: store.applied.revision, digest: store.applied.digest }, 'applied state loaded');

  /** the state being applied, aborted when a newer one is recorded in STATE_LOCAL */
  let applying: { revision: number; superseded: AbortController } | undefined;
  const noteDesired = (s: Pick<DesiredState, 'revision' | 'digest'>) => {
    if (applying && s.revision > applying.revision && !applying.superseded.signal.aborted) {
      log.info({ revision: applying.revision, newer: s.revision }, 'a newer desired state arrived; the sync of the current one stops and the newer one is applied');
      applying.superseded.abort();
    }
    if (!desired || s.revision > desired.revision) desired = { revision: s.revision, digest: s.digest };
  };
  const setConnected = (connected: boolean) => {
    if (connected !== link.connected) log.info({ connected }, connected ? 'link to hub up' : 'link to hub down');
    link.connected = connected;
    metrics.linkConnected.set(connected ? 1 : 0);
  };
  /** evidence that the hub is reachable */
  const contact = () => {
    link.lastContactAt = new Date().toISOString();
    setConnected(true);
  };

  const status = (): SatelliteStatus => ({
    satellite: sat,
    applied: store.applied,
    desired,
    link: { ...link },
    history: store.history().slice(-HISTORY_IN_STATUS).map((h) => ({ revision: h.revision, at: h.at })),
    registry: { url: registry.url, port: registry.port },
    sync: { ...replicator.summary(), revision: replicator.current?.revision ?? null, eventsQueued: events.queued, window: replicator.syncWindow() },
    artifacts: replicator.artifacts().map((a) => ({
      repository: a.repository,
      digest: a.digest,
      ...(a.tags.length > 0 ? { tags: a.tags } : {}),
      status: a.status,
      ...(a.error ? { error: a.error } : {}),
      ...(a.nextRetryAt ? { nextRetryAt: a.nextRetryAt } : {}),
    })),
    runtime: rt.status(),
    ...(pullThrough ? { pullThrough: pullThrough.stats() } : {}),
  });

  const server = await startStatusServer({
    name: 'satellite',
    host: config.STATUS_HOST,
    port: config.STATUS_PORT,
    routes: { '/status': status },
    healthy: () => !closing,
    registry: metrics.registry,
    logger: log,
  }).catch(async (err: unknown) => {
    // nothing started so far may outlive a failed start
    closing = true;
    for (const t of timers) clearInterval(t);
    await replicator.close();
    await rt.close();
    await events.stop();
    await registry.close();
    throw err;
  });

  let nc: NatsConnection | undefined;
  let sub: Subscription | undefined;
  let runner: ConsumerRunner | undefined;
  let catchUp: CatchUp | undefined;
  let monitor: LinkMonitor | undefined;

  async function run(): Promise<void> {
    // the leaf may start after the satellite: keep trying the first connect, abortable by close()
    const conn = await connectLeaf({ servers: config.NATS_URL, name: `uplink-satellite-${sat}`, logger: log, credsFile: config.NATS_CREDS, signal: abort.signal });
    nc = conn;
    events.attach(conn);
    if (closing) {
      await conn.close().catch(() => undefined);
      return;
    }

    await retry(async () => provisionStreams(await jetstreamManager(conn, { domain: sat, checkAPI: false }), siteStreams(sat), log), {
      signal: abort.signal,
      initialMs: 250,
      maxMs: 10_000,
      onError: (err, attempt) => {
        if (attempt === 1 || attempt % 10 === 0) log.warn({ err: (err as Error).message, attempt }, 'cannot provision site streams yet, retrying');
      },
    });
    if (closing) return;

    const recorded = await latestRecorded(conn, sat, log);
    if (closing) return;
    if (recorded) noteDesired(recorded);
    // killed mid-sync: take up the state recorded but not applied yet at once (it is delivered again
    // only when its ack deadline passes)
    if (recorded && recorded.revision > (store.applied?.revision ?? 0)) replicator.resume(recorded);
    const intake = createIntake({
      nc: conn,
      satellite: sat,
      logger: log,
      metrics,
      highestRecorded: Math.max(store.applied?.revision ?? 0, recorded?.revision ?? 0),
      onRecorded: noteDesired,
    });

    heartbeat = startHeartbeat({
      nc: conn,
      satellite: sat,
      intervalSeconds: () => store.document?.config.heartbeatSeconds ?? 30,
      sample: async () => {
        const { status: syncStatus, ready, total, failed, lastSyncAt } = replicator.summary();
        return {
          applied: store.applied ? { revision: store.applied.revision, digest: store.applied.digest } : null,
          inventory: (await replicator.listImages()).map((i) => ({ repository: i.repository, ...(i.tag === undefined ? {} : { tag: i.tag }), digest: i.digest, sizeBytes: i.sizeBytes })),
          sync: { status: syncStatus, ready, total, failed, lastSyncAt },
          link: { ...link },
          runtime: rt.heartbeat(),
        };
      },
      // a forwarder in another process counts OUTBOX depth and drops; without it the streams are read
      ...(config.FORWARDER_STATUS_URL ? { outbox: outboxFromForwarder(config.FORWARDER_STATUS_URL) } : {}),
      storePath: content.root,
      logger: log,
    });

    reporter = startAppliedReporter({ nc: conn, satellite: sat, logger: log, metrics, onDelivered: contact });
    // re-report once after a restart: the dedupe id makes it harmless
    if (store.applied) reporter.report({ satellite: sat, ...store.applied, ...(replicator.current?.revision === store.applied.revision ? { artifacts: artifactReport() } : {}) });

    runner = runConsumer({
      nc: conn,
      stream: siteDurables.satellite.stream,
      consumer: siteDurables.satellite.spec,
      type: siteDurables.satellite.type,
      domain: sat,
      concurrency: 1,
      // desired state is never given up on: a passing fault (disk full) is retried until it clears
      maxAttempts: Number.POSITIVE_INFINITY,
      logger: log,
      onDeadLetter: () => metrics.statesDeadLettered.inc(),
      handler: async (state, ctx) => {
        if (state.satellite !== sat) throw new InvalidMessageError(`desired state of satellite ${state.satellite} in STATE_LOCAL of ${sat}`);
        noteDesired(state);
        const realise: Realise = async (s, c) => {
          await replicator.realise(s, c);
          await opts.realise?.(s, c);
        };
        // a long sync never holds back a newer state: it stops (keeping what it fetched, partial blobs
        // included) and the newer state, which replaced this one in STATE_LOCAL, is delivered next
        const superseded = new AbortController();
        applying = { revision: state.revision, superseded };
        let result;
        try {
          result = await applyDesiredState(state, { working: ctx.working, signal: AbortSignal.any([abort.signal, superseded.signal]) }, { store, logger: log, realise });
        } catch (err) {
          if (!superseded.signal.aborted || abort.signal.aborted) throw err;
          metrics.statesSkipped.inc({ stage: 'apply' });
          log.info({ revision: state.revision }, 'desired state superseded before it was applied');
          return;
        } finally {
          applying = undefined;
        }
        if (result.outcome === 'skipped') {
          metrics.statesSkipped.inc({ stage: 'apply' });
          return;
        }
        metrics.statesApplied.inc();
        metrics.appliedRevision.set(result.applied.revision);
        reporter?.report({ satellite: sat, ...result.applied, artifacts: artifactReport() });
        heartbeat?.soon();
        // mirrors and direct delivery follow the state (its registries, config.mirrors, directDelivery)
        void rt.apply('state');
      },
    });

    // live states: the hub's JetStream publish into STATE reaches the leaf over core interest
    sub = conn.subscribe(subjects.state(sat), {
      callback: (err, msg) => {
        if (err) {
          log.warn({ err: err.message, subject: subjects.state(sat) }, 'state subscription error');
          return;
        }
        contact();
        intake.receive('live', { subject: msg.subject, data: msg.data, headers: msg.headers }).catch((e: unknown) => {
          log.warn({ subject: msg.subject, err: (e as Error).message }, 'could not record a live state; catching up');
          catchUp?.request('record failed');
        });
      },
    });

    catchUp = startCatchUp({
      nc: conn,
      satellite: sat,
      hubDomain: config.HUB_DOMAIN,
      intake,
      intervalMs: config.CATCHUP_INTERVAL_S * 1_000,
      logger: log,
      metrics,
      onSuccess: contact,
      onUnreachable: () => {
        if (!config.LEAF_MONITOR_URL) setConnected(false);
      },
    });

    if (config.LEAF_MONITOR_URL) {
      monitor = startLinkMonitor({
        monitorUrl: config.LEAF_MONITOR_URL,
        logger: log,
        onObserve: (linked, changed) => {
          if (linked) link.lastContactAt = new Date().toISOString();
          if (!changed) return;
          setConnected(linked);
          if (linked) {
            catchUp?.request('link up');
            reporter?.nudge();
          }
        },
      });
    }

    void (async () => {
      for await (const s of conn.status()) {
        if (s.type === 'reconnect') {
          // interest and leaf state may have changed while we were away from the leaf
          catchUp?.request('leaf reconnect');
          reporter?.nudge();
        }
      }
    })().catch(() => undefined);

    await Promise.race([runner.ready, new Promise((resolve) => abort.signal.addEventListener('abort', resolve, { once: true }))]);
    if (closing) return;
    log.info({ hubDomain: config.HUB_DOMAIN, subject: subjects.state(sat) }, 'satellite running');
  }

  const ready = run();
  ready.catch((err: unknown) => {
    if (!closing) log.error({ err }, 'satellite failed to start');
  });

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing = true;
    abort.abort();
    // start-up stops at its next step once closing is set; nothing is created after that
    await ready.catch(() => undefined);
    sub?.unsubscribe();
    // loops stop at their next step; a request they have in flight ends when the connection drains
    const loops = Promise.all([monitor?.stop(), catchUp?.stop(), reporter?.stop(), heartbeat?.stop()]);
    for (const t of timers) clearInterval(t);
    clearTimeout(reportTimer);
    await runner?.stop();
    await replicator.close();
    await rt.close();
    // the last sync events (sync.completed) into OUTBOX, if the leaf takes them soon
    await Promise.race([events.flushed(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await events.stop();
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc?.close());
    await loops;
    await registry.close();
    await pullThrough?.flush().catch(() => undefined);
    await server.close();
    log.info('satellite stopped');
  }

  const readyOrClosed = ready.then(() => {
    if (closing) throw new Error('satellite closed before it was ready');
  });
  readyOrClosed.catch(() => undefined);

  return {
    satellite: sat,
    statusUrl: server.url,
    statusPort: server.port,
    registryUrl: registry.url,
    registryPort: registry.port,
    ready: readyOrClosed,
    status,
    syncNow: () => replicator.syncNow(),
    applyRuntimeConfig: async () => {
      await rt.apply('manual');
      return rt.status();
    },
    prune: (o) => replicator.prune(o),
    gc: (o) => replicator.gc(o),
    verifyStore: (o) => replicator.verifyStore(o),
    listImages: () => replicator.listImages(),
    artifacts: () => replicator.artifacts(),
    close: () => (closed ??= close()),
    [Symbol.asyncDispose]: () => (closed ??= close()),
  };
}

/** The state STATE_LOCAL holds (it survives restarts), or null; best effort. */
async function latestRecorded(nc: NatsConnection, sat: string, log: Logger): Promise<DesiredState | null> {
  try {
    const jsm = await jetstreamManager(nc, { domain: sat, checkAPI: false });
    const m = await jsm.streams.getMessage(siteStreams(sat).STATE_LOCAL.name, { last_by_subj: subjects.localState(sat) });
    if (!m) return null;
    const decoded = decodeMessage('desired-state', m.header?.get(SCHEMA_HEADER) || undefined, m.data);
    return decoded.ok ? decoded.value : null;
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'could not read STATE_LOCAL');
    return null;
  }
}
