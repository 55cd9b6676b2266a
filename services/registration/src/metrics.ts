// Prometheus metrics of registration, rendered on /metrics when METRICS_PORT is set.
import { Counter, Gauge, createMetrics, type Registry } from '@uplink/observability';

export interface RegistrationMetrics {
  registry: Registry;
  /** rounds of pushing site accounts to the hub again, by trigger (start, reconnect, interval, retry) */
  accountPushRounds: Counter<'trigger'>;
  /** site account JWTs the hub acknowledged on a re-push, by trigger */
  accountsPushed: Counter<'trigger'>;
  accountPushFailures: Counter<'trigger'>;
  /** unix seconds of the last re-push of every site account without a failure */
  accountsPushedAt: Gauge;
}

export function createRegistrationMetrics(opts: { defaults?: boolean } = {}): RegistrationMetrics {
  const p = 'uplink_registration_';
  const registry = createMetrics({ prefix: p, defaults: opts.defaults ?? true });
  const r = [registry];
  return {
    registry,
    accountPushRounds: new Counter({ name: `${p}site_account_push_rounds_total`, help: 'rounds of pushing site accounts to the hub again', labelNames: ['trigger'], registers: r }),
    accountsPushed: new Counter({ name: `${p}site_accounts_pushed_total`, help: 'site account JWTs pushed to the hub again and acknowledged', labelNames: ['trigger'], registers: r }),
    accountPushFailures: new Counter({ name: `${p}site_account_push_failures_total`, help: 'site account JWTs the hub did not take on a re-push', labelNames: ['trigger'], registers: r }),
    accountsPushedAt: new Gauge({ name: `${p}site_accounts_pushed_timestamp_seconds`, help: 'when every site account was last pushed to the hub without a failure', registers: r }),
  };
}
