// Prometheus metrics of the satellite, rendered on /metrics.
import { Counter, Gauge, Histogram, createMetrics, type Registry } from '@uplink/observability';

export interface SatelliteMetrics {
  registry: Registry;
  appliedRevision: Gauge;
  /** valid and invalid states from the hub, by source (live | catchup) */
  statesReceived: Counter<'source'>;
  statesApplied: Counter;
  /** by stage: intake (not newer than the recorded revision) | apply (not newer than the applied revision) */
  statesSkipped: Counter<'stage'>;
  statesDeadLettered: Counter;
  catchupAttempts: Counter;
  catchupFailures: Counter;
  linkConnected: Gauge;
  appliedReports: Counter<'outcome'>;
  /** blob bytes received from upstream registries */
  syncBytes: Counter;
  /** blob bytes received by the last sync that fetched anything */
  syncLastBytes: Gauge;
  /** sync passes by reason (state | resume | manual | drift | retry | verify) */
  syncs: Counter<'reason'>;
  syncDuration: Histogram;
  /** desired artifacts by status (pending | syncing | ready | failed) */
  artifacts: Gauge<'status'>;
  artifactFailures: Counter<'code'>;
  /** blobs found missing or damaged and fetched again */
  repairs: Counter;
  gcFreedBytes: Counter;
  storeBytes: Gauge;
  /** runtime config applies (mirror files, direct delivery), by outcome (ok | error) */
  runtimeApplies: Counter<'outcome'>;
  /** errors of runtime config applies, by code */
  runtimeErrors: Counter<'code'>;
  runtimeLastApply: Gauge;
  /** 1 per runtime whose mirror config points at the satellite */
  runtimeConfigured: Gauge<'runtime'>;
  /** image tarballs in the direct-delivery directory */
  deliveryImages: Gauge;
  deliveryWritten: Counter;
  deliveryRemoved: Counter;
}

export function createSatelliteMetrics(): SatelliteMetrics {
  const registry = createMetrics({ prefix: 'uplink_satellite_' });
  const r = [registry];
  return {
    registry,
    appliedRevision: new Gauge({ name: 'uplink_satellite_applied_revision', help: 'revision of the applied desired state (0 = none)', registers: r }),
    statesReceived: new Counter({ name: 'uplink_satellite_states_received_total', help: 'desired states received from the hub', labelNames: ['source'], registers: r }),
    statesApplied: new Counter({ name: 'uplink_satellite_states_applied_total', help: 'desired states applied', registers: r }),
    statesSkipped: new Counter({ name: 'uplink_satellite_states_skipped_total', help: 'desired states skipped as not newer', labelNames: ['stage'], registers: r }),
    statesDeadLettered: new Counter({ name: 'uplink_satellite_states_dead_lettered_total', help: 'desired states rejected to the DEAD stream', registers: r }),
    catchupAttempts: new Counter({ name: 'uplink_satellite_catchup_attempts_total', help: 'direct gets of the latest state from the hub', registers: r }),
    catchupFailures: new Counter({ name: 'uplink_satellite_catchup_failures_total', help: 'catch-ups that got no answer from the hub', registers: r }),
    linkConnected: new Gauge({ name: 'uplink_satellite_link_connected', help: '1 while the leaf has its link to the hub', registers: r }),
    appliedReports: new Counter({ name: 'uplink_satellite_applied_reports_total', help: 'state-applied reports sent to the hub, by outcome', labelNames: ['outcome'], registers: r }),
    syncBytes: new Counter({ name: 'uplink_satellite_sync_bytes_total', help: 'blob bytes fetched from upstream registries', registers: r }),
    syncLastBytes: new Gauge({ name: 'uplink_satellite_sync_last_bytes', help: 'blob bytes fetched by the last sync that fetched anything', registers: r }),
    syncs: new Counter({ name: 'uplink_satellite_syncs_total', help: 'sync passes over the desired artifacts, by reason', labelNames: ['reason'], registers: r }),
    syncDuration: new Histogram({
      name: 'uplink_satellite_sync_duration_seconds',
      help: 'duration of sync passes that fetched anything',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1_800, 7_200],
      registers: r,
    }),
    artifacts: new Gauge({ name: 'uplink_satellite_artifacts', help: 'desired artifacts by sync status', labelNames: ['status'], registers: r }),
    artifactFailures: new Counter({ name: 'uplink_satellite_artifact_failures_total', help: 'failed artifact sync attempts, by error code', labelNames: ['code'], registers: r }),
    repairs: new Counter({ name: 'uplink_satellite_repairs_total', help: 'blobs or manifests found missing or damaged in the store and fetched again', registers: r }),
    gcFreedBytes: new Counter({ name: 'uplink_satellite_gc_freed_bytes_total', help: 'bytes freed by content store GC', registers: r }),
    storeBytes: new Gauge({ name: 'uplink_satellite_store_bytes', help: 'bytes of blobs in the content store (after the last GC)', registers: r }),
    runtimeApplies: new Counter({ name: 'uplink_satellite_runtime_config_applies_total', help: 'runtime config applies (mirror files, direct delivery), by outcome', labelNames: ['outcome'], registers: r }),
    runtimeErrors: new Counter({ name: 'uplink_satellite_runtime_config_errors_total', help: 'errors of runtime config applies, by code', labelNames: ['code'], registers: r }),
    runtimeLastApply: new Gauge({ name: 'uplink_satellite_runtime_config_last_apply_timestamp_seconds', help: 'when runtime config was last applied (unix seconds, 0 = never)', registers: r }),
    runtimeConfigured: new Gauge({ name: 'uplink_satellite_runtime_configured', help: '1 for each runtime whose mirror config points at the satellite', labelNames: ['runtime'], registers: r }),
    deliveryImages: new Gauge({ name: 'uplink_satellite_direct_delivery_images', help: 'image tarballs in the direct-delivery directory', registers: r }),
    deliveryWritten: new Counter({ name: 'uplink_satellite_direct_delivery_written_total', help: 'direct-delivery tarballs written', registers: r }),
    deliveryRemoved: new Counter({ name: 'uplink_satellite_direct_delivery_removed_total', help: 'direct-delivery tarballs removed as no longer desired', registers: r }),
  };
}
