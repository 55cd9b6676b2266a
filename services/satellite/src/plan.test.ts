import { describe, expect, it } from 'vitest';
import { planApply, planIntake } from './plan.js';

const applied = (revision: number) => ({ revision, digest: 'sha256:' + 'a'.repeat(64), at: '2026-01-01T00:00:00.000Z' });

describe('planApply', () => {
  it('applies the first state when nothing is applied yet', () => {
    expect(planApply(null, { revision: 1 })).toEqual({ action: 'apply' });
  });

  it('applies a newer revision, even after a gap', () => {
    expect(planApply(applied(1), { revision: 3 })).toEqual({ action: 'apply' });
  });

  it('skips the applied revision and older ones', () => {
    expect(planApply(applied(3), { revision: 3 })).toEqual({ action: 'skip', reason: 'revision 3 is already applied' });
    expect(planApply(applied(3), { revision: 2 })).toEqual({ action: 'skip', reason: 'revision 2 is older than applied revision 3' });
  });
});

describe('planIntake', () => {
  it('records a newer state addressed to this satellite', () => {
    expect(planIntake('edge-01', 0, { satellite: 'edge-01', revision: 1 })).toEqual({ action: 'record' });
    expect(planIntake('edge-01', 4, { satellite: 'edge-01', revision: 7 })).toEqual({ action: 'record' });
  });

  it('ignores a revision that is not newer than the recorded one', () => {
    expect(planIntake('edge-01', 4, { satellite: 'edge-01', revision: 4 }).action).toBe('ignore');
    expect(planIntake('edge-01', 4, { satellite: 'edge-01', revision: 2 }).action).toBe('ignore');
  });

  it('rejects another satellite\'s state, whatever its revision', () => {
    const d = planIntake('edge-01', 0, { satellite: 'edge-02', revision: 9 });
    expect(d).toEqual({ action: 'reject', reason: 'desired state of satellite edge-02 delivered to satellite edge-01' });
  });
});
