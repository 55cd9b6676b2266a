import { describe, expect, it } from 'vitest';
import type { TargetStatus } from '@uplink/contracts';
import { planRollout, type RolloutTarget } from './rollout.js';

const t = (satellite: string, status: TargetStatus = 'queued', releasedAt: number | null = null): RolloutTarget => ({ satellite, status, releasedAt });
const fleet = (n: number) => Array.from({ length: n }, (_, i) => t(`s${i}`));

describe('planRollout', () => {
  it('releases every held target at once without rules', () => {
    expect(planRollout(undefined, fleet(3), 0).release).toEqual(['s0', 's1', 's2']);
  });

  it('releases batches only once the previous batch has finished', () => {
    const rules = { batchSize: 2, abortFailurePercent: 100, minExecuted: 1 };
    expect(planRollout(rules, fleet(5), 0).release).toEqual(['s0', 's1']);
    const running = [t('s0', 'succeeded', 0), t('s1', 'running', 0), t('s2'), t('s3'), t('s4')];
    expect(planRollout(rules, running, 1).release).toEqual([]);
    // expired and cancelled count as finished: an offline site holds the rollout only until its deadline
    const done = [t('s0', 'succeeded', 0), t('s1', 'expired', 0), t('s2'), t('s3'), t('s4')];
    expect(planRollout(rules, done, 1).release).toEqual(['s2', 's3']);
  });

  it('releases at most maxPerMinute in any minute and says when more can go', () => {
    const rules = { maxPerMinute: 2, abortFailurePercent: 100, minExecuted: 1 };
    const first = planRollout(rules, fleet(5), 1_000);
    expect(first).toEqual({ release: ['s0', 's1'], nextAt: 61_000 });
    const after = [t('s0', 'succeeded', 1_000), t('s1', 'succeeded', 30_000), t('s2'), t('s3'), t('s4')];
    expect(planRollout(rules, after, 40_000)).toEqual({ release: [], nextAt: 61_000 });
    expect(planRollout(rules, after, 61_001)).toEqual({ release: ['s2'], nextAt: 90_000 });
    const last = [t('s0', 'succeeded', 0), t('s1', 'succeeded', 0), t('s2', 'succeeded', 0), t('s3', 'queued', 0), t('s4')];
    expect(planRollout(rules, last, 120_000)).toEqual({ release: ['s4'] });
  });

  it('aborts when failures exceed the threshold after the minimum executed, cancelling every queued target', () => {
    const rules = { batchSize: 1, abortFailurePercent: 50, minExecuted: 2 };
    // one failure of one executed: below minExecuted, keep going
    expect(planRollout(rules, [t('s0', 'failed', 0), t('s1'), t('s2')], 1)).toEqual({ release: ['s1'] });
    const targets = [t('s0', 'failed', 0), t('s1', 'timed_out', 0), t('s2'), t('s3', 'queued', 5)];
    const plan = planRollout(rules, targets, 10);
    expect(plan.release).toEqual([]);
    expect(plan.abort?.cancel).toEqual(['s2', 's3']);
    expect(plan.abort?.reason).toContain('2 of 2');
  });

  it('does not abort at exactly the threshold, and rejected counts as a failure', () => {
    const rules = { batchSize: 2, abortFailurePercent: 50, minExecuted: 2 };
    expect(planRollout(rules, [t('s0', 'failed', 0), t('s1', 'succeeded', 0), t('s2')], 1)).toEqual({ release: ['s2'] });
    expect(planRollout(rules, [t('s0', 'rejected', 0), t('s1', 'rejected', 0), t('s2')], 1).abort?.cancel).toEqual(['s2']);
  });

  it('does not count expired or cancelled targets as executed', () => {
    const rules = { batchSize: 1, abortFailurePercent: 0, minExecuted: 1 };
    expect(planRollout(rules, [t('s0', 'expired', 0), t('s1', 'cancelled', 0), t('s2')], 1)).toEqual({ release: ['s2'] });
  });
});
