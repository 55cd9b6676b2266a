import { describe, expect, it } from 'vitest';
import { commandStatusOf, countStatuses, nextTargetStatus } from './lifecycle.js';

describe('nextTargetStatus', () => {
  it('moves forward only', () => {
    expect(nextTargetStatus('queued', 'delivered')).toBe('delivered');
    expect(nextTargetStatus('queued', 'succeeded')).toBe('succeeded');
    expect(nextTargetStatus('running', 'delivered')).toBeUndefined();
    expect(nextTargetStatus('running', 'running')).toBeUndefined();
    expect(nextTargetStatus('delivered', 'rejected')).toBe('rejected');
  });

  it('keeps terminal statuses, except that a site that did run the command overrides expired and cancelled', () => {
    expect(nextTargetStatus('succeeded', 'failed')).toBeUndefined();
    expect(nextTargetStatus('rejected', 'succeeded')).toBeUndefined();
    expect(nextTargetStatus('expired', 'succeeded')).toBe('succeeded');
    expect(nextTargetStatus('cancelled', 'running')).toBe('running');
    expect(nextTargetStatus('expired', 'expired')).toBeUndefined();
    expect(nextTargetStatus('cancelled', 'rejected')).toBeUndefined();
    expect(nextTargetStatus('expired', 'delivered')).toBeUndefined();
  });
});

describe('commandStatusOf', () => {
  it('is in progress until every target is terminal, then succeeded or failed', () => {
    expect(commandStatusOf('in_progress', ['succeeded', 'running'])).toBe('in_progress');
    expect(commandStatusOf('in_progress', ['succeeded', 'succeeded'])).toBe('succeeded');
    expect(commandStatusOf('in_progress', ['succeeded', 'expired'])).toBe('failed');
  });

  it('keeps aborted and cancelled', () => {
    expect(commandStatusOf('aborted', ['succeeded'])).toBe('aborted');
    expect(commandStatusOf('cancelled', ['queued'])).toBe('cancelled');
  });

  it('counts every status', () => {
    const c = countStatuses(['queued', 'queued', 'failed']);
    expect(c.queued).toBe(2);
    expect(c.failed).toBe(1);
    expect(c.succeeded).toBe(0);
  });
});
