// The per-site lifecycle as pure functions: which reported status moves a target forward, and what a
// command's status is once its targets have settled.
import { TERMINAL_TARGET_STATUSES, type CommandStatus, type ReportedStatus, type TargetStatus } from '@uplink/contracts';

const RANK: Record<TargetStatus, number> = {
  queued: 0,
  delivered: 1,
  running: 2,
  succeeded: 3,
  failed: 3,
  timed_out: 3,
  expired: 3,
  rejected: 3,
  cancelled: 3,
};

/** Statuses that say the site actually ran the command. */
const EXECUTED: readonly ReportedStatus[] = ['running', 'succeeded', 'failed', 'timed_out'];

export function isTerminal(status: TargetStatus): boolean {
  return TERMINAL_TARGET_STATUSES.includes(status);
}

/**
 * The target's status after a site reported `reported`, or undefined when the report changes nothing
 * (late, duplicate or out of order: results may arrive in any order and more than once).
 *
 * A terminal status is final, with one exception: `expired` and `cancelled` are decided by the cloud
 * without the site, so a report that the site did run the command (it got it just in time, or before
 * the cancel reached it) replaces them; the record shows what really happened.
 */
export function nextTargetStatus(current: TargetStatus, reported: ReportedStatus): TargetStatus | undefined {
  if (isTerminal(current)) {
    if ((current === 'expired' || current === 'cancelled') && EXECUTED.includes(reported)) return reported;
    return undefined;
  }
  return RANK[reported] > RANK[current] ? reported : undefined;
}

/** Targets per status; every status present, zero when none. */
export function countStatuses(statuses: Iterable<TargetStatus>): Record<TargetStatus, number> {
  const counts = Object.fromEntries(Object.keys(RANK).map((s) => [s, 0])) as Record<TargetStatus, number>;
  for (const s of statuses) counts[s]++;
  return counts;
}

/**
 * A command's status from its targets. `aborted` and `cancelled` are set by the rollout or an operator
 * and stay; otherwise in_progress until every target is terminal, then succeeded or failed.
 */
export function commandStatusOf(current: CommandStatus, targets: Iterable<TargetStatus>): CommandStatus {
  if (current === 'aborted' || current === 'cancelled') return current;
  let allSucceeded = true;
  for (const t of targets) {
    if (!isTerminal(t)) return 'in_progress';
    if (t !== 'succeeded') allSucceeded = false;
  }
  return allSucceeded ? 'succeeded' : 'failed';
}
