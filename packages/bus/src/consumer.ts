// The one durable pull-consumer runner: bounded concurrency, ack after the handler succeeds, nak with
// backoff on passing faults, term + dead-letter on invalid messages. It recreates its consumer when it
// was deleted and restarts its pull loop after missed heartbeats or a server restart.
import type { NatsConnection, MsgHdrs } from '@nats-io/transport-node';
import { jetstreamManager, type JsMsg, type ConsumerMessages, type JetStreamManager } from '@nats-io/jetstream';
import { decodeMessage, SCHEMA_HEADER, type ConsumerSpec, type MessageOf, type MessageType } from '@uplink/contracts';
import { context, extractTraceContext, type Logger } from '@uplink/observability';
import { backoffDelay, sleep } from './backoff.js';
import { deadLetter as publishDeadLetter } from './dead-letter.js';
import { isInvalidMessage } from './errors.js';
import { jsFor } from './publish.js';
import { provisionConsumer } from './provision.js';

export interface MessageContext {
  subject: string;
  streamSequence: number;
  /** 1 on first delivery */
  deliveryCount: number;
  msgId: string | undefined;
  headers: MsgHdrs | undefined;
  /** the body exactly as received (e.g. to check a signature over its bytes) */
  data: Uint8Array;
  /** extend the ack deadline for a long handler */
  working(): void;
}

export type MessageHandler<T extends MessageType> = (body: MessageOf<T>, ctx: MessageContext) => Promise<void>;

export interface ConsumerRunnerOptions<T extends MessageType> {
  nc: NatsConnection;
  stream: string;
  consumer: ConsumerSpec;
  /** message type (and versions) this consumer accepts */
  type: T;
  handler: MessageHandler<T>;
  logger: Logger;
  /** JetStream domain of the stream (a site's leaf, or the hub) */
  domain?: string;
  /** handlers running at once @default 1 */
  concurrency?: number;
  /** a message failing this many times is dead-lettered @default 20 */
  maxAttempts?: number;
  /** @default { initialMs: 500, maxMs: 30_000 } */
  backoff?: { initialMs?: number; maxMs?: number };
  /** restart the pull loop after this many missed heartbeats @default 2 */
  missedHeartbeatsToRestart?: number;
  /** called for each dead-lettered message */
  onDeadLetter?: (reason: string, subject: string) => void;
  /** called after each message with its outcome */
  onOutcome?: (outcome: 'ack' | 'nak' | 'term') => void;
}

export interface ConsumerRunner {
  /** resolves once the consumer exists and the first pull is out */
  readonly ready: Promise<void>;
  /** stop pulling, wait for running handlers */
  stop(): Promise<void>;
  /** how many times the pull loop was (re)started */
  readonly starts: number;
}

export function runConsumer<T extends MessageType>(opts: ConsumerRunnerOptions<T>): ConsumerRunner {
  const log = opts.logger.child({ stream: opts.stream, consumer: opts.consumer.durable_name });
  const concurrency = opts.concurrency ?? 1;
  const maxAttempts = opts.maxAttempts ?? 20;
  const abort = new AbortController();
  const inflight = new Set<Promise<void>>();
  let current: ConsumerMessages | undefined;
  let starts = 0;
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));

  async function deadLetter(m: JsMsg, reason: string) {
    log.warn({ subject: m.subject, seq: m.seq, reason }, 'message dead-lettered');
    opts.onDeadLetter?.(reason, m.subject);
    await publishDeadLetter(opts.nc, {
      stream: opts.stream,
      subject: m.subject,
      data: m.data,
      headers: m.headers,
      reason,
      sequence: m.seq,
      msgId: `dead:${opts.stream}:${opts.consumer.durable_name}:${m.seq}`,
      domain: opts.domain,
      logger: log,
    });
  }

  async function handle(m: JsMsg) {
    const decoded = decodeMessage(opts.type, m.headers?.get(SCHEMA_HEADER) || undefined, m.data);
    if (!decoded.ok) {
      await deadLetter(m, decoded.reason);
      m.term(decoded.reason);
      opts.onOutcome?.('term');
      return;
    }
    const ctx: MessageContext = {
      subject: m.subject,
      streamSequence: m.seq,
      deliveryCount: m.info.deliveryCount,
      msgId: m.headers?.get('Nats-Msg-Id') || undefined,
      headers: m.headers,
      data: m.data,
      working: () => m.working(),
    };
    const traceCtx = extractTraceContext((k) => m.headers?.get(k) || undefined);
    try {
      await context.with(traceCtx, () => opts.handler(decoded.value, ctx));
      m.ack();
      opts.onOutcome?.('ack');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (isInvalidMessage(err)) {
        await deadLetter(m, reason);
        m.term(reason);
        opts.onOutcome?.('term');
      } else if (m.info.deliveryCount >= maxAttempts) {
        await deadLetter(m, `gave up after ${m.info.deliveryCount} attempts: ${reason}`);
        m.term(reason);
        opts.onOutcome?.('term');
      } else {
        const delay = backoffDelay(m.info.deliveryCount, { initialMs: opts.backoff?.initialMs ?? 500, maxMs: opts.backoff?.maxMs ?? 30_000 });
        log.warn({ subject: m.subject, seq: m.seq, attempt: m.info.deliveryCount, delayMs: delay, err: reason }, 'handler failed, will retry');
        m.nak(delay);
        opts.onOutcome?.('nak');
      }
    }
  }

  async function ensureConsumer(jsm: JetStreamManager) {
    await provisionConsumer(jsm, opts.stream, opts.consumer, log);
  }

  async function loop() {
    let failures = 0;
    while (!abort.signal.aborted) {
      try {
        const jsm = await jetstreamManager(opts.nc, { ...(opts.domain ? { domain: opts.domain } : {}), checkAPI: false });
        await ensureConsumer(jsm);
        const c = await jsFor(opts.nc, opts.domain).consumers.get(opts.stream, opts.consumer.durable_name);
        const messages = await c.consume({ max_messages: Math.max(concurrency * 2, 8), idle_heartbeat: 5_000, expires: 30_000 });
        current = messages;
        starts++;
        failures = 0;
        resolveReady();
        let restartReason: string | undefined;
        void (async () => {
          for await (const s of messages.status()) {
            if (s.type === 'heartbeats_missed' && s.count >= (opts.missedHeartbeatsToRestart ?? 2)) restartReason = `missed ${s.count} heartbeats`;
            else if (s.type === 'consumer_deleted') restartReason = 'consumer deleted';
            else if (s.type === 'consumer_not_found' && s.count >= 1) restartReason = 'consumer not found';
            else if (s.type === 'stream_not_found') restartReason = 'stream not found';
            else continue;
            log.warn({ reason: restartReason }, 'restarting consumer');
            messages.stop();
            return;
          }
        })().catch(() => undefined);
        for await (const m of messages) {
          while (inflight.size >= concurrency) await Promise.race(inflight);
          const p = handle(m)
            .catch((err) => log.error({ err }, 'handler crashed'))
            .finally(() => inflight.delete(p));
          inflight.add(p);
        }
        await Promise.all(inflight);
        if (abort.signal.aborted) break;
        log.info({ reason: restartReason ?? 'pull loop ended' }, 'consumer pull loop ended, restarting');
      } catch (err) {
        failures++;
        const delay = backoffDelay(failures, { initialMs: 250, maxMs: 10_000 });
        if (failures === 1 || failures % 10 === 0) log.warn({ err: (err as Error).message, failures, delayMs: delay }, 'consumer not available, retrying');
        await sleep(delay, abort.signal);
      }
    }
  }

  const done = loop();
  return {
    ready,
    get starts() {
      return starts;
    },
    async stop() {
      abort.abort();
      current?.stop();
      await done;
      await Promise.all(inflight);
    },
  };
}
