// The edge executor: leaf connection, CMD_LOCAL filled from the hub (live + pending catch-up), the
// durable consumer that verifies and runs commands at most once, results to OUTBOX (kind `result`).
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import { SIGNATURE_HEADER, siteDurables, siteStreams, subjects, type Command, type CommandResult, type ExecutorEnv } from '@uplink/contracts';
import { provisionStream, publishToOutbox, retry, RetryableError, runConsumer, type ConsumerRunner, type MessageContext, startLinkMonitor, type LinkMonitor, connectLeaf } from '@uplink/bus';
import { createLogger, type Logger } from '@uplink/observability';
import { startCatchUp, type CatchUp } from './catch-up.js';
import { checkCommand, runAction } from './execute.js';
import { openExecutionStore, type ExecutionStore } from './execution-store.js';
import { createStandaloneHost, type ExecutorHost } from './host.js';
import { createIntake } from './intake.js';
import { redact } from './output.js';
import { createCommandVerifier } from './verify.js';

/** The executor's configuration: its validated environment (contracts `ExecutorEnv`). */
export type ExecutorSettings = z.infer<typeof ExecutorEnv>;

export interface StartExecutorOptions {
  /** @default a pino logger named "executor" at LOG_LEVEL */
  logger?: Logger;
  /** the site operations; @default a standalone host over the satellite's status API */
  host?: ExecutorHost;
}

export interface ExecutorHandle extends AsyncDisposable {
  readonly satellite: string;
  /** resolves once connected to the leaf, the streams exist and the consumer is pulling */
  readonly ready: Promise<void>;
  /** ask the command service for pending commands now */
  catchUp(reason?: string): void;
  /** how many commands this process started (runs, not re-sent results) */
  readonly runs: number;
  /** how many pending-command catch-ups succeeded (after the first, the hub knows this site's live interest) */
  readonly catchUps: number;
  close(): Promise<void>;
}

const RECENT_KEPT = 200;
/** execution records outlive CMD_LOCAL's 7-day max age */
const RECORD_MAX_AGE_MS = 8 * 86_400_000;

export async function startExecutor(config: ExecutorSettings, opts: StartExecutorOptions = {}): Promise<ExecutorHandle> {
  const sat = config.SATELLITE_NAME;
  const log = (opts.logger ?? createLogger({ service: 'executor', level: config.LOG_LEVEL })).child({ satellite: sat });
  const verifier = createCommandVerifier(config.COMMAND_SIGNING_KEY);
  const store: ExecutionStore = await openExecutionStore(config.DATA_DIR, log, { maxAgeMs: RECORD_MAX_AGE_MS });
  const abort = new AbortController();
  const recent: unknown[] = [];
  const remember = (entry: Record<string, unknown>) => {
    recent.push({ at: new Date().toISOString(), ...entry });
    if (recent.length > RECENT_KEPT) recent.splice(0, recent.length - RECENT_KEPT);
  };
  const host =
    opts.host ??
    createStandaloneHost({
      statusUrl: config.SATELLITE_STATUS_URL,
      logger: log,
      config: redact({ ...config }) as Record<string, unknown>,
      recent: () => [...recent],
    });
  const inflight = new Set<string>();
  let runs = 0;
  let closing = false;

  let nc: NatsConnection | undefined;
  let sub: Subscription | undefined;
  let runner: ConsumerRunner | undefined;
  let catchUp: CatchUp | undefined;
  let monitor: LinkMonitor | undefined;

  /** Send a result to OUTBOX (dedupe id: execution and status). */
  async function send(result: CommandResult): Promise<void> {
    if (!nc) throw new RetryableError('not connected to the leaf');
    await publishToOutbox(nc, sat, 'result', 'command-result', result, { msgId: `${result.id}.${result.status}` });
    remember({ event: 'result', executionId: result.id, status: result.status, ...(result.error ? { error: result.error } : {}) });
  }

  /** A report that may fail without consequence (delivered, running): the final result is what counts. */
  async function report(result: CommandResult): Promise<void> {
    try {
      await send(result);
    } catch (err) {
      log.warn({ executionId: result.id, status: result.status, err: (err as Error).message }, 'result not queued in OUTBOX');
    }
  }

  async function finish(cmd: Command, result: CommandResult, startedAt?: string): Promise<void> {
    await store.finish({ id: cmd.id, commandId: cmd.commandId, action: cmd.action, startedAt }, result);
    try {
      await send(result);
    } catch (err) {
      // stored: the redelivery sends the stored result
      throw new RetryableError(`result of ${cmd.id} not queued in OUTBOX: ${(err as Error).message}`, { cause: err });
    }
  }

  async function handle(cmd: Command, ctx: MessageContext): Promise<void> {
    const rec = store.get(cmd.id);
    if (rec?.state === 'done' && rec.result) {
      log.debug({ executionId: cmd.id, status: rec.result.status }, 'command delivered again; stored result sent again');
      try {
        await send(rec.result);
      } catch (err) {
        throw new RetryableError(`stored result of ${cmd.id} not queued in OUTBOX: ${(err as Error).message}`, { cause: err });
      }
      return;
    }
    if (inflight.has(cmd.id)) throw new RetryableError(`command ${cmd.id} is running`);
    const base = { id: cmd.id, commandId: cmd.commandId, satellite: sat };
    if (rec?.state === 'running') {
      // started before a crash or restart: it may have done part of its work; never run it again
      const error = 'the executor stopped while this command was running; it was not run again';
      log.warn({ executionId: cmd.id, action: cmd.action, startedAt: rec.startedAt }, error);
      remember({ event: 'interrupted', executionId: cmd.id, action: cmd.action });
      const now = new Date().toISOString();
      await finish(cmd, { ...base, status: 'failed', at: now, error, ...(rec.startedAt ? { startedAt: rec.startedAt } : {}), finishedAt: now }, rec.startedAt);
      return;
    }

    const verdict = checkCommand(cmd, { satellite: sat, signatureValid: verifier.verify(ctx.data, ctx.headers?.get(SIGNATURE_HEADER) || undefined), now: Date.now() });
    if (!verdict.run) {
      log.warn({ executionId: cmd.id, commandId: cmd.commandId, action: cmd.action, status: verdict.status, reason: verdict.reason }, `command ${verdict.status}`);
      remember({ event: verdict.status, executionId: cmd.id, action: cmd.action, reason: verdict.reason });
      await finish(cmd, { ...base, status: verdict.status, at: new Date().toISOString(), error: verdict.reason });
      return;
    }

    const startedAt = new Date().toISOString();
    await store.markRunning({ id: cmd.id, commandId: cmd.commandId, action: cmd.action, startedAt });
    inflight.add(cmd.id);
    runs++;
    remember({ event: 'running', executionId: cmd.id, action: cmd.action });
    log.info({ executionId: cmd.id, commandId: cmd.commandId, action: cmd.action }, 'command running');
    // informational: the action does not wait for it
    const running = report({ ...base, status: 'running', at: startedAt, startedAt });
    // keep the message ours while the action runs
    const keepAlive = setInterval(() => ctx.working(), Math.max(1_000, (config.ACK_WAIT_S * 1_000) / 3));
    let outcome;
    try {
      outcome = await runAction(verdict.action, verdict.args, { host, log, timeoutMs: cmd.timeoutSeconds * 1_000, outputLimitBytes: config.OUTPUT_LIMIT_BYTES });
    } finally {
      clearInterval(keepAlive);
      inflight.delete(cmd.id);
    }
    // `running` before the final result in OUTBOX, so the cloud sees them in order
    await running;
    const finishedAt = new Date().toISOString();
    log.info({ executionId: cmd.id, action: cmd.action, status: outcome.status, exitCode: outcome.exitCode }, 'command finished');
    await finish(
      cmd,
      {
        ...base,
        status: outcome.status,
        at: finishedAt,
        startedAt,
        finishedAt,
        durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
        ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
        ...(outcome.output !== undefined ? { output: outcome.output } : {}),
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      },
      startedAt,
    );
  }

  async function run(): Promise<void> {
    const conn = await connectLeaf({ servers: config.NATS_URL, name: `uplink-executor-${sat}`, logger: log, credsFile: config.NATS_CREDS, signal: abort.signal });
    nc = conn;
    if (closing) return;

    await retry(async () => provisionSiteStreams(await jetstreamManager(conn, { domain: sat, checkAPI: false }), sat, log), {
      signal: abort.signal,
      initialMs: 250,
      maxMs: 10_000,
      onError: (err, attempt) => {
        if (attempt === 1 || attempt % 10 === 0) log.warn({ err: (err as Error).message, attempt }, 'cannot provision site streams yet, retrying');
      },
    });
    if (closing) return;

    const intake = createIntake({ nc: conn, satellite: sat, store, verifier, logger: log, report });
    runner = runConsumer({
      nc: conn,
      stream: siteDurables.executor.stream,
      consumer: { ...siteDurables.executor.spec, ack_wait: config.ACK_WAIT_S * 1_000_000_000 },
      type: siteDurables.executor.type,
      domain: sat,
      concurrency: config.COMMAND_CONCURRENCY,
      // a command is never given up on: an OUTBOX fault is retried until it clears
      maxAttempts: Number.POSITIVE_INFINITY,
      backoff: { initialMs: 200, maxMs: 10_000 },
      logger: log,
      handler: handle,
    });

    // live: the hub's JetStream publish into COMMANDS reaches the leaf over core interest
    sub = conn.subscribe(subjects.cmd(sat), {
      callback: (err, msg) => {
        if (err) {
          log.warn({ err: err.message, subject: subjects.cmd(sat) }, 'command subscription error');
          return;
        }
        intake.receive('live', { subject: msg.subject, data: msg.data, headers: msg.headers }).catch((e: unknown) => {
          log.warn({ subject: msg.subject, err: (e as Error).message }, 'could not store a live command; catching up');
          catchUp?.request('store failed');
        });
      },
    });

    catchUp = startCatchUp({ nc: conn, satellite: sat, intake, intervalMs: config.CATCHUP_INTERVAL_S * 1_000, logger: log });
    if (config.LEAF_MONITOR_URL) {
      monitor = startLinkMonitor({
        monitorUrl: config.LEAF_MONITOR_URL,
        logger: log,
        onObserve: (linked, changed) => {
          if (!changed) return;
          log.info({ linked }, linked ? 'link to hub up' : 'link to hub down');
          if (linked) catchUp?.request('link up');
        },
      });
    }
    void (async () => {
      for await (const s of conn.status()) if (s.type === 'reconnect') catchUp?.request('leaf reconnect');
    })().catch(() => undefined);

    await Promise.race([runner.ready, new Promise((resolve) => abort.signal.addEventListener('abort', resolve, { once: true }))]);
    if (!closing) log.info({ subject: subjects.cmd(sat), records: store.size }, 'executor running');
  }

  const ready = run();
  ready.catch((err: unknown) => {
    if (!closing) log.error({ err }, 'executor failed to start');
  });

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing = true;
    abort.abort();
    await ready.catch(() => undefined);
    await monitor?.stop();
    sub?.unsubscribe();
    await catchUp?.stop();
    await runner?.stop();
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc?.close());
    await store.close();
    log.info('executor stopped');
  }
  const readyOrClosed = ready.then(() => {
    if (closing) throw new Error('executor closed before it was ready');
  });
  readyOrClosed.catch(() => undefined);

  return {
    satellite: sat,
    ready: readyOrClosed,
    catchUp: (reason = 'asked') => catchUp?.request(reason),
    get runs() {
      return runs;
    },
    get catchUps() {
      return catchUp?.succeeded ?? 0;
    },
    close: () => (closed ??= close()),
    [Symbol.asyncDispose]: () => (closed ??= close()),
  };
}

/**
 * The streams this process needs: CMD_LOCAL (its own) and DEAD are provisioned; OUTBOX_RESULTS, whose
 * limits the forwarder owns, only created when missing.
 */
async function provisionSiteStreams(jsm: JetStreamManager, sat: string, log: Logger): Promise<void> {
  const specs = siteStreams(sat);
  await provisionStream(jsm, specs.CMD_LOCAL, log);
  await provisionStream(jsm, specs.DEAD, log);
  try {
    await jsm.streams.info(specs.OUTBOX_RESULTS.name);
  } catch {
    await provisionStream(jsm, specs.OUTBOX_RESULTS, log);
  }
}
