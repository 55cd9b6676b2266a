// Reports applied revisions to the cloud as `state-applied` on uplink.telemetry.<sat>.applied. Only the
// latest unreported revision is kept; it is retried with backoff until the hub's PubAck comes.
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { subjects, type StateApplied } from '@uplink/contracts';
import { backoffDelay, publishMessage, sleep, type BackoffOptions } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { SatelliteMetrics } from './metrics.js';
import { isUnreachable } from './unreachable.js';

export interface AppliedReporter {
  /** report this revision (replaces an older unreported one, or the same one with older artifact status) */
  report(applied: StateApplied): void;
  /** retry now, e.g. when the link came back */
  nudge(): void;
  /** the revision waiting for a PubAck, if any */
  readonly pending: StateApplied | null;
  stop(): Promise<void>;
}

export interface AppliedReporterOptions {
  nc: NatsConnection;
  satellite: string;
  logger: Logger;
  metrics: SatelliteMetrics;
  /** the hub stored a report */
  onDelivered?: (applied: StateApplied) => void;
  /** @default { initialMs: 500, maxMs: 30_000 } */
  backoff?: BackoffOptions;
  /** @default 5_000 */
  timeoutMs?: number;
}

export function startAppliedReporter(opts: AppliedReporterOptions): AppliedReporter {
  const { nc, satellite, metrics } = opts;
  const log = opts.logger;
  const subject = subjects.telemetry(satellite, 'applied');
  const backoff = { initialMs: 500, maxMs: 30_000, ...opts.backoff };
  let pending: StateApplied | null = null;
  let stopped = false;
  let wake = new AbortController();
  let failures = 0;

  const done = (async () => {
    while (!stopped) {
      wake = new AbortController();
      const next = pending as StateApplied | null;
      if (!next) {
        await untilAborted(wake.signal);
        continue;
      }
      try {
        // the dedupe id makes a repeated report (retry, restart) harmless; a change of the
        // per-artifact status is a new report
        const ack = await publishMessage(nc, subject, 'state-applied', next, {
          msgId: reportId(next),
          timeoutMs: opts.timeoutMs ?? 5_000,
        });
        if (pending === next) pending = null;
        failures = 0;
        metrics.appliedReports.inc({ outcome: 'delivered' });
        log.info({ subject, revision: next.revision, stream: ack.stream, duplicate: ack.duplicate }, 'applied revision reported');
        opts.onDelivered?.(next);
      } catch (err) {
        if (stopped) break;
        failures++;
        metrics.appliedReports.inc({ outcome: 'failed' });
        const fields = { subject, revision: next.revision, failures, err: (err as Error).message };
        if (isUnreachable(err)) log.debug(fields, 'applied report not delivered, hub not reachable; will retry');
        else if (failures === 1 || failures % 10 === 0) log.warn(fields, 'applied report failed; will retry');
        await sleep(backoffDelay(failures, backoff), wake.signal);
      }
    }
  })();

  return {
    report(applied) {
      if (pending && pending.revision > applied.revision) return;
      pending = applied;
      failures = 0;
      wake.abort();
    },
    nudge() {
      if (pending) wake.abort();
    },
    get pending() {
      return pending;
    },
    async stop() {
      stopped = true;
      wake.abort();
      await done;
    },
  };
}

function reportId(r: StateApplied): string {
  const base = `applied:${r.satellite}:${r.revision}`;
  if (!r.artifacts) return base;
  return `${base}:${createHash('sha256').update(JSON.stringify(r.artifacts)).digest('hex').slice(0, 16)}`;
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
