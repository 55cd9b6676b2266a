// Prometheus metrics of the satellite, rendered on /metrics.
import { Counter, Gauge, createMetrics, type Registry } from '@uplink/observability';

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
  };
}
