// The re-push loop's schedule: a round at start, again with backoff after a round with failures
// (repeating that round's kind), a reconnect round of only the missing accounts, and metrics for each.
import type { NatsConnection, Status } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@uplink/observability';
import { waitFor } from '@uplink/testkit';
import { createRegistrationMetrics } from '../metrics.js';
import { startAccountSync } from './account-sync.js';
import type { AccountPushReport, ZeroTouchRegistration } from './zero-touch.js';

/** A system connection whose status stream the test drives. */
function fakeSys() {
  const queue: Status[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const sys = {
    status: () => ({
      async *[Symbol.asyncIterator]() {
        while (!closed) {
          if (queue.length > 0) yield queue.shift()!;
          else await new Promise<void>((r) => (wake = r));
        }
      },
    }),
  } as unknown as NatsConnection;
  return {
    sys,
    reconnect() {
      queue.push({ type: 'reconnect', server: 'hub' } as Status);
      wake?.();
    },
    close() {
      closed = true;
      wake?.();
    },
  };
}

describe('account re-push loop', () => {
  it('retries a round with failures after a backoff, as the same kind of round, and counts it', async () => {
    const calls: { onlyMissing: boolean }[] = [];
    // start: fails; retry: fails; retry: works; reconnect: fails; retry: works
    const outcomes = [1, 1, 0, 1, 0];
    const ztr = {
      pushAllAccounts: async ({ onlyMissing }: { onlyMissing: boolean }): Promise<AccountPushReport> => {
        calls.push({ onlyMissing });
        const failed = outcomes.shift() ?? 0;
        return { pushed: 3 - failed, revoked: 0, encoded: 0, skipped: 0, failed, ...(failed ? { firstError: 'hub timed out' } : {}) };
      },
    } as unknown as ZeroTouchRegistration;
    const metrics = createRegistrationMetrics({ defaults: false });
    const s = fakeSys();
    const sync = startAccountSync({ ztr, sys: s.sys, logger: createLogger({ service: 'test', level: 'silent' }), metrics, intervalS: 3_600, retry: { initialMs: 20, maxMs: 50 } });
    try {
      await waitFor(() => calls.length === 3, { what: 'start round and two retries' });
      expect(calls).toEqual([{ onlyMissing: false }, { onlyMissing: false }, { onlyMissing: false }]);
      s.reconnect();
      await waitFor(() => calls.length === 5, { what: 'reconnect round and its retry' });
      expect(calls.slice(3)).toEqual([{ onlyMissing: true }, { onlyMissing: true }]);
      // nothing more until the hour is up
      await new Promise((r) => setTimeout(r, 200));
      expect(calls).toHaveLength(5);
      const text = await metrics.registry.metrics();
      expect(text).toContain('uplink_registration_site_account_push_rounds_total{trigger="start"} 1');
      expect(text).toContain('uplink_registration_site_account_push_rounds_total{trigger="retry"} 3');
      expect(text).toContain('uplink_registration_site_account_push_rounds_total{trigger="reconnect"} 1');
      expect(text).toContain('uplink_registration_site_account_push_failures_total{trigger="start"} 1');
      expect(text).toMatch(/uplink_registration_site_accounts_pushed_timestamp_seconds [1-9]/);
    } finally {
      await sync.close();
      s.close();
    }
  });
});
