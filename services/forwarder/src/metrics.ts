// Prometheus metrics of the forwarder, rendered on /metrics.
import { Counter, Gauge, Histogram, createMetrics, type Registry } from '@uplink/observability';

export interface ForwarderMetrics {
  registry: Registry;
  /** stored by the hub, by kind (heartbeat, sync, result, ...) */
  forwarded: Counter<'kind'>;
  /** forwarded again and recognised by the hub's dedupe window (PubAck duplicate=true) */
  duplicates: Counter<'kind'>;
  /** left OUTBOX without being forwarded, by stream */
  dropped: Counter<'stream'>;
  backlogMessages: Gauge<'stream'>;
  backlogBytes: Gauge<'stream'>;
  /** refused by the hub for good and dead-lettered on the leaf, by kind */
  rejected: Counter<'kind'>;
  publishFailures: Counter;
  hubReachable: Gauge;
  batchSize: Histogram;
}

export function createForwarderMetrics(): ForwarderMetrics {
  const registry = createMetrics({ prefix: 'uplink_forwarder_' });
  const r = [registry];
  return {
    registry,
    forwarded: new Counter({ name: 'uplink_forwarder_forwarded_total', help: 'messages stored by the hub', labelNames: ['kind'], registers: r }),
    duplicates: new Counter({ name: 'uplink_forwarder_duplicates_total', help: 'messages the hub already had (PubAck duplicate)', labelNames: ['kind'], registers: r }),
    dropped: new Counter({ name: 'uplink_forwarder_dropped_total', help: 'messages that left OUTBOX without being forwarded (limits)', labelNames: ['stream'], registers: r }),
    backlogMessages: new Gauge({ name: 'uplink_forwarder_backlog_messages', help: 'messages waiting in OUTBOX', labelNames: ['stream'], registers: r }),
    backlogBytes: new Gauge({ name: 'uplink_forwarder_backlog_bytes', help: 'bytes waiting in OUTBOX', labelNames: ['stream'], registers: r }),
    rejected: new Counter({ name: 'uplink_forwarder_rejected_total', help: 'messages the hub refused for good (dead-lettered on the leaf)', labelNames: ['kind'], registers: r }),
    publishFailures: new Counter({ name: 'uplink_forwarder_publish_failures_total', help: 'batches the hub did not acknowledge (link down, timeout)', registers: r }),
    hubReachable: new Gauge({ name: 'uplink_forwarder_hub_reachable', help: '1 while the hub acknowledges forwarded messages', registers: r }),
    batchSize: new Histogram({ name: 'uplink_forwarder_batch_size', help: 'messages per forwarded batch', buckets: [1, 10, 50, 100, 250, 500, 1000, 5000], registers: r }),
  };
}
