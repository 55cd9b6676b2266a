import { describe, expect, it } from 'vitest';
import { sseFrame, startSequence, streamFilter, toStreamEvent } from './stream-events.js';

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const sync = { satellite: 'edge-01', at: '2026-01-01T00:00:00Z', event: 'sync.started', revision: 1 };

describe('telemetry feed events', () => {
  it('filters on one satellite and/or kind', () => {
    expect(streamFilter({})).toBe('uplink.telemetry.*.*');
    expect(streamFilter({ satellite: 'edge-01', kind: 'sync' })).toBe('uplink.telemetry.edge-01.sync');
  });

  it('resumes after the last event id, else starts after the stream end', () => {
    expect(startSequence('41', 100)).toBe(42);
    expect(startSequence(undefined, 100)).toBe(101);
    expect(startSequence('not-a-number', 100)).toBe(101);
  });

  it('sends only telemetry valid under the schema its header names', () => {
    const ok = toStreamEvent({ subject: 'uplink.telemetry.edge-01.sync', seq: 7, schema: 'sync-event/1', data: enc(sync) });
    expect(ok).toEqual({ seq: 7, satellite: 'edge-01', kind: 'sync', body: sync });
    expect(sseFrame(ok!)).toBe(`id: 7\nevent: sync\ndata: ${JSON.stringify(ok)}\n\n`);
    expect(toStreamEvent({ subject: 'uplink.telemetry.edge-01.sync', seq: 8, schema: 'sync-event/1', data: enc({ satellite: 'edge-01' }) })).toBeUndefined();
    expect(toStreamEvent({ subject: 'uplink.telemetry.edge-01.sync', seq: 9, schema: undefined, data: enc(sync) })).toBeUndefined();
    expect(toStreamEvent({ subject: 'uplink.telemetry.edge-01.sync', seq: 9, schema: 'nope/1', data: enc(sync) })).toBeUndefined();
  });
});
