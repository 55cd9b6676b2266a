import { describe, expect, it } from 'vitest';
import type { Heartbeat } from '@uplink/contracts';
import { isInvalidMessage } from '@uplink/bus';
import { imagesReport } from './images.js';
import { DAY_MS, daysToPrepare, partitionDay, partitionName, partitionsToDrop, retentionStart } from './partitions.js';
import { latestPerSatellite, messageIdOf, toRecord } from './records.js';
import { liveness, satelliteStatus } from './status.js';
import { copyText } from './store.js';

const rules = { staleAfterIntervals: 3, offlineAfterMs: 600_000 };
const d = (c: string) => 'sha256:' + c.repeat(64);

function heartbeat(satellite: string, at: string, extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    satellite, at, seq: 1, bootId: 'b', intervalSeconds: 30, uptimeSeconds: 1, cpuPercent: 1,
    memory: { usedBytes: 1, totalBytes: 2 }, disk: { usedBytes: 1, freeBytes: 1 }, versions: { satellite: '1.0.0' },
    applied: null, inventory: { hash: 'h' }, sync: { status: 'idle', ready: 0, total: 0, failed: 0, lastSyncAt: null },
    link: { connected: true, lastContactAt: null }, outbox: { messages: 0, bytes: 0, dropped: 0 }, ...extra,
  };
}

describe('status rules', () => {
  it('is online within 3 intervals, stale after, offline after the offline limit', () => {
    const now = 1_000_000_000;
    expect(liveness(now - 89_000, 30, now, rules)).toBe('online');
    expect(liveness(now - 91_000, 30, now, rules)).toBe('stale');
    expect(liveness(now - 601_000, 30, now, rules)).toBe('offline');
    // a long interval: offline comes before stale would
    expect(liveness(now - 700_000, 300, now, rules)).toBe('offline');
  });

  it('says revoked before anything, pending before the first heartbeat', () => {
    expect(satelliteStatus({ revoked: true, last: { atMs: 0, intervalSeconds: 30 } }, 0, rules)).toBe('revoked');
    expect(satelliteStatus({ revoked: false, last: undefined }, 0, rules)).toBe('pending');
  });
});

describe('partitions', () => {
  it('names UTC days and reads them back', () => {
    const day = Date.UTC(2026, 0, 31);
    expect(partitionName(day + 5_000)).toBe('telemetry_p20260131');
    expect(partitionDay('telemetry_p20260131')).toBe(day);
    expect(partitionDay('telemetry_p20260231')).toBeUndefined();
    expect(partitionDay('telemetry')).toBeUndefined();
  });

  it('prepares yesterday to days ahead and drops only whole days past the retention', () => {
    const now = Date.UTC(2026, 0, 31, 12);
    expect(daysToPrepare(now, 2).map(partitionName)).toEqual(['telemetry_p20260130', 'telemetry_p20260131', 'telemetry_p20260201', 'telemetry_p20260202']);
    expect(retentionStart(now, 30)).toBe(Date.UTC(2026, 0, 1));
    expect(partitionsToDrop(['telemetry_p20251231', 'telemetry_p20260101', 'other', 'telemetry_p20251230'], now, 30)).toEqual([
      'telemetry_p20251230',
      'telemetry_p20251231',
    ]);
    expect(DAY_MS).toBe(86_400_000);
  });
});

describe('records', () => {
  const opts = { nowMs: Date.parse('2026-01-31T12:00:00Z'), maxClockSkewMs: 3_600_000 };

  it('keys a message by its outbox id, else by a hash stable across re-forwarding', () => {
    const hb = heartbeat('edge-01', '2026-01-31T11:00:00Z');
    const raw = JSON.stringify(hb);
    expect(toRecord('uplink.telemetry.edge-01.heartbeat', hb, raw, 'm-1', opts)).toMatchObject({ satellite: 'edge-01', kind: 'heartbeat', msgId: 'm-1', raw });
    const a = messageIdOf(undefined, 'uplink.telemetry.edge-01.heartbeat', raw);
    expect(a).toBe(messageIdOf(undefined, 'uplink.telemetry.edge-01.heartbeat', JSON.stringify({ ...hb })));
    expect(a).not.toBe(messageIdOf(undefined, 'uplink.telemetry.edge-01.heartbeat', JSON.stringify({ ...hb, seq: 2 })));
  });

  it('refuses a body of another satellite and a time far in the future, as invalid', () => {
    const wrongSite = () => toRecord('uplink.telemetry.edge-02.heartbeat', heartbeat('edge-01', '2026-01-31T11:00:00Z'), '{}', 'm', opts);
    expect(wrongSite).toThrow(/names satellite "edge-01"/);
    try {
      toRecord('uplink.telemetry.edge-01.heartbeat', heartbeat('edge-01', '2026-02-02T00:00:00Z'), '{}', 'm', opts);
      expect.unreachable();
    } catch (err) {
      expect(isInvalidMessage(err)).toBe(true);
      expect((err as Error).message).toMatch(/in the future/);
    }
    // a day JavaScript rolls over into the next month
    expect(() => toRecord('uplink.telemetry.edge-01.heartbeat', heartbeat('edge-01', '2026-01-30T11:00:00Z'.replace('01-30', '02-30')), '{}', 'm', { ...opts, nowMs: Date.parse('2026-03-02T12:00:00Z') })).toThrow(/not a valid time/);
  });

  it('keeps the newest heartbeat per site and the newest full inventory, sorted by site', () => {
    const img = (c: string) => [{ repository: 'app/web', digest: d(c), sizeBytes: 1 }];
    const rx = (heartbeat: Heartbeat, receivedAtMs = Infinity) => ({ heartbeat, raw: JSON.stringify(heartbeat), msgId: heartbeat.at, receivedAtMs });
    const latest = latestPerSatellite([
      rx(heartbeat('b', '2026-01-31T11:00:02Z', { inventory: { hash: 'x', images: img('a') } })),
      rx(heartbeat('b', '2026-01-31T11:00:03Z')),
      rx(heartbeat('a', '2026-01-31T11:00:01Z', { intervalSeconds: 5 })),
      rx(heartbeat('b', '2026-01-31T11:00:01Z', { inventory: { hash: 'y', images: img('b') } })),
      // dated in the future by the site's clock: counts as received
      rx(heartbeat('c', '2026-01-31T12:30:00Z'), opts.nowMs),
      // the same millisecond: seq decides
      rx(heartbeat('a', '2026-01-31T11:00:01Z', { intervalSeconds: 7, seq: 2 })),
      rx(heartbeat('a', '2026-01-31T11:00:01Z', { intervalSeconds: 9, seq: 0 })),
    ]);
    expect(latest.map((l) => l.satellite)).toEqual(['a', 'b', 'c']);
    expect(latest[0]!.intervalSeconds).toBe(7);
    expect(latest[1]!.heartbeat.at).toBe('2026-01-31T11:00:03Z');
    expect(latest[1]!.msgId).toBe('2026-01-31T11:00:03Z');
    expect(latest[1]!.inventory?.images[0]?.digest).toBe(d('a'));
    expect(latest[2]!.atMs).toBe(opts.nowMs);
  });
});

describe('COPY text', () => {
  it('escapes what the text format treats specially and writes null as \\N', () => {
    expect(copyText('{"a":"x\\"y\\\\z"}')).toBe('{"a":"x\\\\"y\\\\\\\\z"}');
    expect(copyText('a\tb\nc\rd')).toBe('a\\tb\\nc\\rd');
    expect(copyText(null)).toBe('\\N');
    expect(copyText(12)).toBe('12');
  });
});

describe('images report', () => {
  it('lists holders of each image and what each site misses', () => {
    const view = imagesReport(
      [
        { name: 'edge-02', inventory: [{ repository: 'app/web', digest: d('a'), tag: '1.0' }], desired: [{ repository: 'app/web', digest: d('a') }, { repository: 'app/db', digest: d('b') }] },
        { name: 'edge-01', inventory: null, desired: [{ repository: 'app/web', digest: d('a'), tag: '1.0' }] },
        { name: 'edge-03', inventory: [{ repository: 'app/old', digest: d('c') }], desired: [] },
      ],
      0,
    );
    expect(view.images).toEqual([
      { repository: 'app/db', digest: d('b'), tags: [], sites: [], desiredBy: ['edge-02'], missingAt: ['edge-02'] },
      { repository: 'app/old', digest: d('c'), tags: [], sites: ['edge-03'], desiredBy: [], missingAt: [] },
      { repository: 'app/web', digest: d('a'), tags: ['1.0'], sites: ['edge-02'], desiredBy: ['edge-01', 'edge-02'], missingAt: ['edge-01'] },
    ]);
    expect(view.sites).toEqual([
      { name: 'edge-01', inventoryKnown: false, images: 0, missing: [{ repository: 'app/web', digest: d('a'), tag: '1.0' }] },
      { name: 'edge-02', inventoryKnown: true, images: 1, missing: [{ repository: 'app/db', digest: d('b') }] },
      { name: 'edge-03', inventoryKnown: true, images: 1, missing: [] },
    ]);
  });
});
