import { describe, expect, it } from 'vitest';
import type { FleetSatellitesPage } from '@uplink/contracts';
import { fetchAllPages } from '../pages.js';
import { fleetListQuery, fleetRow } from './sat.js';

describe('uplink sat list', () => {
  it('turns its flags into the fleet-list query, refusing what the gateway would', () => {
    expect(fleetListQuery({}).toString()).toBe('');
    expect(fleetListQuery({ limit: '25', status: 'stale', prefix: 'edge-' }).toString()).toBe('limit=25&status=stale&q=edge-');
    expect(() => fleetListQuery({ limit: '0' })).toThrow(/--limit: give a number of satellites from 1 to 1000/);
    expect(() => fleetListQuery({ limit: '1001' })).toThrow(/--limit/);
    expect(() => fleetListQuery({ limit: 'ten' })).toThrow(/--limit/);
    expect(() => fleetListQuery({ status: 'pending' })).toThrow(/--status: give one of online, stale, offline, unknown/);
    expect(() => fleetListQuery({ prefix: 'Edge' })).toThrow(/--prefix/);
  });

  it('shows a satellite on one line', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    const row = fleetRow(
      {
        name: 'edge-01', lifecycle: 'active', liveness: 'online', lastHeartbeatAt: '2026-01-01T00:00:50Z', syncStatus: 'synced',
        appliedRevision: 3, desiredRevision: 4, version: 'node v22.1.0', groups: ['a', 'b'],
      },
      now,
    );
    expect(row).toEqual({
      name: 'edge-01', liveness: 'online', lifecycle: 'active', heartbeat: '10s ago', 'applied/desired': 'r3/r4', sync: 'synced', version: 'node v22.1.0', groups: ['a', 'b'],
    });
    const never = fleetRow({ name: 'n', lifecycle: 'pending', liveness: 'unknown', lastHeartbeatAt: null, syncStatus: null, appliedRevision: null, desiredRevision: null, version: null, groups: [] }, now);
    expect(never).toMatchObject({ heartbeat: 'never', 'applied/desired': '-/-' });
  });

  it('fetches page after page until one has no nextCursor, and stops on a gateway that goes nowhere', async () => {
    const page = (names: string[], nextCursor?: string): FleetSatellitesPage => ({
      satellites: names.map((name) => ({ name, lifecycle: 'pending', liveness: 'unknown', lastHeartbeatAt: null, syncStatus: null, appliedRevision: null, desiredRevision: null, version: null, groups: [] })),
      ...(nextCursor ? { nextCursor } : {}),
    });
    const asked: (string | undefined)[] = [];
    const pages = await fetchAllPages(async (cursor) => {
      asked.push(cursor);
      return cursor === undefined ? page(['a'], 'c1') : cursor === 'c1' ? page(['b'], 'c2') : page(['c']);
    });
    expect(asked).toEqual([undefined, 'c1', 'c2']);
    expect(pages.flatMap((p) => p.satellites.map((s) => s.name))).toEqual(['a', 'b', 'c']);
    await expect(fetchAllPages(async () => page(['a'], 'same'), 'same')).rejects.toThrow(/same cursor twice/);
  });
});
