// Prometheus instruments of telemetry-ingest, on one registry per service instance.
import { Counter, Gauge, Histogram, createMetrics, type Registry } from '@uplink/observability';

export interface IngestMetrics {
  registry: Registry;
  stored: Counter<'kind'>;
  duplicates: Counter<'kind'>;
  expired: Counter<'kind'>;
  deadLetters: Counter<'consumer'>;
  batchSize: Histogram;
  batchSeconds: Histogram;
  writeErrors: Counter<'reason'>;
  redisErrors: Counter;
  consumerPending: Gauge<'consumer'>;
  consumerAckPending: Gauge<'consumer'>;
  sites: Gauge<'status'>;
  transitions: Counter<'status'>;
  lastSeenAge: Gauge<'satellite'>;
}

/**
 * `lastSeen` is read at scrape time: satellite -> ms of its newest heartbeat (the sweep refreshes it,
 * for at most a few thousand sites, the longest silent first).
 */
export function createIngestMetrics(lastSeen: () => ReadonlyMap<string, number>): IngestMetrics {
  const registry = createMetrics({ prefix: 'uplink_telemetry_' });
  const registers = [registry];
  return {
    registry,
    stored: new Counter({ name: 'uplink_telemetry_stored_total', help: 'telemetry messages stored in Postgres, by kind (the ingest rate)', labelNames: ['kind'], registers }),
    duplicates: new Counter({ name: 'uplink_telemetry_duplicates_total', help: 'telemetry messages already stored (forwarded again), by kind', labelNames: ['kind'], registers }),
    expired: new Counter({ name: 'uplink_telemetry_expired_total', help: 'telemetry messages older than the retention, acked without storing', labelNames: ['kind'], registers }),
    deadLetters: new Counter({ name: 'uplink_telemetry_dead_letters_total', help: 'telemetry messages dead-lettered as invalid, by consumer', labelNames: ['consumer'], registers }),
    batchSize: new Histogram({ name: 'uplink_telemetry_batch_size', help: 'messages per Postgres batch', buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000], registers }),
    batchSeconds: new Histogram({ name: 'uplink_telemetry_batch_duration_seconds', help: 'time to write one batch to Postgres and Redis', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers }),
    writeErrors: new Counter({ name: 'uplink_telemetry_write_errors_total', help: 'batches that failed to commit (retried), by reason', labelNames: ['reason'], registers }),
    redisErrors: new Counter({ name: 'uplink_telemetry_redis_errors_total', help: 'failed Redis status updates (retried with the next batch)', registers }),
    consumerPending: new Gauge({ name: 'uplink_telemetry_consumer_pending', help: 'messages in TELEMETRY not yet delivered to the consumer (lag)', labelNames: ['consumer'], registers }),
    consumerAckPending: new Gauge({ name: 'uplink_telemetry_consumer_ack_pending', help: 'messages delivered and not yet acked', labelNames: ['consumer'], registers }),
    sites: new Gauge({ name: 'uplink_telemetry_sites', help: 'sites that ever sent a heartbeat, by status at the last sweep', labelNames: ['status'], registers }),
    transitions: new Counter({ name: 'uplink_telemetry_status_transitions_total', help: 'site status changes seen by the sweep, by new status', labelNames: ['status'], registers }),
    lastSeenAge: new Gauge({
      name: 'uplink_telemetry_site_last_seen_age_seconds',
      help: 'seconds since the newest heartbeat of each site (the longest silent sites when the fleet is large)',
      labelNames: ['satellite'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const [satellite, at] of lastSeen()) this.set({ satellite }, Math.max(0, (now - at) / 1000));
      },
    }),
  };
}
