// The edge forwarder: drains the site's OUTBOX streams (on its leaf server) to the hub. Each message is
// published to `outboxTarget(sat, kind)` with the same payload, headers and dedupe id, and acked locally
// only after the hub's PubAck, so a crash anywhere forwards it again under the same `Nats-Msg-Id` (the
// hub's dedupe window, then ingest's idempotency on that id, keep it single). Results go before
// telemetry; while the hub is unreachable it probes with one message and backs off; after an outage it
// drains oldest first at a bounded rate; it keeps OUTBOX within its limits by dropping the oldest
// telemetry first, and counts every message that left OUTBOX without being forwarded.
import { jetstreamManager, type Consumer, type JetStreamManager, type JsMsg, type PubAck, type StreamInfo } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import { consumer, outboxTarget, siteStreams, subjects, type ConsumerSpec, type ForwarderEnv } from '@uplink/contracts';
import { backoffDelay, deadLetter, jsFor, provisionStreams, retry, sleep, createBatchPublisher, type BatchPublisher, type Outgoing, connectLeaf } from '@uplink/bus';
import { createLogger, startStatusServer, type Logger } from '@uplink/observability';
import { createDropTracker, type DropTracker } from './drops.js';
import { firstSeqNotOlderThan, planByteTrim } from './limits.js';
import { createForwarderMetrics } from './metrics.js';

/** The forwarder's configuration: its validated environment (contracts `ForwarderEnv`). */
export type ForwarderSettings = z.infer<typeof ForwarderEnv>;

export interface ForwardedBatch {
  /** OUTBOX or OUTBOX_RESULTS */
  stream: string;
  count: number;
  firstSeq: number;
  lastSeq: number;
}

export interface StartForwarderOptions {
  /** @default a pino logger named "forwarder" at LOG_LEVEL */
  logger?: Logger;
  /**
   * Called after the hub acknowledged a batch and before it is acked locally. For instrumentation; a
   * crash at this point is the case the stable dedupe ids are there for.
   */
  onBatchAcknowledged?: (batch: ForwardedBatch) => void | Promise<void>;
}

export interface ForwarderStats {
  satellite: string;
  /** messages the hub stored since start */
  forwarded: number;
  /** messages the hub already had (PubAck duplicate=true) since start */
  duplicates: number;
  /** messages that left OUTBOX without being forwarded (limits), since start */
  dropped: number;
  droppedByStream: { telemetry: number; results: number };
  /** what waits in OUTBOX (both streams), as of the last check */
  backlog: { messages: number; bytes: number; telemetry: number; results: number };
  /** messages the hub refused for good (e.g. too large), moved to the leaf's DEAD stream */
  rejected: number;
  /** false while the last attempt to reach the hub failed */
  hubReachable: boolean;
  /** batches the hub did not acknowledge since start */
  failedAttempts: number;
  lastForwardedAt: string | null;
}

export interface ForwarderHandle extends AsyncDisposable {
  readonly satellite: string;
  /** base URL of /healthz, /stats, /metrics */
  readonly statusUrl: string;
  readonly statusPort: number;
  /** resolves once connected to the leaf with the OUTBOX streams and consumers in place */
  readonly ready: Promise<void>;
  stats(): ForwarderStats;
  /** OUTBOX depth and drops, in the shape a heartbeat reports them */
  outbox(): { messages: number; bytes: number; dropped: number };
  /** finish the batch in flight, stop, drain the connection */
  close(): Promise<void>;
  /** stop at once: no local acks for what is in flight, connection closed without draining (a crash) */
  kill(): Promise<void>;
}

const SECOND_NS = 1_000_000_000;
/** the hub acknowledges a batch within PUBLISH_TIMEOUT_MS; ack_wait only matters after a crash */
const ACK_WAIT_NS = 60 * SECOND_NS;
const MAX_ACK_PENDING = 10_000;
const LOG_EVERY_FAILURES = 20;
const DROP_LOG_INTERVAL_MS = 60_000;

type SourceName = 'results' | 'telemetry';

interface Source {
  name: SourceName;
  stream: string;
  spec: ConsumerSpec;
  consumer: Consumer | undefined;
  drops: DropTracker;
  /** messages we nakked that have not come back yet */
  nakked: number;
  state: StreamInfo['state'] | undefined;
  /**
   * whether a message of this source reached the hub since the last failure: the hub's interest in
   * each subject comes back over a restored leaf link one subject at a time, so every source probes
   * with one message before it sends a batch (else a batch can land out of order)
   */
  verified: boolean;
}

export async function startForwarder(config: ForwarderSettings, opts: StartForwarderOptions = {}): Promise<ForwarderHandle> {
  const sat = config.SATELLITE_NAME;
  const log = (opts.logger ?? createLogger({ service: 'forwarder', level: config.LOG_LEVEL })).child({ satellite: sat });
  const metrics = createForwarderMetrics();
  const streams = siteStreams(sat);
  const abort = new AbortController();
  let closing = false;
  let killed = false;
  let hubReachable = true;
  let lastForwardedAt: string | null = null;
  let forwardedTotal = 0;
  let duplicatesTotal = 0;
  let failedAttempts = 0;
  let rejectedTotal = 0;
  let wake = new AbortController();
  metrics.hubReachable.set(1);

  const sources: Record<SourceName, Source> = {
    results: {
      name: 'results',
      stream: streams.OUTBOX_RESULTS.name,
      spec: consumer({ durable_name: 'forwarder-results', description: 'forwarder ships command results to the hub', ack_wait: ACK_WAIT_NS, max_ack_pending: MAX_ACK_PENDING }),
      consumer: undefined,
      drops: createDropTracker(0),
      nakked: 0,
      verified: false,
      state: undefined,
    },
    telemetry: {
      name: 'telemetry',
      stream: streams.OUTBOX.name,
      spec: consumer({ durable_name: 'forwarder-telemetry', description: 'forwarder ships telemetry to the hub', ack_wait: ACK_WAIT_NS, max_ack_pending: MAX_ACK_PENDING }),
      consumer: undefined,
      drops: createDropTracker(0),
      nakked: 0,
      verified: false,
      state: undefined,
    },
  };
  const order: Source[] = [sources.results, sources.telemetry];

  const droppedOf = (s: Source) => s.drops.counted + (s.state ? s.drops.pending(s.state) : 0);
  const stats = (): ForwarderStats => {
    const t = sources.telemetry.state;
    const r = sources.results.state;
    const droppedByStream = { telemetry: droppedOf(sources.telemetry), results: droppedOf(sources.results) };
    return {
      satellite: sat,
      forwarded: forwardedTotal,
      duplicates: duplicatesTotal,
      rejected: rejectedTotal,
      dropped: droppedByStream.telemetry + droppedByStream.results,
      droppedByStream,
      backlog: {
        messages: (t?.messages ?? 0) + (r?.messages ?? 0),
        bytes: (t?.bytes ?? 0) + (r?.bytes ?? 0),
        telemetry: t?.messages ?? 0,
        results: r?.messages ?? 0,
      },
      hubReachable,
      failedAttempts,
      lastForwardedAt,
    };
  };

  const server = await startStatusServer({
    name: 'forwarder',
    host: config.STATUS_HOST,
    port: config.STATUS_PORT,
    routes: { '/stats': stats },
    healthy: () => !closing,
    registry: metrics.registry,
    logger: log,
  });

  let nc: NatsConnection | undefined;
  let wakeSub: Subscription | undefined;
  const nudge = () => wake.abort();

  async function run(): Promise<void> {
    const conn = await connectLeaf({ servers: config.NATS_URL, name: `uplink-forwarder-${sat}`, logger: log, credsFile: config.NATS_CREDS, signal: abort.signal });
    nc = conn;
    if (closing) return;
    const jsm = await retry(
      async () => {
        const m = await jetstreamManager(conn, { domain: sat, checkAPI: false });
        await provisionStreams(m, streams, log);
        for (const s of order) await resetConsumer(conn, m, s);
        return m;
      },
      {
        signal: abort.signal,
        initialMs: 250,
        maxMs: 10_000,
        onError: (err, attempt) => {
          if (attempt === 1 || attempt % 10 === 0) log.warn({ err: (err as Error).message, attempt }, 'cannot set up OUTBOX consumers yet, retrying');
        },
      },
    );
    if (closing) return;
    // any message put into OUTBOX wakes an idle forwarder (interest only; the data comes from the consumer)
    wakeSub = conn.subscribe(`uplink.outbox.${sat}.>`, { callback: nudge });
    void (async () => {
      for await (const s of conn.status()) if (s.type === 'reconnect') nudge();
    })().catch(() => undefined);
    log.info({ hubDomain: config.HUB_DOMAIN, rate: config.DRAIN_RATE, batch: config.BATCH_SIZE }, 'forwarder running');
    limitsLoop = enforceLimitsLoop(jsm);
    drainLoop = drain(conn, jsm);
  }

  /**
   * Recreate the durable consumer at start: with work-queue retention its position is the stream
   * itself, and a fresh consumer hands over at once, oldest first, what a crashed predecessor had in
   * flight (instead of after ack_wait, out of order). The old consumer's ack floor seeds the drop count.
   */
  async function resetConsumer(conn: NatsConnection, m: JetStreamManager, s: Source) {
    const info = await m.streams.info(s.stream);
    let settled = info.state.messages === 0 ? info.state.last_seq : info.state.first_seq - 1;
    try {
      const old = await m.consumers.info(s.stream, s.spec.durable_name);
      settled = old.ack_floor.stream_seq;
      await m.consumers.delete(s.stream, s.spec.durable_name);
    } catch (err) {
      if (!/not found/i.test((err as Error).message)) throw err;
    }
    await m.consumers.add(s.stream, {
      durable_name: s.spec.durable_name,
      ack_policy: 'explicit' as never,
      deliver_policy: 'all' as never,
      ack_wait: s.spec.ack_wait,
      max_deliver: s.spec.max_deliver,
      max_ack_pending: s.spec.max_ack_pending,
      description: s.spec.description,
    });
    s.consumer = await jsFor(conn, sat).consumers.get(s.stream, s.spec.durable_name);
    s.drops = createDropTracker(settled);
    s.nakked = 0;
    s.state = info.state;
  }

  /** messages waiting in a source; nakked ones count until they come back */
  async function waiting(s: Source): Promise<number> {
    const info = await s.consumer!.info();
    return info.num_pending + s.nakked;
  }

  async function fetchBatch(s: Source, n: number): Promise<JsMsg[]> {
    const it = await s.consumer!.fetch({ max_messages: n, expires: 1_000 });
    const out: JsMsg[] = [];
    for await (const m of it) {
      if (m.info.deliveryCount > 1) s.nakked = Math.max(0, s.nakked - 1);
      out.push(m);
    }
    return out;
  }

  function kindOf(subject: string): string {
    return subject.slice(subject.lastIndexOf('.') + 1);
  }

  /** the same payload and headers, with the outbox message's id as the hub's dedupe id */
  function outgoing(s: Source, m: JsMsg): Outgoing {
    const h = m.headers ?? natsHeaders();
    // a producer's expectations were about OUTBOX, not about the hub stream
    for (const k of h.keys()) if (/^nats-expected-/i.test(k)) h.delete(k);
    if (!h.get('Nats-Msg-Id')) h.set('Nats-Msg-Id', `${sat}:${s.stream}:${m.seq}:${m.info.timestampNanos}`);
    return { subject: outboxTarget(sat, kindOf(m.subject)), data: m.data, headers: h };
  }

  /** publish a batch pipelined; ack the prefix the hub stored, nak the rest (kept in order for a retry) */
  async function forward(conn: NatsConnection, publisher: BatchPublisher, s: Source, msgs: JsMsg[]): Promise<{ forwarded: number; error?: string }> {
    const outcomes = await publisher.publish(
      msgs.map((m) => outgoing(s, m)),
      config.PUBLISH_TIMEOUT_MS,
    );
    // the prefix the hub took: stored (a PubAck) or refused for good (dead-lettered on the leaf)
    const acks: (PubAck | { rejected: string })[] = [];
    let error: string | undefined;
    for (const o of outcomes) {
      if (!o.ok) {
        if (o.permanent) {
          acks.push({ rejected: o.error });
          continue;
        }
        error = o.error;
        break;
      }
      if (config.HUB_DOMAIN && o.ack.domain !== config.HUB_DOMAIN) {
        // NATS-NOTES "two PubAcks": a stream on the leaf listening on the hub subject answered
        error = `PubAck from stream ${o.ack.stream} in domain ${o.ack.domain ?? '(none)'}, not from the hub domain ${config.HUB_DOMAIN}; no stream on the leaf may listen on uplink.telemetry.> or uplink.result.>`;
        break;
      }
      acks.push(o.ack);
    }
    const ok = acks.length;
    if (ok > 0 && opts.onBatchAcknowledged) {
      await opts.onBatchAcknowledged({ stream: s.stream, count: ok, firstSeq: msgs[0]!.seq, lastSeq: msgs[ok - 1]!.seq });
    }
    if (killed) return { forwarded: 0, error: 'killed' };
    for (let i = 0; i < ok; i++) {
      const a = acks[i]!;
      if (!('rejected' in a)) continue;
      // a message the hub can never take (too large) must not block everything behind it
      const m = msgs[i]!;
      rejectedTotal++;
      metrics.rejected.inc({ kind: kindOf(m.subject) });
      log.error({ subject: m.subject, seq: m.seq, reason: a.rejected }, 'hub refused a message for good; moved to the leaf DEAD stream');
      await deadLetter(conn, {
        stream: s.stream,
        subject: m.subject,
        data: m.data,
        headers: m.headers,
        reason: `hub refused it: ${a.rejected}`,
        sequence: m.seq,
        msgId: `dead:${s.stream}:${m.seq}:${m.info.timestampNanos}`,
        domain: sat,
        logger: log,
      });
    }
    const now = new Date().toISOString();
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (i >= ok) {
        m.nak();
        s.nakked++;
        continue;
      }
      m.ack();
      const a = acks[i]!;
      if ('rejected' in a) continue;
      const kind = kindOf(m.subject);
      if (a.duplicate) {
        duplicatesTotal++;
        metrics.duplicates.inc({ kind });
      } else {
        forwardedTotal++;
        metrics.forwarded.inc({ kind });
      }
      lastForwardedAt = now;
    }
    const skipped = s.drops.settle(msgs.slice(0, ok).map((m) => m.seq));
    if (skipped > 0) metrics.dropped.inc({ stream: s.stream }, skipped);
    if (ok > 0) metrics.batchSize.observe(ok);
    return error === undefined ? { forwarded: ok } : { forwarded: ok, error };
  }

  let drainLoop: Promise<void> | undefined;
  let limitsLoop: Promise<void> | undefined;

  async function drain(conn: NatsConnection, jsm: JetStreamManager): Promise<void> {
    const publisher = createBatchPublisher(conn);
    let failures = 0;
    let leafFailures = 0;
    let outageSince = 0;
    let paceAt = 0;
    // the next batch of the same source, fetched while the current one is being forwarded
    let prefetched: { s: Source; msgs: Promise<JsMsg[]> } | undefined;
    /** give a prefetched batch back (nak, in order), e.g. when the batch before it failed */
    const release = async () => {
      if (!prefetched) return;
      const { s, msgs } = prefetched;
      prefetched = undefined;
      for (const m of await msgs.catch(() => [] as JsMsg[])) {
        m.nak();
        s.nakked++;
      }
    };
    while (!abort.signal.aborted) {
      try {
        const pause = paceAt - Date.now();
        if (pause > 0) await sleep(pause, abort.signal);
        if (abort.signal.aborted) break;
        wake = new AbortController();
        // while the hub is unreachable, and for each source until one of its messages got through,
        // probe with the oldest message only
        const limitOf = (src: Source) => (failures > 0 || !src.verified ? 1 : config.BATCH_SIZE);
        let picked: { s: Source; msgs: JsMsg[] } | undefined;
        if (prefetched) {
          const { s, msgs } = prefetched;
          prefetched = undefined;
          const got = await msgs;
          if (got.length > 0) picked = { s, msgs: got };
        }
        for (const s of picked ? [] : order) {
          const n = Math.min(limitOf(s), await waiting(s));
          if (n === 0) continue;
          const msgs = await fetchBatch(s, n);
          if (msgs.length > 0) {
            picked = { s, msgs };
            break;
          }
        }
        leafFailures = 0;
        if (!picked) {
          await sleep(config.OUTBOX_CHECK_INTERVAL_MS, AbortSignal.any([abort.signal, wake.signal]));
          continue;
        }
        const { s, msgs } = picked;
        // a full batch means more may wait: fetch it while this one crosses the WAN
        if (failures === 0 && s.verified && msgs.length === config.BATCH_SIZE) {
          const more = Math.min(config.BATCH_SIZE, await waiting(s));
          if (more > 0) {
            const next = fetchBatch(s, more);
            next.catch(() => undefined);
            prefetched = { s, msgs: next };
          }
        }
        const r = await forward(conn, publisher, s, msgs);
        if (killed) return;
        paceAt = Math.max(paceAt, Date.now()) + (r.forwarded * 1_000) / config.DRAIN_RATE;
        if (r.error === undefined) {
          s.verified = true;
          if (failures > 0) log.info({ failures, outageMs: Date.now() - outageSince, backlog: stats().backlog.messages }, 'hub reachable again, draining OUTBOX');
          failures = 0;
          setReachable(true);
          continue;
        }
        await release();
        for (const src of order) src.verified = false;
        failures++;
        failedAttempts++;
        metrics.publishFailures.inc();
        if (failures === 1) outageSince = Date.now();
        setReachable(false);
        const delay = backoffDelay(failures, { initialMs: 250, maxMs: config.BACKOFF_MAX_MS });
        const fields = { failures, delayMs: delay, err: r.error, subject: msgs[r.forwarded]?.subject };
        if (failures === 1 || failures % LOG_EVERY_FAILURES === 0) log.warn(fields, 'hub did not acknowledge; OUTBOX keeps the messages, will retry');
        else log.debug(fields, 'hub still not acknowledging');
        await sleepUnlessLinkUp(delay);
      } catch (err) {
        if (abort.signal.aborted || killed) break;
        await release();
        leafFailures++;
        const delay = backoffDelay(leafFailures, { initialMs: 250, maxMs: 5_000 });
        if (leafFailures === 1 || leafFailures % LOG_EVERY_FAILURES === 0) log.warn({ err: (err as Error).message, failures: leafFailures, delayMs: delay }, 'cannot read OUTBOX, retrying');
        await sleep(delay, abort.signal);
        // the consumer may have been deleted underneath us
        if (/consumer not found|consumer does not exist/i.test((err as Error).message)) {
          for (const s of order) await resetConsumer(conn, jsm, s).catch(() => undefined);
        }
      }
    }
    if (!killed) await release();
    publisher.close();
  }

  function setReachable(v: boolean) {
    hubReachable = v;
    metrics.hubReachable.set(v ? 1 : 0);
  }

  /**
   * Back off; with LEAF_MONITOR_URL, come back as soon as the leaf reports its link up again. New
   * OUTBOX messages do not cut this wait short (they only wake an idle forwarder).
   */
  async function sleepUnlessLinkUp(ms: number): Promise<void> {
    const signal = abort.signal;
    if (!config.LEAF_MONITOR_URL) return sleep(ms, signal);
    const until = Date.now() + ms;
    const url = `${config.LEAF_MONITOR_URL.replace(/\/+$/, '')}/leafz`;
    let wasDown = false;
    while (!signal.aborted && Date.now() < until) {
      try {
        const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(1_000)]) });
        const body = (await res.json()) as { leafnodes?: unknown };
        const up = typeof body.leafnodes === 'number' && body.leafnodes > 0;
        if (!up) wasDown = true;
        else if (wasDown) return;
      } catch {
        // monitor unreachable: plain backoff
      }
      await sleep(Math.min(1_000, until - Date.now()), signal);
    }
  }

  let dropLoggedAt = 0;
  let dropsSinceLog = 0;
  function noteTrim(stream: string, reason: 'bytes' | 'age', purged: number) {
    if (purged <= 0) return;
    dropsSinceLog += purged;
    const now = Date.now();
    if (now - dropLoggedAt < DROP_LOG_INTERVAL_MS) return;
    log.warn({ stream, reason, dropped: dropsSinceLog, maxBytes: config.OUTBOX_MAX_BYTES, maxAgeS: config.OUTBOX_MAX_AGE_S }, 'OUTBOX over its limit: oldest messages dropped');
    dropLoggedAt = now;
    dropsSinceLog = 0;
  }

  /** Keep OUTBOX within its limits (oldest telemetry first) and refresh its depth for stats and metrics. */
  async function enforceLimits(jsm: JetStreamManager): Promise<void> {
    const t = sources.telemetry;
    const r = sources.results;
    let tInfo = await jsm.streams.info(t.stream);
    let rInfo = await jsm.streams.info(r.stream);
    const maxAgeMs = config.OUTBOX_MAX_AGE_S * 1_000;
    if (maxAgeMs > 0 && tInfo.state.messages > 0 && Date.parse(tInfo.state.first_ts) < Date.now() - maxAgeMs) {
      const cutoff = Date.now() - maxAgeMs;
      const filter = subjects.outboxAll(sat);
      const cut = await firstSeqNotOlderThan(tInfo.state, cutoff, async (seq) => {
        // nats.js types leave out the next-by-subject form of MSG.GET, which the server (2.9+) answers
        const m = await jsm.streams.getMessage(t.stream, { seq, next_by_subj: filter } as unknown as { seq: number });
        return m ? { seq: m.seq, timeMs: m.time.getTime() } : null;
      });
      if (cut > tInfo.state.first_seq) {
        const res = await jsm.streams.purge(t.stream, { seq: cut });
        noteTrim(t.stream, 'age', res.purged);
        tInfo = await jsm.streams.info(t.stream);
      }
    }
    const plan = planByteTrim(tInfo.state, rInfo.state, config.OUTBOX_MAX_BYTES);
    if (plan.telemetry > 0) {
      const res = await jsm.streams.purge(t.stream, { keep: tInfo.state.messages - plan.telemetry });
      noteTrim(t.stream, 'bytes', res.purged);
      tInfo = await jsm.streams.info(t.stream);
    }
    if (plan.results > 0) {
      const res = await jsm.streams.purge(r.stream, { keep: rInfo.state.messages - plan.results });
      noteTrim(r.stream, 'bytes', res.purged);
      rInfo = await jsm.streams.info(r.stream);
    }
    t.state = tInfo.state;
    r.state = rInfo.state;
    for (const s of order) {
      metrics.backlogMessages.set({ stream: s.stream }, s.state?.messages ?? 0);
      metrics.backlogBytes.set({ stream: s.stream }, s.state?.bytes ?? 0);
    }
  }

  async function enforceLimitsLoop(jsm: JetStreamManager): Promise<void> {
    let failures = 0;
    while (!abort.signal.aborted) {
      try {
        await enforceLimits(jsm);
        failures = 0;
      } catch (err) {
        if (abort.signal.aborted) break;
        failures++;
        if (failures === 1 || failures % LOG_EVERY_FAILURES === 0) log.warn({ err: (err as Error).message, failures }, 'cannot check OUTBOX limits, retrying');
      }
      await sleep(config.OUTBOX_CHECK_INTERVAL_MS, abort.signal);
    }
  }

  const ready = run();
  ready.catch((err: unknown) => {
    if (!closing) log.error({ err }, 'forwarder failed to start');
  });
  const readyOrClosed = ready.then(() => {
    if (closing) throw new Error('forwarder closed before it was ready');
  });
  readyOrClosed.catch(() => undefined);

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing = true;
    abort.abort();
    await ready.catch(() => undefined);
    await drainLoop;
    await limitsLoop;
    wakeSub?.unsubscribe();
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc?.close());
    await server.close();
    log.info('forwarder stopped');
  }
  async function kill(): Promise<void> {
    killed = true;
    closing = true;
    abort.abort();
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    await server.close();
  }

  return {
    satellite: sat,
    statusUrl: server.url,
    statusPort: server.port,
    ready: readyOrClosed,
    stats,
    outbox() {
      const s = stats();
      return { messages: s.backlog.messages, bytes: s.backlog.bytes, dropped: s.dropped };
    },
    close: () => (closed ??= close()),
    kill: () => (closed ??= kill()),
    [Symbol.asyncDispose]: () => (closed ??= close()),
  };
}
