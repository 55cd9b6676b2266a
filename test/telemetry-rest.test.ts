// Fleet health over REST: heartbeats forwarded to the hub come back as site status, fleet summary,
// stored telemetry and the image report, served by telemetry-ingest through the gateway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetView, ImagesView, SatelliteStatusView, TelemetryPage } from '@uplink/contracts';
import { waitFor } from '@uplink/testkit';
import { heartbeat, startTelemetrySystem, syncEvent, type TelemetrySystem } from './telemetry-support.js';

const digest = (c: string) => 'sha256:' + c.repeat(64);
let sys: TelemetrySystem;

beforeAll(async () => {
  sys = await startTelemetrySystem();
});
afterAll(async () => {
  await sys?.[Symbol.asyncDispose]();
});

describe('fleet health over REST', () => {
  it('shows a site online with its latest heartbeat once heartbeats arrive', async () => {
    await sys.register('rest-01');
    const before = await sys.get<SatelliteStatusView>('/v1/satellites/rest-01/status');
    expect(before).toEqual({ status: 200, body: { name: 'rest-01', status: 'pending', lastHeartbeatAt: null, heartbeat: null } });
    for (let seq = 1; seq <= 3; seq++) await sys.forward('heartbeat', heartbeat('rest-01', seq), `rest-01:${seq}`);
    const online = await waitFor(async () => {
      const r = await sys.get<SatelliteStatusView>('/v1/satellites/rest-01/status');
      return r.body.heartbeat?.seq === 3 ? r : undefined;
    }, { what: 'status with heartbeat 3' });
    expect(online.body.status).toBe('online');
    expect(Date.parse(online.body.lastHeartbeatAt!)).toBeLessThanOrEqual(Date.now());

    expect(await sys.get('/v1/satellites/nowhere/status')).toMatchObject({ status: 404, body: { error: { code: 'SATELLITE_NOT_FOUND' } } });
    expect(await sys.get('/v1/satellites/Bad.Name/status')).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
  });

  it('answers stored telemetry of a site in a time range, oldest first, by kind, bounded', async () => {
    await sys.register('rest-02');
    const from = new Date(Date.now() - 1_000).toISOString();
    for (let seq = 1; seq <= 5; seq++) await sys.forward('heartbeat', heartbeat('rest-02', seq), `rest-02:hb:${seq}`);
    await sys.forward('sync', syncEvent('rest-02', 1), 'rest-02:sync:1');
    await sys.stored('rest-02', 6);
    const all = await sys.get<TelemetryPage>(`/v1/telemetry/rest-02?from=${encodeURIComponent(from)}`);
    expect(all.status).toBe(200);
    expect(all.body.items.map((i) => i.msgId)).toEqual(['rest-02:hb:1', 'rest-02:hb:2', 'rest-02:hb:3', 'rest-02:hb:4', 'rest-02:hb:5', 'rest-02:sync:1']);
    expect(all.body.truncated).toBe(false);
    const sync = await sys.get<TelemetryPage>('/v1/telemetry/rest-02?kind=sync');
    expect(sync.body.items).toMatchObject([{ kind: 'sync', body: { event: 'sync.started', revision: 1 } }]);
    const two = await sys.get<TelemetryPage>('/v1/telemetry/rest-02?kind=heartbeat&limit=2');
    expect(two.body.items.map((i) => (i.body as { seq: number }).seq)).toEqual([1, 2]);
    expect(two.body.truncated).toBe(true);
    const past = await sys.get<TelemetryPage>('/v1/telemetry/rest-02?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z');
    expect(past.body.items).toEqual([]);

    for (const bad of ['from=yesterday', 'limit=5000', 'limit=0', 'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'satellite=x']) {
      const r = await sys.get<{ error: { code: string; message: string } }>(`/v1/telemetry/rest-02?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await sys.get('/v1/telemetry/nowhere')).status).toBe(404);
  });

  it('sums up the fleet by status, sync health and versions', async () => {
    await sys.register('fleet-a', 'fleet-b', 'fleet-c', 'fleet-d');
    await sys.db.query(`UPDATE satellites SET revoked_at = now() WHERE name = 'fleet-d'`);
    await sys.db.query(
      `INSERT INTO satellite_states (satellite, revision, digest, document) VALUES ('fleet-a', 2, $1, '{}'), ('fleet-b', 2, $1, '{}')`,
      [digest('e')],
    );
    const synced = { status: 'synced' as const, ready: 1, total: 1, failed: 0, lastSyncAt: new Date().toISOString() };
    await sys.forward('heartbeat', heartbeat('fleet-a', 1, { applied: { revision: 2, digest: digest('e') }, sync: synced, versions: { satellite: '0.2.0' } }), 'fa:1');
    await sys.forward('heartbeat', heartbeat('fleet-b', 1, { applied: { revision: 1, digest: digest('f') }, sync: { ...synced, status: 'syncing' }, versions: { satellite: '0.1.0' } }), 'fb:1');
    await sys.stored('fleet-a', 1);
    await sys.stored('fleet-b', 1);
    const fleet = await waitFor(async () => {
      const r = await sys.get<FleetView>('/v1/fleet');
      return r.body.versions.satellite?.['0.2.0'] === 1 ? r : undefined;
    }, { what: 'fleet with fleet-a' });
    expect(fleet.status).toBe(200);
    // other tests of this file add their sites too: compare what these four contribute
    const v = fleet.body;
    expect(v.byStatus.revoked).toBe(1);
    expect(v.byStatus.pending).toBeGreaterThanOrEqual(1);
    expect(v.byStatus.online).toBeGreaterThanOrEqual(2);
    expect(v.total).toBe(v.byStatus.pending + v.byStatus.online + v.byStatus.stale + v.byStatus.offline + v.byStatus.revoked);
    expect(v.sync.converged).toBe(1);
    expect(v.sync.behind).toBe(1);
    expect(v.sync.byStatus.synced).toBe(1);
    expect(v.sync.byStatus.syncing).toBe(1);
    expect(v.versions.satellite?.['0.1.0']).toBeGreaterThanOrEqual(1);
  });

  it('reports which sites hold which images and what each is missing', async () => {
    await sys.register('img-a', 'img-b');
    const doc = (artifacts: unknown[]) => JSON.stringify({ artifacts });
    await sys.db.query(
      `INSERT INTO satellite_states (satellite, revision, digest, document) VALUES ('img-a', 1, $1, $2), ('img-b', 1, $1, $3)`,
      [
        digest('1'),
        doc([{ registry: 'up', repository: 'app/web', tag: '1.0', digest: digest('a') }, { registry: 'up', repository: 'app/db', digest: digest('b') }]),
        doc([{ registry: 'up', repository: 'app/web', tag: '1.0', digest: digest('a') }]),
      ],
    );
    const images = [{ repository: 'app/web', tag: '1.0', digest: digest('a'), sizeBytes: 10 }];
    await sys.forward('heartbeat', heartbeat('img-a', 1, { inventory: { hash: 'h1', images } }), 'ia:1');
    // a later heartbeat without the list (unchanged inventory) keeps the known one
    await sys.forward('heartbeat', heartbeat('img-a', 2, { inventory: { hash: 'h1' } }), 'ia:2');
    await sys.stored('img-a', 2);
    const r = await waitFor(async () => {
      const res = await sys.get<ImagesView>('/v1/images');
      return res.body.sites.find((s) => s.name === 'img-a')?.inventoryKnown ? res : undefined;
    }, { what: 'img-a inventory known' });
    const web = r.body.images.find((i) => i.repository === 'app/web');
    expect(web).toMatchObject({ digest: digest('a'), tags: ['1.0'], sites: ['img-a'], desiredBy: ['img-a', 'img-b'], missingAt: ['img-b'] });
    expect(r.body.images.find((i) => i.repository === 'app/db')).toMatchObject({ sites: [], desiredBy: ['img-a'], missingAt: ['img-a'] });
    expect(r.body.sites.find((s) => s.name === 'img-a')).toEqual({
      name: 'img-a',
      inventoryKnown: true,
      images: 1,
      missing: [{ repository: 'app/db', digest: digest('b') }],
    });
    expect(r.body.sites.find((s) => s.name === 'img-b')).toMatchObject({ inventoryKnown: false, missing: [{ repository: 'app/web', digest: digest('a'), tag: '1.0' }] });
  });

  it('answers 503 naming telemetry-ingest when it is not running', async () => {
    await sys.ingest.close();
    const r = await sys.get<{ error: { code: string; message: string } }>('/v1/fleet');
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/telemetry/);
  });
});
