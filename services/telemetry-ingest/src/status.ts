// Whether a site is online, stale or offline, from when it last sent a heartbeat. Pure: the sweep,
// the status read and the fleet summary all use these rules (the SQL form mirrors `liveness`).
import type { SatelliteStatus } from '@uplink/contracts';

export type Liveness = 'online' | 'stale' | 'offline';

export interface StatusRules {
  /** stale once this many heartbeat intervals passed without one @default 3 */
  staleAfterIntervals: number;
  /** offline once this long passed without a heartbeat */
  offlineAfterMs: number;
}

/** Liveness from the age of the newest heartbeat and the interval the site announced in it. */
export function liveness(lastHeartbeatAtMs: number, intervalSeconds: number, nowMs: number, rules: StatusRules): Liveness {
  const age = nowMs - lastHeartbeatAtMs;
  if (age > rules.offlineAfterMs) return 'offline';
  if (age > rules.staleAfterIntervals * intervalSeconds * 1_000) return 'stale';
  return 'online';
}

/** The status of a registered satellite: revoked wins, then pending until its first heartbeat. */
export function satelliteStatus(
  sat: { revoked: boolean; last: { atMs: number; intervalSeconds: number } | undefined },
  nowMs: number,
  rules: StatusRules,
): SatelliteStatus {
  if (sat.revoked) return 'revoked';
  if (!sat.last) return 'pending';
  return liveness(sat.last.atMs, sat.last.intervalSeconds, nowMs, rules);
}

/**
 * `liveness` as a SQL expression over satellite_status columns; `$stale` and `$offline` are the
 * parameter placeholders of the rules (intervals count, seconds).
 */
export function livenessSql(table: string, stale: string, offline: string): string {
  return `CASE WHEN now() - ${table}.last_heartbeat_at > make_interval(secs => ${offline}) THEN 'offline'
    WHEN now() - ${table}.last_heartbeat_at > make_interval(secs => ${table}.interval_seconds * ${stale}) THEN 'stale'
    ELSE 'online' END`;
}
