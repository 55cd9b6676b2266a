// The durable pull-consumer runners: ack after the handler succeeds, nak with backoff on passing
// faults, term + dead-letter on invalid messages. They recreate their consumer when it was deleted and
// restart their pull loop after missed heartbeats or a server restart.
//  - runConsumer: one handler call per message, bounded concurrency, trace context per message;
//  - runBatchConsumer: one handler call per batch of up to `batchMax` messages (or what arrived within
//    `batchWaitMs`), a few batches in flight; for high-rate streams where per-message work must be
//    close to zero (telemetry ingest). Each message is still acked (or nak'd, or dead-lettered) on
//    its own, so several instances can share the consumer.
import type { NatsConnection, MsgHdrs } from '@nats-io/transport-node';
import { jetstreamManager, type JsMsg, type ConsumerMessages } from '@nats-io/jetstream';
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
  /** the body as text (decoded once, shared with validation) */
  text: string;
  /** extend the ack deadline for a long handler */
  working(): void;
}

export type MessageHandler<T extends MessageType> = (body: MessageOf<T>, ctx: MessageContext) => Promise<void>;

export interface BatchItem<T extends MessageType> {
  body: MessageOf<T>;
  ctx: MessageContext;
}

/**
 * Handle a batch. Resolve with one entry per item (undefined: done, an Error: that item failed on its
 * own, judged as a single handler's error would be), or with nothing when all are done; throw when the
 * whole batch failed.
 */
export type BatchHandler<T extends MessageType> = (items: BatchItem<T>[]) => Promise<(Error | undefined)[] | void>;

interface CommonOptions<T extends MessageType> {
  nc: NatsConnection;
  stream: string;
  consumer: ConsumerSpec;
  /** message type (and versions) this consumer accepts */
  type: T;
  logger: Logger;
  /** JetStream domain of the stream (a site's leaf, or the hub) */
  domain?: string;
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

export interface ConsumerRunnerOptions<T extends MessageType> extends CommonOptions<T> {
  handler: MessageHandler<T>;
  /** handlers running at once @default 1 */
  concurrency?: number;
}

export interface BatchConsumerRunnerOptions<T extends MessageType> extends CommonOptions<T> {
  handler: BatchHandler<T>;
  /** most messages in one batch @default 1_000 */
  batchMax?: number;
  /** how long the first message of a batch waits for more @default 20 */
  batchWaitMs?: number;
  /** batches handled at once; messages keep collecting meanwhile @default 2 */
  batchesInFlight?: number;
}

export interface ConsumerRunner {
  /** resolves once the consumer exists and the first pull is out */
  readonly ready: Promise<void>;
  /** stop pulling, wait for running handlers */
  stop(): Promise<void>;
  /** how many times the pull loop was (re)started */
  readonly starts: number;
}

/** What a handler sees of a message; fields are read from the message only when asked for. */
class JsMessageContext implements MessageContext {
  constructor(
    private readonly m: JsMsg,
    readonly text: string,
  ) {}
  get subject() {
    return this.m.subject;
  }
  get streamSequence() {
    return this.m.seq;
  }
  get deliveryCount() {
    return this.m.info.deliveryCount;
  }
  get msgId() {
    return this.m.headers?.get('Nats-Msg-Id') || undefined;
  }
  get headers() {
    return this.m.headers;
  }
  get data() {
    return this.m.data;
  }
  working() {
    this.m.working();
  }
}

const utf8 = new TextDecoder();

/** Decoding, settling and the restarting pull loop, shared by both runners. */
class Runner<T extends MessageType> {
  readonly log: Logger;
  readonly abort = new AbortController();
  starts = 0;
  ready: Promise<void>;
  private resolveReady!: () => void;
  private current: ConsumerMessages | undefined;
  private done: Promise<void> | undefined;

  constructor(private readonly opts: CommonOptions<T>) {
    this.log = opts.logger.child({ stream: opts.stream, consumer: opts.consumer.durable_name });
    this.ready = new Promise<void>((r) => (this.resolveReady = r));
  }

  async deadLetter(m: JsMsg, reason: string) {
    this.log.warn({ subject: m.subject, seq: m.seq, reason }, 'message dead-lettered');
    this.opts.onDeadLetter?.(reason, m.subject);
    await publishDeadLetter(this.opts.nc, {
      stream: this.opts.stream,
      subject: m.subject,
      data: m.data,
      headers: m.headers,
      reason,
      sequence: m.seq,
      msgId: `dead:${this.opts.stream}:${this.opts.consumer.durable_name}:${m.seq}`,
      domain: this.opts.domain,
      logger: this.log,
    });
  }

  // m.term() without a reason: nats-server 2.9 takes only a bare "+TERM"; "+TERM <reason>" (2.10+) is
  // ignored there and the message stays pending, to be delivered again after ack_wait. The reason
  // travels with the dead letter instead.

  /** The message's body and context, or undefined after dead-lettering it as invalid. */
  async decode(m: JsMsg): Promise<BatchItem<T> | undefined> {
    const item = this.tryDecode(m);
    if (typeof item !== 'string') return item;
    await this.reject(m, item);
    return undefined;
  }

  /** The message's body and context, or why it is invalid (no promise: the hot path of batches). */
  tryDecode(m: JsMsg): BatchItem<T> | string {
    const text = utf8.decode(m.data);
    const decoded = decodeMessage(this.opts.type, m.headers?.get(SCHEMA_HEADER) || undefined, text);
    return decoded.ok ? { body: decoded.value, ctx: new JsMessageContext(m, text) } : decoded.reason;
  }

  /** Dead-letter an invalid message and terminate it. */
  async reject(m: JsMsg, reason: string) {
    await this.deadLetter(m, reason);
    m.term();
    this.opts.onOutcome?.('term');
  }

  /** Ack, or judge the handler's error: dead-letter invalid messages and exhausted ones, nak the rest. */
  async settle(m: JsMsg, err: unknown) {
    if (err === undefined) {
      m.ack();
      this.opts.onOutcome?.('ack');
      return;
    }
    const reason = err instanceof Error ? err.message : String(err);
    const attempts = m.info.deliveryCount;
    if (isInvalidMessage(err)) {
      await this.deadLetter(m, reason);
      m.term();
      this.opts.onOutcome?.('term');
    } else if (attempts >= (this.opts.maxAttempts ?? 20)) {
      await this.deadLetter(m, `gave up after ${attempts} attempts: ${reason}`);
      m.term();
      this.opts.onOutcome?.('term');
    } else {
      const delay = backoffDelay(attempts, { initialMs: this.opts.backoff?.initialMs ?? 500, maxMs: this.opts.backoff?.maxMs ?? 30_000 });
      this.log.warn({ subject: m.subject, seq: m.seq, attempt: attempts, delayMs: delay, err: reason }, 'handler failed, will retry');
      m.nak(delay);
      this.opts.onOutcome?.('nak');
    }
  }

  /**
   * Pull until stopped, restarting after failures. `drain` takes each pull session's messages and
   * returns once they are all handled.
   */
  start(bufferSize: number, drain: (messages: ConsumerMessages) => Promise<void>) {
    this.done = this.loop(bufferSize, drain);
  }

  private async loop(bufferSize: number, drain: (messages: ConsumerMessages) => Promise<void>) {
    const { opts, log } = this;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      try {
        const jsm = await jetstreamManager(opts.nc, { ...(opts.domain ? { domain: opts.domain } : {}), checkAPI: false });
        await provisionConsumer(jsm, opts.stream, opts.consumer, log);
        const c = await jsFor(opts.nc, opts.domain).consumers.get(opts.stream, opts.consumer.durable_name);
        const messages = await c.consume({ max_messages: bufferSize, idle_heartbeat: 5_000, expires: 30_000 });
        this.current = messages;
        this.starts++;
        failures = 0;
        this.resolveReady();
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
        await drain(messages);
        if (this.abort.signal.aborted) break;
        log.info({ reason: restartReason ?? 'pull loop ended' }, 'consumer pull loop ended, restarting');
      } catch (err) {
        failures++;
        const delay = backoffDelay(failures, { initialMs: 250, maxMs: 10_000 });
        if (failures === 1 || failures % 10 === 0) log.warn({ err: (err as Error).message, failures, delayMs: delay }, 'consumer not available, retrying');
        await sleep(delay, this.abort.signal);
      }
    }
  }

  handle(): ConsumerRunner {
    const starts = () => this.starts;
    const stop = async () => {
      this.abort.abort();
      this.current?.stop();
      await this.done;
    };
    return {
      ready: this.ready,
      get starts() {
        return starts();
      },
      stop,
    };
  }
}

export function runConsumer<T extends MessageType>(opts: ConsumerRunnerOptions<T>): ConsumerRunner {
  const runner = new Runner(opts);
  const concurrency = opts.concurrency ?? 1;
  const inflight = new Set<Promise<void>>();

  async function handle(m: JsMsg) {
    const item = await runner.decode(m);
    if (!item) return;
    const traceCtx = extractTraceContext((k) => m.headers?.get(k) || undefined);
    let failure: unknown;
    try {
      await context.with(traceCtx, () => opts.handler(item.body, item.ctx));
    } catch (err) {
      failure = err ?? new Error('handler failed');
    }
    await runner.settle(m, failure);
  }

  runner.start(Math.max(concurrency * 2, 8), async (messages) => {
    try {
      for await (const m of messages) {
        while (inflight.size >= concurrency) await Promise.race(inflight);
        const p = handle(m)
          .catch((err) => runner.log.error({ err }, 'handler crashed'))
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
    } finally {
      await Promise.all(inflight);
    }
  });
  return runner.handle();
}

export function runBatchConsumer<T extends MessageType>(opts: BatchConsumerRunnerOptions<T>): ConsumerRunner {
  const runner = new Runner(opts);
  const batchMax = opts.batchMax ?? 1_000;
  const batchWaitMs = opts.batchWaitMs ?? 20;
  const maxInFlight = opts.batchesInFlight ?? 2;
  const inflight = new Set<Promise<void>>();
  // the batch being collected: messages and their decoded items, index for index
  let msgs: JsMsg[] = [];
  let items: BatchItem<T>[] = [];
  let timer: NodeJS.Timeout | undefined;
  let due = false;

  async function handleBatch(b: JsMsg[], its: BatchItem<T>[]) {
    let outcomes: (Error | undefined)[] | void;
    try {
      outcomes = await opts.handler(its);
    } catch (err) {
      const failure = err ?? new Error('batch handler failed');
      for (const m of b) await runner.settle(m, failure);
      return;
    }
    for (let i = 0; i < b.length; i++) {
      const err = outcomes ? outcomes[i] : undefined;
      if (err === undefined) {
        // the common case inline: no promise per message
        b[i]!.ack();
        opts.onOutcome?.('ack');
      } else {
        await runner.settle(b[i]!, err);
      }
    }
  }

  function flush() {
    if (timer) clearTimeout(timer);
    timer = undefined;
    due = false;
    if (msgs.length === 0) return;
    const b = msgs;
    const its = items;
    msgs = [];
    items = [];
    const p = handleBatch(b, its)
      .catch((err) => runner.log.error({ err }, 'batch handler crashed'))
      .finally(() => {
        inflight.delete(p);
        // a batch that came due while every slot was busy goes now
        if ((due || msgs.length >= batchMax) && inflight.size < maxInFlight) flush();
      });
    inflight.add(p);
  }

  runner.start(batchMax * (maxInFlight + 1), async (messages) => {
    try {
      for await (const m of messages) {
        const item = runner.tryDecode(m);
        if (typeof item === 'string') {
          await runner.reject(m, item);
          continue;
        }
        msgs.push(m);
        items.push(item);
        if (msgs.length >= batchMax) {
          while (inflight.size >= maxInFlight) await Promise.race(inflight);
          if (msgs.length > 0) flush();
        } else if (timer === undefined && !due) {
          timer = setTimeout(() => {
            timer = undefined;
            due = true;
            if (inflight.size < maxInFlight) flush();
          }, batchWaitMs);
        }
      }
    } finally {
      // the pull session ended: hand over what was collected, then wait for every batch
      while (msgs.length > 0) {
        while (inflight.size >= maxInFlight) await Promise.race(inflight);
        flush();
      }
      await Promise.all(inflight);
    }
  });
  return runner.handle();
}
