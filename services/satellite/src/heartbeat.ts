// Heartbeats: every `intervalSeconds()` (the applied state's config.heartbeatSeconds, re-read each
// second so a change applies without restart) a `heartbeat/1` goes into the site's OUTBOX, which the
// forwarder ships to the hub. Sampling never holds a heartbeat back: every part is sampled with a
// deadline, and a slow or failing sampler contributes its last good value instead.
import { createHash, randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { z } from 'zod';
import { canonicalJson, siteStreams, type Heartbeat, type InventoryImage } from '@uplink/contracts';
import { publishToOutbox, sleep } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import { createSystemSampler, type SystemSample, type SystemSampler } from './system-sample.js';

export type InventoryEntry = z.infer<typeof InventoryImage>;
export type OutboxDepth = Heartbeat['outbox'];

/** The parts of a heartbeat the satellite owns. */
export interface HeartbeatParts {
  applied: Heartbeat['applied'];
  /** every image in the local store; sent whole only when it changed */
  inventory: InventoryEntry[];
  sync: Heartbeat['sync'];
  link: Heartbeat['link'];
  /** runtime mirror config and direct delivery; left out before the first apply */
  runtime?: Heartbeat['runtime'];
}

export interface HeartbeatOptions {
  nc: NatsConnection;
  satellite: string;
  /** seconds between heartbeats, read again every second; a bad value means 30 */
  intervalSeconds: () => number;
  /** the satellite's own parts (applied, inventory, sync, link) */
  sample: () => HeartbeatParts | Promise<HeartbeatParts>;
  /**
   * OUTBOX depth and drop count (in one process: the forwarder's `outbox()`)
   * @default depth read from the OUTBOX streams on the leaf, drops 0
   */
  outbox?: () => OutboxDepth | Promise<OutboxDepth>;
  /** @default a sampler of this machine reporting the filesystem of `storePath` */
  system?: SystemSampler;
  /** a directory on the content store's filesystem @default process.cwd() */
  storePath?: string;
  /** component versions @default { node: process.version } */
  versions?: Record<string, string>;
  /** how long a part may take before its last good value is sent @default 2_000 */
  sampleTimeoutMs?: number;
  /** how long the OUTBOX may take to take a heartbeat @default 5_000 */
  publishTimeoutMs?: number;
  /** least time between heartbeats that `soon()` brings forward @default 5_000 */
  minGapMs?: number;
  /** identifies this process start; with `seq` orders heartbeats @default a random UUID */
  bootId?: string;
  logger: Logger;
  /** called with each heartbeat the OUTBOX stored */
  onStored?: (heartbeat: Heartbeat, msgId: string) => void;
}

export interface HeartbeatHandle {
  readonly bootId: string;
  /** sequence number of the next heartbeat */
  readonly seq: number;
  /** send a heartbeat now (the schedule continues from it) */
  beat(): Promise<Heartbeat | undefined>;
  /**
   * Something the cloud shows changed (applied revision, sync status): send a heartbeat soon instead
   * of at the next interval, at most one per `minGapMs` however often this is called.
   */
  soon(): void;
  stop(): Promise<void>;
}

export const DEFAULT_HEARTBEAT_SECONDS = 30;
const MAX_TICK_MS = 1_000;

/**
 * OUTBOX depth and drops as a forwarder in another process reports them on its `/stats` (a forwarder
 * in the same process: pass its `outbox()` instead).
 */
export function outboxFromForwarder(statusUrl: string, timeoutMs = 2_000): () => Promise<OutboxDepth> {
  const url = `${statusUrl.replace(/\/+$/, '')}/stats`;
  return async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`forwarder ${url} answered ${res.status}`);
    const s = (await res.json()) as { backlog?: { messages?: unknown; bytes?: unknown }; dropped?: unknown };
    const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0);
    return { messages: int(s.backlog?.messages), bytes: int(s.backlog?.bytes), dropped: int(s.dropped) };
  };
}

/** sha256 over the canonical form of the inventory, independent of its order */
export function inventoryHash(images: readonly InventoryEntry[]): string {
  const sorted = [...images].sort((a, b) => cmp(a.repository, b.repository) || cmp(a.digest, b.digest) || cmp(a.tag ?? '', b.tag ?? ''));
  return 'sha256:' + createHash('sha256').update(canonicalJson(sorted)).digest('hex');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The interval to use for a configured value: whole seconds, at least 1, 30 when unusable. */
export function effectiveInterval(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.max(1, Math.round(v)) : DEFAULT_HEARTBEAT_SECONDS;
}

/**
 * A sampled value that never makes its caller wait longer than `timeoutMs`: a late sample still
 * lands as the last good value for the next call; only one sample runs at a time.
 */
function lastGood<T>(run: () => T | Promise<T>, timeoutMs: number, onError: (err: unknown) => void) {
  let last: T | undefined;
  let running: Promise<void> | undefined;
  return async (): Promise<T | undefined> => {
    running ??= (async () => {
      try {
        last = await run();
      } catch (err) {
        onError(err);
      } finally {
        running = undefined;
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return last;
  };
}

export function startHeartbeat(opts: HeartbeatOptions): HeartbeatHandle {
  const { nc, satellite } = opts;
  const log = opts.logger.child({ satellite, kind: 'heartbeat' });
  const bootId = opts.bootId ?? randomUUID();
  const timeoutMs = opts.sampleTimeoutMs ?? 2_000;
  const versions = opts.versions ?? { node: process.version };
  const streams = siteStreams(satellite);
  let seq = 0;
  let stopped = false;
  let wake = new AbortController();
  let lastAt = 0;
  /** when a heartbeat asked for by soon() is due */
  let soonAt: number | undefined;
  const minGapMs = opts.minGapMs ?? 5_000;
  // what the hub can be assumed to know: the inventory hash of the last whole list stored in OUTBOX,
  // and the OUTBOX drop count then (a drop since may have been that very heartbeat)
  let sentWhole: { hash: string; dropped: number } | undefined;

  const warned = new Set<string>();
  const warnOnce = (part: string) => (err: unknown) => {
    if (warned.has(part)) return log.debug({ part, err: (err as Error)?.message }, 'heartbeat sample failed');
    warned.add(part);
    log.warn({ part, err: (err as Error)?.message }, 'heartbeat sample failed; sending its last good value');
  };

  const system = lastGood(opts.system ?? createSystemSampler({ path: opts.storePath ?? process.cwd() }), timeoutMs, warnOnce('system'));
  const parts = lastGood(opts.sample, timeoutMs, warnOnce('satellite'));
  const outbox = lastGood(opts.outbox ?? (() => outboxFromStreams()), timeoutMs, warnOnce('outbox'));

  async function outboxFromStreams(): Promise<OutboxDepth> {
    const jsm = await jetstreamManager(nc, { domain: satellite, checkAPI: false });
    let messages = 0;
    let bytes = 0;
    for (const name of [streams.OUTBOX.name, streams.OUTBOX_RESULTS.name]) {
      const info = await jsm.streams.info(name);
      messages += info.state.messages;
      bytes += info.state.bytes;
    }
    return { messages, bytes, dropped: 0 };
  }

  function compose(n: number, sys: SystemSample | undefined, p: HeartbeatParts | undefined, ob: OutboxDepth | undefined, interval: number): Heartbeat {
    const hash = p ? inventoryHash(p.inventory) : (sentWhole?.hash ?? 'unknown');
    const dropped = ob?.dropped ?? 0;
    const whole = p !== undefined && (sentWhole === undefined || sentWhole.hash !== hash || dropped > sentWhole.dropped);
    return {
      satellite,
      at: new Date().toISOString(),
      seq: n,
      bootId,
      intervalSeconds: interval,
      uptimeSeconds: sys?.uptimeSeconds ?? Math.round(process.uptime()),
      cpuPercent: sys?.cpuPercent ?? 0,
      memory: sys?.memory ?? { usedBytes: 0, totalBytes: 0 },
      disk: sys?.disk ?? { usedBytes: 0, freeBytes: 0 },
      versions,
      applied: p?.applied ?? null,
      inventory: whole ? { hash, images: p.inventory } : { hash },
      sync: p?.sync ?? { status: 'idle', ready: 0, total: 0, failed: 0, lastSyncAt: null },
      link: p?.link ?? { connected: false, lastContactAt: null },
      outbox: { messages: ob?.messages ?? 0, bytes: ob?.bytes ?? 0, dropped },
      ...(p?.runtime ? { runtime: p.runtime } : {}),
    };
  }

  async function beat(): Promise<Heartbeat | undefined> {
    lastAt = Date.now();
    const n = seq++;
    const interval = effectiveInterval(opts.intervalSeconds());
    const [sys, p, ob] = await Promise.all([system(), parts(), outbox()]);
    const hb = compose(n, sys, p, ob, interval);
    const msgId = `heartbeat:${satellite}:${bootId}:${hb.seq}`;
    try {
      await publishToOutbox(nc, satellite, 'heartbeat', 'heartbeat', hb, { msgId, timeoutMs: opts.publishTimeoutMs ?? 5_000 });
    } catch (err) {
      // the leaf server is local: this is rare (leaf restarting); the next heartbeat carries it all again
      log.warn({ seq: hb.seq, err: (err as Error).message }, 'heartbeat not stored in OUTBOX');
      return undefined;
    }
    if (hb.inventory.images) sentWhole = { hash: hb.inventory.hash, dropped: hb.outbox.dropped };
    log.debug({ seq: hb.seq, whole: hb.inventory.images !== undefined }, 'heartbeat stored in OUTBOX');
    opts.onStored?.(hb, msgId);
    return hb;
  }

  const done = (async () => {
    while (!stopped) {
      const due = Math.min(lastAt + effectiveInterval(opts.intervalSeconds()) * 1_000, soonAt ?? Infinity);
      const wait = due - Date.now();
      if (wait > 0) {
        await sleep(Math.min(wait, MAX_TICK_MS), wake.signal);
        if (wake.signal.aborted) wake = new AbortController();
        continue;
      }
      soonAt = undefined;
      try {
        await beat();
      } catch (err) {
        log.error({ err }, 'heartbeat failed');
      }
    }
  })();

  return {
    bootId,
    get seq() {
      return seq;
    },
    beat,
    soon() {
      if (stopped || soonAt !== undefined) return;
      // a moment for related changes to land in the same heartbeat
      soonAt = Math.max(Date.now() + 500, lastAt + minGapMs);
      wake.abort();
    },
    async stop() {
      stopped = true;
      wake.abort();
      await done;
    },
  };
}
