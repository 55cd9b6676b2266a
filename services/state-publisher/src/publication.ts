// Getting written revisions onto the hub's STATE stream. One queue per process runs one job at a time
// under a Postgres advisory lock shared by every process, and each job publishes the rows' CURRENT
// revision: an older publish can never land after a newer one. Inside a job, publishes run with
// bounded concurrency; the first failure stops the job (the rows stay unpublished for the retry loop).
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { hubStreams, subjects, type DesiredState } from '@uplink/contracts';
import { createBatchPublisher, messageHeaders, traceHeaders, type BatchPublisher } from '@uplink/bus';
import { withTransaction, type Pool } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import type { StatePublisherMetrics } from './metrics.js';
import { desiredStateEncoder } from './revisions.js';
import { Lock, loadDocuments, loadUnpublished, lock, markPublished, markPurged, unpurgedTombstones, type UnpublishedRow } from './store.js';

export interface PublishOutcome {
  published: number;
  failed: number;
  purged: number;
}

export interface StatePublication {
  /**
   * Publish the unpublished revisions of these satellites (every satellite when undefined) and purge
   * the STATE subjects of deleted ones; resolves when a job covering the request has run.
   */
  publish(satellites?: readonly string[], documents?: readonly DesiredState[]): Promise<PublishOutcome>;
  /** wait for queued jobs, then refuse new ones */
  close(): Promise<void>;
}

export interface StatePublicationOptions {
  pool: Pool;
  nc: NatsConnection;
  logger: Logger;
  metrics: StatePublisherMetrics;
  /** publishes sent before their PubAcks are awaited (one batch) @default 10_000 */
  concurrency?: number;
  /** rows per batch @default 10_000 */
  batchSize?: number;
  /** PubAck timeout @default 5_000 */
  timeoutMs?: number;
}

interface Pending {
  all: boolean;
  satellites: Set<string>;
  /** documents just committed, by satellite: spares reading them back */
  documents: Map<string, DesiredState>;
  waiters: { resolve(o: PublishOutcome): void; reject(err: unknown): void }[];
}

export function createStatePublication(opts: StatePublicationOptions): StatePublication {
  const log = opts.logger;
  const concurrency = opts.concurrency ?? 10_000;
  const batchSize = opts.batchSize ?? 10_000;
  let pending: Pending | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  let jsm: JetStreamManager | undefined;

  let batches: BatchPublisher | undefined;

  const encodeDocument = desiredStateEncoder();

  // Plain publishes sharing one PubAck subscription and one deadline per batch (the bus's batch
  // publisher): a request, timer and promise per message would cost most of the time at 10,000 sites.
  async function publishRows(rows: UnpublishedRow[]): Promise<{ ok: UnpublishedRow[]; failed: number }> {
    batches ??= createBatchPublisher(opts.nc);
    const ok: UnpublishedRow[] = [];
    for (let start = 0; start < rows.length; start += concurrency) {
      const slice = rows.slice(start, start + concurrency);
      const trace = traceHeaders();
      const outcomes = await batches.publish(
        slice.map((row) => ({
          subject: subjects.state(row.satellite),
          // validated when computed (once per distinct content); 10,000 zod parses would double the time
          data: encodeDocument(row.document),
          headers: messageHeaders('desired-state', { 'Nats-Msg-Id': `${row.satellite}:${row.revision}` }, trace),
        })),
        opts.timeoutMs ?? 5_000,
      );
      const now = Date.now();
      let firstError: string | undefined;
      slice.forEach((row, i) => {
        const o = outcomes[i]!;
        if (o.ok && !firstError) {
          ok.push(row);
          opts.metrics.revisionsPublished.inc();
          opts.metrics.publishLatency.observe(Math.max(0, (now - row.updatedAt.getTime()) / 1_000));
        } else if (!o.ok) firstError ??= o.error;
      });
      if (firstError) {
        opts.metrics.publishFailures.inc();
        log.warn({ err: firstError, published: ok.length, pending: rows.length - ok.length }, 'desired states not all published, will retry');
        // stop at the first failure: the rest stay unpublished for the retry loop, in order
        return { ok, failed: rows.length - ok.length };
      }
    }
    return { ok, failed: 0 };
  }

  async function purge(satellites: string[]): Promise<string[]> {
    jsm ??= await jetstreamManager(opts.nc, { checkAPI: false });
    const done: string[] = [];
    for (const sat of satellites) {
      try {
        await jsm.streams.purge(hubStreams.STATE.name, { filter: subjects.state(sat) });
        done.push(sat);
        log.info({ satellite: sat, subject: subjects.state(sat) }, 'desired state of a deleted satellite purged');
      } catch (err) {
        log.warn({ err: (err as Error).message, satellite: sat }, 'purge failed, will retry');
        break;
      }
    }
    return done;
  }

  async function job(p: Pending): Promise<PublishOutcome> {
    const only = p.all ? undefined : [...p.satellites];
    return withTransaction(opts.pool, async (c) => {
      await lock(c, Lock.publish);
      const out: PublishOutcome = { published: 0, failed: 0, purged: 0 };
      const gone = await unpurgedTombstones(c, only, batchSize);
      if (gone.length > 0) {
        const purged = await purge(gone);
        await markPurged(c, purged);
        out.purged = purged.length;
      }
      for (;;) {
        const l0 = performance.now();
        const refs = await loadUnpublished(c, only, batchSize);
        log.debug({ rows: refs.length, ms: Math.round(performance.now() - l0) }, 'unpublished revisions loaded');
        if (refs.length === 0) break;
        // the CURRENT revision of each row: a known document only if it is that revision
        const missing = refs.filter((r) => p.documents.get(r.satellite)?.revision !== r.revision);
        const loaded = await loadDocuments(c, missing);
        const rows: UnpublishedRow[] = [];
        for (const r of refs) {
          const document = loaded.get(r.satellite) ?? p.documents.get(r.satellite);
          if (document?.revision === r.revision) rows.push({ ...r, document });
        }
        const t0 = performance.now();
        const { ok, failed } = await publishRows(rows);
        const t1 = performance.now();
        await markPublished(
          c,
          ok.map((r) => ({ satellite: r.satellite, revision: r.revision, digest: r.document.digest })),
        );
        out.published += ok.length;
        out.failed += failed;
        if (ok.length > 0) log.info({ published: ok.length, failed, publishMs: Math.round(t1 - t0), recordMs: Math.round(performance.now() - t1) }, 'desired states published');
        if (failed > 0 || refs.length < batchSize || only) break;
      }
      return out;
    });
  }

  function kick() {
    if (running || !pending) return;
    running = (async () => {
      while (pending) {
        const p = pending;
        pending = undefined;
        try {
          const outcome = await job(p);
          for (const w of p.waiters) w.resolve(outcome);
        } catch (err) {
          log.error({ err: (err as Error).message }, 'publishing desired states failed, will retry');
          for (const w of p.waiters) w.reject(err);
        }
      }
    })().finally(() => {
      running = undefined;
    });
  }

  return {
    publish(satellites, documents) {
      if (closed) return Promise.resolve({ published: 0, failed: 0, purged: 0 });
      if (satellites && satellites.length === 0) return Promise.resolve({ published: 0, failed: 0, purged: 0 });
      pending ??= { all: false, satellites: new Set(), documents: new Map(), waiters: [] };
      const p = pending;
      if (satellites) for (const s of satellites) p.satellites.add(s);
      else p.all = true;
      for (const d of documents ?? []) {
        const known = p.documents.get(d.satellite);
        if (!known || known.revision < d.revision) p.documents.set(d.satellite, d);
      }
      const done = new Promise<PublishOutcome>((resolve, reject) => p.waiters.push({ resolve, reject }));
      kick();
      return done;
    },
    async close() {
      closed = true;
      while (running) await running;
      batches?.close();
    },
  };
}
