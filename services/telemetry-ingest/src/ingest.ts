// The write path: the consumer runner hands over batches of validated messages; each batch is checked,
// committed to Postgres in one transaction and the sites' latest status put in Redis, and only then
// are its messages acked (per message, by the runner). Rows are keyed by (satellite, at, message id),
// so redelivered and re-forwarded messages are skipped by the insert itself, however late they come.
import { InvalidMessageError, RetryableError, type BatchItem } from '@uplink/bus';
import type { Heartbeat } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import type { IngestMetrics } from './metrics.js';
import { dayOf, retentionStart } from './partitions.js';
import { latestPerSatellite, toRecord, type ReceivedHeartbeat, type TelemetryRecord } from './records.js';
import type { StatusCache } from './status-cache.js';
import { isBadData, isMissingPartition, type TelemetryStore } from './store.js';

export interface IngestOptions {
  maxClockSkewMs: number;
  retentionDays: number;
}

interface Item {
  record: TelemetryRecord;
  heartbeat: Heartbeat | undefined;
  receivedAtMs: number;
}

/** Per message of a batch: undefined when stored (or known), else why not. */
export type Outcomes = (Error | undefined)[];

export class TelemetryIngest {
  constructor(
    private readonly store: TelemetryStore,
    private readonly cache: StatusCache,
    private readonly metrics: IngestMetrics,
    private readonly log: Logger,
    private readonly opts: IngestOptions,
  ) {}

  heartbeats(items: BatchItem<'heartbeat'>[]): Promise<Outcomes> {
    return this.ingest(items, true);
  }

  syncEvents(items: BatchItem<'sync-event'>[]): Promise<Outcomes> {
    return this.ingest(items, false);
  }

  private async ingest(items: BatchItem<'heartbeat' | 'sync-event'>[], heartbeats: boolean): Promise<Outcomes> {
    const now = Date.now();
    const outcomes: Outcomes = new Array<Error | undefined>(items.length).fill(undefined);
    const good: Item[] = [];
    const at: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const { body, ctx } = items[i]!;
      try {
        // the text as received: stored and cached as is, never encoded again
        const record = toRecord(ctx.subject, body, ctx.text, ctx.msgId, { nowMs: now, maxClockSkewMs: this.opts.maxClockSkewMs });
        good.push({ record, heartbeat: heartbeats ? (body as Heartbeat) : undefined, receivedAtMs: now });
        at.push(i);
      } catch (err) {
        outcomes[i] = err as Error;
      }
    }
    if (good.length > 0) {
      const written = await this.writeBatch(good);
      written.forEach((err, j) => (outcomes[at[j]!] = err));
    }
    return outcomes;
  }

  private async writeBatch(items: Item[]): Promise<(Error | undefined)[]> {
    const started = performance.now();
    const keepFrom = retentionStart(Date.now(), this.opts.retentionDays);
    const outcomes: (Error | undefined)[] = new Array<Error | undefined>(items.length).fill(undefined);
    const fresh: Item[] = [];
    for (const item of items) {
      if (dayOf(item.record.atMs) >= keepFrom) fresh.push(item);
      else this.metrics.expired.inc({ kind: item.record.kind });
    }
    this.metrics.batchSize.observe(items.length);
    if (fresh.length === 0) return outcomes;
    const latest = latestPerSatellite(heartbeatsOf(fresh));
    try {
      await this.store.ensurePartitions(fresh.map((i) => dayOf(i.record.atMs)));
      const { inserted } = await this.store.write(
        fresh.map((i) => i.record),
        latest,
      );
      this.count(fresh, inserted);
    } catch (err) {
      if (isBadData(err) && fresh.length > 1) return this.writeOneByOne(items, keepFrom);
      throw this.retryable(err);
    }
    await this.cache.update(latest);
    this.metrics.batchSeconds.observe((performance.now() - started) / 1000);
    return outcomes;
  }

  /** A batch held a row Postgres refuses: write each alone, so only the bad ones are dead-lettered. */
  private async writeOneByOne(items: Item[], keepFrom: number): Promise<(Error | undefined)[]> {
    const outcomes: (Error | undefined)[] = [];
    for (const item of items) {
      if (dayOf(item.record.atMs) < keepFrom) {
        outcomes.push(undefined);
        continue;
      }
      const latest = latestPerSatellite(heartbeatsOf([item]));
      try {
        const { inserted } = await this.store.write([item.record], latest);
        this.count([item], inserted);
        await this.cache.update(latest);
        outcomes.push(undefined);
      } catch (err) {
        if (isBadData(err)) {
          outcomes.push(new InvalidMessageError(`postgres refused the message: ${(err as Error).message}`, { cause: err }));
        } else {
          outcomes.push(this.retryable(err));
        }
      }
    }
    return outcomes;
  }

  private count(items: Item[], inserted: Map<string, number>) {
    const kinds = new Map<string, number>();
    for (const i of items) kinds.set(i.record.kind, (kinds.get(i.record.kind) ?? 0) + 1);
    for (const [kind, n] of kinds) {
      const stored = inserted.get(kind) ?? 0;
      if (stored > 0) this.metrics.stored.inc({ kind }, stored);
      if (n > stored) this.metrics.duplicates.inc({ kind }, n - stored);
    }
  }

  private retryable(err: unknown): RetryableError {
    const message = (err as Error).message;
    if (isMissingPartition(err)) {
      this.store.forgetPartitions();
      this.metrics.writeErrors.inc({ reason: 'partition' });
    } else {
      this.metrics.writeErrors.inc({ reason: 'postgres' });
    }
    this.log.warn({ err: message }, 'telemetry batch not stored; its messages will be redelivered');
    return new RetryableError(`storing telemetry failed: ${message}`, { cause: err });
  }
}

function heartbeatsOf(items: Item[]): ReceivedHeartbeat[] {
  const out: ReceivedHeartbeat[] = [];
  for (const i of items) {
    if (i.heartbeat) out.push({ heartbeat: i.heartbeat, raw: i.record.raw, msgId: i.record.msgId, receivedAtMs: i.receivedAtMs });
  }
  return out;
}
