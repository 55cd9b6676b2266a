// The pending-commands catch-up: a core request through the leaf to the command service
// (`uplink.rpc.command.pending.<sat>`), page by page, each command fed to the same intake as live ones.
// Runs at start, when the leaf link comes back, on a leaf reconnect and on an interval; it fails at
// once while the WAN is down (no responders) and is retried with backoff until one succeeds.
import type { NatsConnection } from '@nats-io/transport-node';
import { PendingCommands, SIGNATURE_HEADER, pendingCommandsSubject, type RpcReply } from '@uplink/contracts';
import { backoffDelay, messageHeaders, sleep, type BackoffOptions } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { Intake } from './intake.js';

export interface CatchUp {
  /** run a catch-up now (or right after the running one) */
  request(reason: string): void;
  /** how many catch-ups succeeded so far */
  readonly succeeded: number;
  stop(): Promise<void>;
}

export interface CatchUpOptions {
  nc: NatsConnection;
  satellite: string;
  intake: Intake;
  intervalMs: number;
  logger: Logger;
  /** @default { initialMs: 500, maxMs: 30_000 } */
  backoff?: BackoffOptions;
  /** @default 5_000 */
  timeoutMs?: number;
}

export function startCatchUp(opts: CatchUpOptions): CatchUp {
  const log = opts.logger;
  const subject = pendingCommandsSubject(opts.satellite);
  const backoff = { initialMs: 500, maxMs: 30_000, ...opts.backoff };
  let stopped = false;
  let wake = new AbortController();
  let failures = 0;
  let succeeded = 0;
  let why = 'start';

  async function once(): Promise<number> {
    let after: number | undefined;
    let fetched = 0;
    do {
      const res = await opts.nc.request(subject, JSON.stringify(after === undefined ? {} : { after }), { timeout: opts.timeoutMs ?? 5_000 });
      const reply = JSON.parse(new TextDecoder().decode(res.data)) as RpcReply<unknown>;
      if (!reply.ok) throw new Error(`command service answered ${reply.error.code}: ${reply.error.message}`);
      const page = PendingCommands.parse(reply.data);
      for (const c of page.commands) {
        await opts.intake.receive('catchup', {
          subject,
          data: new TextEncoder().encode(c.body),
          headers: messageHeaders('command', { [SIGNATURE_HEADER]: c.signature }),
        });
      }
      fetched += page.commands.length;
      after = page.next;
    } while (after !== undefined && !stopped);
    return fetched;
  }

  const done = (async () => {
    while (!stopped) {
      wake = new AbortController(); // a request during the attempt runs another one right after
      try {
        const fetched = await once();
        if (failures > 0 || fetched > 0) log.info({ subject, fetched, failures, reason: why }, 'pending commands fetched');
        failures = 0;
        succeeded++;
      } catch (err) {
        failures++;
        const msg = (err as Error).message;
        // no responders / timeout is the normal state of a site without WAN
        if (failures === 1 || failures % 10 === 0) log.debug({ subject, failures, err: msg, reason: why }, 'pending commands not fetched, will retry');
      }
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
    get succeeded() {
      return succeeded;
    },
    async stop() {
      stopped = true;
      wake.abort();
      await done;
    },
  };
}
