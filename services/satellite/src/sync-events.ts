// Sync progress into the site's OUTBOX (`uplink.outbox.<sat>.sync`, `sync-event/1`), which the
// forwarder ships to the hub. Events are queued in memory and sent in order, retried while the
// local leaf server is unreachable; the queue is bounded, the oldest event goes first when full.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SyncEvent } from '@uplink/contracts';
import { backoffDelay, publishToOutbox, sleep } from '@uplink/bus';
import type { Logger } from '@uplink/observability';

export type SyncEventInput = Omit<SyncEvent, 'satellite' | 'at'>;

export interface SyncEventSink {
  emit(event: SyncEventInput): void;
  /** the connection to the local leaf, once there is one */
  attach(nc: NatsConnection): void;
  /** events waiting to be stored */
  readonly queued: number;
  /** events dropped because the queue was full */
  readonly dropped: number;
  /** resolves when the queue is empty (or the sink stopped) */
  flushed(): Promise<void>;
  stop(): Promise<void>;
}

export interface SyncEventSinkOptions {
  satellite: string;
  logger: Logger;
  /** @default 10_000 */
  maxQueued?: number;
  /** @default 5_000 */
  timeoutMs?: number;
}

export function createSyncEventSink(opts: SyncEventSinkOptions): SyncEventSink {
  const { satellite } = opts;
  const log = opts.logger;
  const max = opts.maxQueued ?? 10_000;
  const bootId = randomUUID().slice(0, 8);
  const queue: { body: SyncEvent; msgId: string }[] = [];
  let seq = 0;
  let dropped = 0;
  let nc: NatsConnection | undefined;
  let stopped = false;
  let wake = new AbortController();
  let idle: (() => void)[] = [];

  const done = (async () => {
    let failures = 0;
    while (!stopped) {
      const next = queue[0];
      if (!next || !nc) {
        for (const f of idle.splice(0)) f();
        await new Promise<void>((resolve) => {
          if (wake.signal.aborted) return resolve();
          wake.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        wake = new AbortController();
        continue;
      }
      try {
        await publishToOutbox(nc, satellite, 'sync', 'sync-event', next.body, { msgId: next.msgId, timeoutMs: opts.timeoutMs ?? 5_000 });
        if (queue[0] === next) queue.shift();
        failures = 0;
      } catch (err) {
        if (stopped) break;
        failures++;
        if (failures === 1 || failures % 20 === 0) log.warn({ err: (err as Error).message, failures, queued: queue.length }, 'sync event not stored in OUTBOX; retrying');
        await sleep(backoffDelay(failures, { initialMs: 250, maxMs: 10_000 }), wake.signal);
        if (wake.signal.aborted) wake = new AbortController();
      }
    }
    for (const f of idle.splice(0)) f();
  })();

  return {
    emit(event) {
      if (stopped) return;
      const body: SyncEvent = { satellite, at: new Date().toISOString(), ...event };
      queue.push({ body, msgId: `sync:${satellite}:${bootId}:${seq++}` });
      if (queue.length > max) {
        queue.shift();
        dropped++;
      }
      wake.abort();
    },
    attach(conn) {
      nc = conn;
      wake.abort();
    },
    get queued() {
      return queue.length;
    },
    get dropped() {
      return dropped;
    },
    flushed() {
      if (queue.length === 0 || stopped) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
    async stop() {
      stopped = true;
      wake.abort();
      await done;
      idle = [];
    },
  };
}
