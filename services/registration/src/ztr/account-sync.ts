// Keeps the hub's resolver holding every site account: a push of all of them at start and on a slow
// interval (also replacing an outdated JWT, e.g. from a restored backup, so revoked sites stay
// revoked), of those the hub does not list whenever the system connection reconnects (a restarted
// hub may have lost its resolver directory), and again with backoff after a round with failures.
// Rounds never overlap; triggers that arrive during a round coalesce into one more.
import type { NatsConnection } from '@nats-io/transport-node';
import { backoffDelay } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { RegistrationMetrics } from '../metrics.js';
import type { AccountPushReport, ZeroTouchRegistration } from './zero-touch.js';

export type AccountPushTrigger = 'start' | 'reconnect' | 'interval' | 'retry';

export interface AccountSyncOptions {
  ztr: ZeroTouchRegistration;
  /** the system account connection the pushes go through; its reconnects trigger a round */
  sys: NatsConnection;
  logger: Logger;
  metrics: RegistrationMetrics;
  /** seconds between rounds besides start and reconnects; 0 = none @default 3_600 */
  intervalS?: number;
  /** backoff after a round with failures @default { initialMs: 5_000, maxMs: 300_000 } */
  retry?: { initialMs?: number; maxMs?: number };
}

export interface AccountSync {
  /** ask for a round (coalesced with one running or pending) */
  request(trigger: AccountPushTrigger): void;
  close(): Promise<void>;
}

export function startAccountSync(opts: AccountSyncOptions): AccountSync {
  const log = opts.logger;
  const intervalMs = (opts.intervalS ?? 3_600) * 1_000;
  let pending: AccountPushTrigger | undefined = 'start';
  let wake: (() => void) | undefined;
  let closed = false;
  const abort = new AbortController();
  const request = (trigger: AccountPushTrigger) => {
    pending ??= trigger;
    wake?.();
  };

  const round = async (trigger: AccountPushTrigger, onlyMissing: boolean): Promise<AccountPushReport> => {
    const started = Date.now();
    const report = await opts.ztr.pushAllAccounts({ onlyMissing, signal: abort.signal });
    opts.metrics.accountPushRounds.inc({ trigger });
    opts.metrics.accountsPushed.inc({ trigger }, report.pushed);
    if (report.failed > 0) opts.metrics.accountPushFailures.inc({ trigger }, report.failed);
    else opts.metrics.accountsPushedAt.set(Math.floor(Date.now() / 1_000));
    const fields = { trigger, onlyMissing, pushed: report.pushed, revoked: report.revoked, encoded: report.encoded, skipped: report.skipped, failed: report.failed, ms: Date.now() - started };
    if (report.failed > 0) log.warn({ ...fields, err: report.firstError }, 'some site accounts could not be pushed to the hub: retrying');
    else log.info(fields, 'site accounts pushed to the hub');
    return report;
  };

  const loop = (async () => {
    let failures = 0;
    let lastOnlyMissing = false;
    while (!closed) {
      if (!pending) {
        const delay = failures > 0 ? backoffDelay(failures, { initialMs: 5_000, maxMs: 300_000, ...opts.retry }) : intervalMs;
        const timedOut = await new Promise<boolean>((resolve) => {
          const t = delay > 0 ? setTimeout(() => resolve(true), delay) : undefined;
          wake = () => {
            clearTimeout(t);
            resolve(false);
          };
        });
        wake = undefined;
        if (closed) break;
        if (timedOut) pending ??= failures > 0 ? 'retry' : 'interval';
        if (!pending) continue;
      }
      const trigger = pending as AccountPushTrigger; // request() may have set any trigger meanwhile
      pending = undefined;
      // a retry repeats the failed round's kind
      const onlyMissing: boolean = trigger === 'reconnect' || (trigger === 'retry' && lastOnlyMissing);
      const report = await round(trigger, onlyMissing);
      lastOnlyMissing = onlyMissing;
      failures = report.failed > 0 ? failures + 1 : 0;
    }
  })();

  const watch = (async () => {
    for await (const s of opts.sys.status()) if (s.type === 'reconnect') request('reconnect');
  })().catch(() => undefined);

  return {
    request,
    close: async () => {
      closed = true;
      abort.abort();
      wake?.();
      await loop;
      void watch; // ends when the connection closes
    },
  };
}
