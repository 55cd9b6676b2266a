// Pure decisions of the desired-state path: what to do with a state received from the hub, and
// whether a state delivered from STATE_LOCAL is applied. Revisions only ever move forward.
import type { AppliedState, DesiredState } from '@uplink/contracts';

export type IntakeDecision =
  | { action: 'record' }
  | { action: 'ignore'; reason: string }
  | { action: 'reject'; reason: string };

/**
 * A valid state from the hub (live or catch-up) is recorded in STATE_LOCAL only when it is addressed
 * to this satellite and newer than every revision recorded here already.
 */
export function planIntake(satellite: string, highestRecorded: number, incoming: Pick<DesiredState, 'satellite' | 'revision'>): IntakeDecision {
  if (incoming.satellite !== satellite) {
    return { action: 'reject', reason: `desired state of satellite ${incoming.satellite} delivered to satellite ${satellite}` };
  }
  if (incoming.revision <= highestRecorded) {
    return { action: 'ignore', reason: `revision ${incoming.revision} is not newer than recorded revision ${highestRecorded}` };
  }
  return { action: 'record' };
}

export type ApplyDecision = { action: 'apply' } | { action: 'skip'; reason: string };

/** Never apply an older revision after a newer one, never apply a revision twice. */
export function planApply(current: AppliedState | null, incoming: Pick<DesiredState, 'revision'>): ApplyDecision {
  if (current && incoming.revision <= current.revision) {
    return {
      action: 'skip',
      reason:
        incoming.revision === current.revision
          ? `revision ${incoming.revision} is already applied`
          : `revision ${incoming.revision} is older than applied revision ${current.revision}`,
    };
  }
  return { action: 'apply' };
}
