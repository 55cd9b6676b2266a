import { describe, expect, it } from 'vitest';
import { ago } from './sat-status.js';
import { parseSince, parseSse, summarize } from './telemetry.js';

describe('uplink telemetry', () => {
  it('reads times as ISO or how long ago', () => {
    expect(parseSince('30m', '--from', 3_600_000)).toBe(new Date(1_800_000).toISOString());
    expect(parseSince('2026-01-02T03:04:05+01:00', '--to')).toBe('2026-01-02T02:04:05.000Z');
    expect(() => parseSince('yesterday', '--from')).toThrow(/--from "yesterday": give an ISO time/);
  });

  it('splits an SSE stream into events across chunk boundaries, skipping comments', () => {
    const state = { buf: '' };
    expect(parseSse(state, ': keepalive\n\nid: 7\nevent: heart')).toEqual([]);
    expect(parseSse(state, 'beat\ndata: {"a":1}\n\nid: 8\r\ndata: x\r\n\r\n')).toEqual([
      { id: '7', event: 'heartbeat', data: '{"a":1}' },
      { id: '8', data: 'x' },
    ]);
  });

  it('sums up heartbeats and sync events on one line', () => {
    const line = summarize('heartbeat', {
      seq: 4, cpuPercent: 12.4, memory: { usedBytes: 512 * 1024 ** 2, totalBytes: 4 * 1024 ** 3 }, disk: { usedBytes: 0, freeBytes: 10 * 1024 ** 3 },
      applied: { revision: 3 }, sync: { status: 'synced', ready: 2, total: 2, failed: 0 }, link: { connected: false }, outbox: { messages: 9, dropped: 1 },
    });
    expect(line).toBe('seq=4 cpu=12% mem=512MiB/4.0GiB disk-free=10GiB applied=3 sync=synced 2/2 link=down outbox=9 dropped=1');
    expect(summarize('sync', { event: 'artifact.failed', revision: 2, artifact: { repository: 'app/web', digest: 'sha256:' + 'a'.repeat(64) }, error: 'boom' }))
      .toBe(`artifact.failed revision=2 app/web@sha256:${'a'.repeat(12)} error="boom"`);
    expect(ago(new Date(0).toISOString(), 90_000)).toBe('90s ago');
    expect(ago(new Date(0).toISOString(), 3 * 3_600_000)).toBe('3h ago');
  });
});
