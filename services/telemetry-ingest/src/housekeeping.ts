// Periodic work of telemetry-ingest: the status sweep (and the per-site metrics it feeds), partition
// upkeep, and consumer lag for the metrics. Each loop runs one pass at a time and logs, never throws.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { sleep } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { IngestMetrics } from './metrics.js';
import type { StatusRules } from './status.js';
import type { TelemetryStore } from './store.js';

/** Sites whose last-seen age is exported per site (the longest silent first). */
export const SITE_METRICS_LIMIT = 5_000;
/** Transitions logged one per line in a sweep; the rest are counted. */
const TRANSITIONS_LOGGED = 100;

export interface HousekeepingOptions {
  nc: NatsConnection;
  store: TelemetryStore;
  metrics: IngestMetrics;
  logger: Logger;
  rules: StatusRules;
  /** stream and durable names whose lag is reported */
  consumers: { stream: string; durable: string }[];
  sweepIntervalMs: number;
  maintenanceIntervalMs: number;
  lagPollIntervalMs: number;
  retentionDays: number;
  aheadDays: number;
}

export class Housekeeping {
  /** satellite -> ms of its newest heartbeat, for the per-site metric */
  lastSeen: ReadonlyMap<string, number> = new Map();
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(private readonly opts: HousekeepingOptions) {}

  start(): void {
    this.loops.push(
      this.every('status sweep', this.opts.sweepIntervalMs, () => this.sweep()),
      this.every('partition maintenance', this.opts.maintenanceIntervalMs, () => this.maintain()),
      this.every('consumer lag', this.opts.lagPollIntervalMs, () => this.pollLag()),
    );
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  /**
   * Evaluate statuses now and record transitions (false when another instance holds the sweep), then
   * refresh the per-site metrics, which every instance exports.
   */
  async sweep(): Promise<boolean> {
    const log = this.opts.logger;
    const changed = await this.opts.store.sweep(this.opts.rules);
    for (const [i, t] of (changed ?? []).entries()) {
      this.opts.metrics.transitions.inc({ status: t.status });
      if (i < TRANSITIONS_LOGGED) log.info({ satellite: t.satellite, status: t.status }, 'satellite status changed');
    }
    if (changed && changed.length > TRANSITIONS_LOGGED) log.info({ more: changed.length - TRANSITIONS_LOGGED }, 'more satellite status changes');
    const { byStatus, oldest } = await this.opts.store.overview(SITE_METRICS_LIMIT);
    for (const s of ['online', 'stale', 'offline']) this.opts.metrics.sites.set({ status: s }, byStatus[s] ?? 0);
    this.lastSeen = oldest;
    return changed !== undefined;
  }

  async maintain(): Promise<void> {
    await this.opts.store.maintain(Date.now(), { aheadDays: this.opts.aheadDays, retentionDays: this.opts.retentionDays });
  }

  private async pollLag() {
    const jsm = await jetstreamManager(this.opts.nc, { checkAPI: false });
    for (const c of this.opts.consumers) {
      try {
        const info = await jsm.consumers.info(c.stream, c.durable);
        this.opts.metrics.consumerPending.set({ consumer: c.durable }, info.num_pending);
        this.opts.metrics.consumerAckPending.set({ consumer: c.durable }, info.num_ack_pending);
      } catch (err) {
        this.opts.logger.debug({ err: (err as Error).message, consumer: c.durable }, 'consumer info unavailable');
      }
    }
  }

  private async every(what: string, intervalMs: number, fn: () => Promise<unknown>): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      await sleep(intervalMs, signal);
      if (signal.aborted) return;
      try {
        await fn();
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message, task: what }, 'housekeeping task failed; retrying next interval');
      }
    }
  }
}
