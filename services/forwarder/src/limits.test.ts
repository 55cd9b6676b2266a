import { describe, expect, it } from 'vitest';
import { createDropTracker } from './drops.js';
import { firstSeqNotOlderThan, planByteTrim } from './limits.js';

describe('planByteTrim', () => {
  it('drops nothing within the limit', () => {
    expect(planByteTrim({ messages: 10, bytes: 1_000 }, { messages: 1, bytes: 100 }, 1_100)).toEqual({ telemetry: 0, results: 0 });
  });
  it('drops the oldest telemetry, by its average size, before any result', () => {
    expect(planByteTrim({ messages: 10, bytes: 1_000 }, { messages: 5, bytes: 500 }, 1_250)).toEqual({ telemetry: 3, results: 0 });
  });
  it('drops results only once all telemetry goes', () => {
    expect(planByteTrim({ messages: 10, bytes: 1_000 }, { messages: 5, bytes: 500 }, 300)).toEqual({ telemetry: 10, results: 2 });
    expect(planByteTrim({ messages: 0, bytes: 0 }, { messages: 5, bytes: 500 }, 300)).toEqual({ telemetry: 0, results: 2 });
  });
});

describe('firstSeqNotOlderThan', () => {
  // seq -> time; 4 and 7 are gone (forwarded or purged)
  const times = new Map([[3, 100], [5, 200], [6, 300], [8, 400], [9, 500]]);
  const nextAt = async (seq: number) => {
    for (let s = seq; s <= 9; s++) if (times.has(s)) return { seq: s, timeMs: times.get(s)! };
    return null;
  };
  const range = { first_seq: 3, last_seq: 9 };
  it('finds the first message at or after the cutoff across gaps', async () => {
    expect(await firstSeqNotOlderThan(range, 50, nextAt)).toBe(3);
    expect(await firstSeqNotOlderThan(range, 150, nextAt)).toBe(4);
    expect(await firstSeqNotOlderThan(range, 300, nextAt)).toBe(6);
    expect(await firstSeqNotOlderThan(range, 350, nextAt)).toBe(7);
    expect(await firstSeqNotOlderThan(range, 1_000, nextAt)).toBe(10);
  });
});

describe('drop tracker', () => {
  it('counts sequences skipped between forwarded batches, and the gone head before it is read', () => {
    const d = createDropTracker(10);
    expect(d.settle([11, 12, 13])).toBe(0);
    // 14..19 discarded by limits while the link was down
    expect(d.pending({ messages: 5, first_seq: 20, last_seq: 24 })).toBe(6);
    expect(d.settle([20, 21, 23])).toBe(7); // 22 purged inside the batch too
    expect(d.counted).toBe(7);
    expect(d.pending({ messages: 1, first_seq: 24, last_seq: 24 })).toBe(0);
    // everything aged out: an empty stream reports first_seq = last_seq + 1
    expect(d.pending({ messages: 0, first_seq: 31, last_seq: 30 })).toBe(7);
    // a redelivered, already settled sequence counts nothing
    expect(d.settle([21])).toBe(0);
  });
});
