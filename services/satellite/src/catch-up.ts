// Catch-up: a direct get of this satellite's latest state from the hub STATE stream, fed to the same
// intake as live messages. Runs at start, when asked (link back, leaf reconnect) and on an interval;
// a failed catch-up is retried with backoff until one succeeds.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { subjects } from '@uplink/contracts';
import { backoffDelay, sleep, type BackoffOptions } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { Intake, IntakeOutcome } from './intake.js';
import type { SatelliteMetrics } from './metrics.js';
import { isUnreachable } from './unreachable.js';

export interface CatchUp {
  /** run a catch-up now (or right after the running one) */
  request(reason: string): void;
  stop(): Promise<void>;
}

export interface CatchUpOptions {
  nc: NatsConnection;
  satellite: string;
  /** JetStream domain of the hub */
  hubDomain: string;
  intake: Intake;
  /** time between catch-ups while nothing asks for one */
  intervalMs: number;
  logger: Logger;
  metrics: SatelliteMetrics;
  /** a catch-up got an answer from the hub */
  onSuccess?: () => void;
  /** a catch-up got no answer from the hub */
  onUnreachable?: () => void;
  /** @default { initialMs: 500, maxMs: 30_000 } */
  backoff?: BackoffOptions;
  /** how long one direct get may take @default 5_000 */
  timeoutMs?: number;
}

export function startCatchUp(opts: CatchUpOptions): CatchUp {
  const { nc, satellite, intake, metrics } = opts;
  const log = opts.logger;
  const subject = subjects.state(satellite);
  const backoff = { initialMs: 500, maxMs: 30_000, ...opts.backoff };
  let jsm: JetStreamManager | undefined;
  let stopped = false;
  let wake = new AbortController();
  let failures = 0;
  let why = 'start';

  async function once(): Promise<IntakeOutcome | 'none'> {
    // the empty-body request to $JS.<hub>.API.DIRECT.GET.STATE.uplink.state.<sat>: a site account
    // imports exactly this subject
    jsm ??= await jetstreamManager(nc, { domain: opts.hubDomain, checkAPI: false, timeout: opts.timeoutMs ?? 5_000 });
    const m = await jsm.direct.getMessage('STATE', { last_by_subj: subject });
    opts.onSuccess?.();
    if (!m) return 'none';
    return intake.receive('catchup', { subject: m.subject || subject, data: m.data, headers: m.header });
  }

  async function attempt() {
    metrics.catchupAttempts.inc();
    try {
      const outcome = await once();
      if (failures > 0) log.info({ subject, failures, reason: why }, 'catch-up succeeded after failures');
      log.debug({ subject, outcome, reason: why }, 'catch-up done');
      failures = 0;
    } catch (err) {
      if (stopped) return; // the connection drained under a request in flight
      failures++;
      metrics.catchupFailures.inc();
      if (isUnreachable(err)) {
        opts.onUnreachable?.();
        log.debug({ subject, failures, err: (err as Error).message }, 'catch-up: hub not reachable, will retry');
      } else if (failures === 1 || failures % 10 === 0) {
        log.warn({ subject, failures, err: (err as Error).message }, 'catch-up failed, will retry');
      }
    }
  }

  const done = (async () => {
    while (!stopped) {
      wake = new AbortController(); // a request during the attempt runs another one right after
      await attempt();
      if (stopped) break;
      await sleep(failures > 0 ? backoffDelay(failures, backoff) : opts.intervalMs, wake.signal);
      why = wake.signal.aborted ? why : failures > 0 ? 'retry' : 'interval';
    }
  })();

  return {
    request(reason) {
      why = reason;
      wake.abort();
    },
    async stop() {
      stopped = true;
      wake.abort();
      await done;
    },
  };
}
