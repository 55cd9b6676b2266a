// Applying a desired state: the seam where the satellite makes a state real. Today that is persisting
// it as applied; replication (pulling its artifacts into the content store) runs inside `realise`.
import type { AppliedState, DesiredState } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { planApply } from './plan.js';
import type { StateStore } from './state-store.js';

export interface ApplyContext {
  /** extend the message's ack deadline during long work */
  working(): void;
  /** aborted when the satellite stops */
  signal: AbortSignal;
}

/** Make a state real before it is recorded as applied; throw to have it retried. */
export type Realise = (state: DesiredState, ctx: ApplyContext) => Promise<void>;

export interface ApplyDeps {
  store: StateStore;
  logger: Logger;
  /** @default nothing to do */
  realise?: Realise;
}

export type ApplyResult = { outcome: 'applied'; applied: AppliedState } | { outcome: 'skipped'; reason: string };

/**
 * Apply `state` unless it is not newer than the applied one. Resolves once the applied state is
 * durable on disk; the caller acks the message only then.
 */
export async function applyDesiredState(state: DesiredState, ctx: ApplyContext, deps: ApplyDeps): Promise<ApplyResult> {
  const decision = planApply(deps.store.applied, state);
  if (decision.action === 'skip') {
    deps.logger.info({ revision: state.revision, applied: deps.store.applied?.revision, reason: decision.reason }, 'desired state skipped');
    return { outcome: 'skipped', reason: decision.reason };
  }
  await deps.realise?.(state, ctx);
  const applied = await deps.store.commit(state);
  deps.logger.info({ revision: applied.revision, digest: applied.digest }, 'desired state applied');
  return { outcome: 'applied', applied };
}
