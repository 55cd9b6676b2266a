// Prometheus metrics of the state-publisher, on the process registry from observability.
import { Counter, Gauge, Histogram, createMetrics, type Registry } from '@uplink/observability';

export interface StatePublisherMetrics {
  registry: Registry;
  revisionsPublished: Counter;
  publishFailures: Counter;
  /** seconds from a revision's commit to the hub's PubAck */
  publishLatency: Histogram;
  unpublishedBacklog: Gauge;
  tagResolutionFailures: Counter;
  tagResolutions: Counter;
  /** rows removed by the cleanup loop, by what (contents, published) */
  cleanedUp: Counter;
}

export function createStatePublisherMetrics(opts: { defaults?: boolean } = {}): StatePublisherMetrics {
  const registry = createMetrics({ prefix: 'uplink_state_publisher_', defaults: opts.defaults ?? true });
  const p = 'uplink_state_publisher_';
  return {
    registry,
    revisionsPublished: new Counter({ name: `${p}revisions_published_total`, help: 'desired-state revisions acknowledged by the hub', registers: [registry] }),
    publishFailures: new Counter({ name: `${p}publish_failures_total`, help: 'desired-state publishes that failed (retried later)', registers: [registry] }),
    publishLatency: new Histogram({
      name: `${p}publish_latency_seconds`,
      help: 'time from writing a revision to the hub acknowledging it',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    unpublishedBacklog: new Gauge({ name: `${p}unpublished_backlog`, help: 'revisions written but not yet on the hub', registers: [registry] }),
    tagResolutionFailures: new Counter({ name: `${p}tag_resolution_failures_total`, help: 'tag lookups the upstream did not answer', registers: [registry] }),
    tagResolutions: new Counter({ name: `${p}tag_resolutions_total`, help: 'tag lookups answered by the upstream', registers: [registry] }),
    cleanedUp: new Counter({ name: `${p}cleaned_up_total`, help: 'unused desired-state contents and old publication records removed', labelNames: ['what'], registers: [registry] }),
  };
}
