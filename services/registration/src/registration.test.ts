import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RegistrationEnv, StatePublisherEnv, loadEnv, rpcMethods, rpcSubject, subjects, type RpcMethod, type RpcReply, type RpcService } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startStatePublisher, type StatePublisherHandle } from '@uplink/state-publisher';
import { createPgSchema, startHub, waitFor, type Hub, type PgSchema } from '@uplink/testkit';
import { startRegistration, type RegistrationHandle } from './start.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const logger = createLogger({ service: 'registration-test', level: 'silent' });
const joinToken = { joinToken: expect.stringMatching(/^ujt_[\w-]{12}_[\w-]{32}$/), joinTokenExpiresAt: expect.any(String) };

let hub: Hub;
let schema: PgSchema;
let registration: RegistrationHandle;
let statePublisher: StatePublisherHandle | undefined;
let client: ClientProxy;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  [hub, schema] = await Promise.all([startHub(), createPgSchema('reg')]);
  registration = await startRegistration(loadEnv(RegistrationEnv, { NATS_URL: hub.url, DATABASE_URL: schema.url, LOG_LEVEL: 'silent' }), {
    logger,
    recomputeTimeoutMs: 500,
  });
  client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [hub.url] } });
  await client.connect();
  nc = await connect({ servers: hub.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await client?.close();
  await nc?.close();
  await registration?.close();
  await statePublisher?.close();
  await Promise.all([hub?.[Symbol.asyncDispose](), schema?.[Symbol.asyncDispose]()]);
});

async function rpc<S extends RpcService>(service: S, method: RpcMethod<S>, data: unknown): Promise<RpcReply<any>> {
  return firstValueFrom(client.send(rpcSubject(service, method), data));
}

async function ok<S extends RpcService>(service: S, method: RpcMethod<S>, data: unknown): Promise<any> {
  const r = await rpc(service, method, data);
  if (!r.ok) throw new Error(`${method} failed: ${r.error.code} ${r.error.message}`);
  return r.data;
}

async function revisionOnHub(sat: string): Promise<number | undefined> {
  const m = await jsm.direct.getMessage('STATE', { last_by_subj: subjects.state(sat) });
  return m ? (m.json() as { revision: number }).revision : undefined;
}

describe('registration', () => {
  it('creates satellites while the state-publisher is away; their state is published once it runs', async () => {
    const created = await ok('registration', 'createSatellite', { name: 'early-1' });
    expect(created).toEqual({ name: 'early-1', labels: {}, groups: [], status: 'pending', createdAt: expect.any(String), ...joinToken });
    statePublisher = await startStatePublisher(
      loadEnv(StatePublisherEnv, { NATS_URL: hub.url, DATABASE_URL: schema.url, LOG_LEVEL: 'silent', REPUBLISH_INTERVAL_S: '1' }),
      { logger },
    );
    await waitFor(async () => (await revisionOnHub('early-1')) === 1, { what: 'state of a satellite created while the state-publisher was away' });
  });

  it('creates a satellite with its groups in one step and has its desired state published', async () => {
    await ok('state', 'putGroup', { name: 'g1', body: { registry: 'http://127.0.0.1:5000', artifacts: [{ repository: 'library/alpine', digest: d('a') }] } });
    await ok('state', 'putGroup', { name: 'g2', body: { registry: 'http://127.0.0.1:5000', artifacts: [] } });
    const created = await ok('registration', 'createSatellite', { name: 'edge-01', labels: { site: 'lyon' }, groups: ['g2', 'g1', 'g1'] });
    expect(created).toEqual({ name: 'edge-01', labels: { site: 'lyon' }, groups: ['g1', 'g2'], status: 'pending', createdAt: expect.any(String), ...joinToken });
    // the recompute is answered before createSatellite replies
    const view = await ok('state', 'getState', { satellite: 'edge-01' });
    expect(view.desired.revision).toBe(1);
    expect(view.desired.artifacts.map((a: { repository: string }) => a.repository)).toEqual(['library/alpine']);
    await waitFor(async () => (await revisionOnHub('edge-01')) === 1, { what: 'edge-01 on STATE' });
    const { joinToken: _t, joinTokenExpiresAt: _e, ...satellite } = created;
    expect(await ok('registration', 'getSatellite', { name: 'edge-01' })).toEqual(satellite);
  });

  it('refuses a taken name or an unknown group, leaving nothing half-written', async () => {
    await ok('registration', 'createSatellite', { name: 'taken', labels: { a: '1' } });
    expect(await rpc('registration', 'createSatellite', { name: 'taken', labels: { a: '2' } })).toMatchObject({
      ok: false,
      error: { code: 'ALREADY_EXISTS' },
    });
    expect((await ok('registration', 'getSatellite', { name: 'taken' })).labels).toEqual({ a: '1' });

    const unknown = await rpc('registration', 'createSatellite', { name: 'half', groups: ['g1', 'nope'] });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'GROUP_NOT_FOUND', details: { groups: ['nope'] } } });
    expect(await rpc('registration', 'getSatellite', { name: 'half' })).toMatchObject({ ok: false, error: { code: 'SATELLITE_NOT_FOUND' } });
    const assigned = await registration.pool.query("SELECT count(*)::int AS n FROM group_satellites WHERE satellite = 'half'");
    expect(assigned.rows[0].n).toBe(0);
  });

  it('lists satellites, all or by group', async () => {
    await ok('registration', 'createSatellite', { name: 'list-1', groups: ['g2'] });
    const all = await ok('registration', 'listSatellites', {});
    expect(all.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['early-1', 'edge-01', 'list-1', 'taken']));
    expect(all.map((s: { name: string }) => s.name)).toEqual([...all.map((s: { name: string }) => s.name)].sort());
    const inG2 = await ok('registration', 'listSatellites', { group: 'g2' });
    expect(inG2.map((s: { name: string }) => s.name)).toEqual(['edge-01', 'list-1']);
    expect(await rpc('registration', 'listSatellites', { group: 'nope' })).toMatchObject({ ok: false, error: { code: 'GROUP_NOT_FOUND' } });
  });

  it('revokes a satellite, then deletes it and purges its desired state from the hub', async () => {
    await ok('registration', 'createSatellite', { name: 'doomed', groups: ['g1'] });
    await waitFor(async () => (await revisionOnHub('doomed')) === 1, { what: 'doomed on STATE' });
    expect(await ok('registration', 'deleteSatellite', { name: 'doomed' })).toEqual({ name: 'doomed', revoked: true });
    expect(await ok('registration', 'getSatellite', { name: 'doomed' })).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
    expect(await rpc('ztr', 'issueJoinToken', { name: 'doomed' })).toMatchObject({ ok: false, error: { code: 'SATELLITE_REVOKED' } });
    expect(await ok('registration', 'deleteSatellite', { name: 'doomed' })).toEqual({ name: 'doomed', deleted: true });
    await waitFor(async () => (await revisionOnHub('doomed')) === undefined, { what: 'doomed purged from STATE' });
    expect(await rpc('registration', 'getSatellite', { name: 'doomed' })).toMatchObject({ ok: false, error: { code: 'SATELLITE_NOT_FOUND' } });
    expect(await rpc('registration', 'deleteSatellite', { name: 'doomed' })).toMatchObject({ ok: false, error: { code: 'SATELLITE_NOT_FOUND' } });
    expect((await ok('state', 'getGroup', { name: 'g1' })).satellites).not.toContain('doomed');
  });

  it('answers invalid requests with VALIDATION_FAILED and writes nothing', async () => {
    const bad: Record<RpcMethod<'registration'>, unknown> = {
      createSatellite: { name: 'Has.Dots' },
      listSatellites: { group: 'UPPER' },
      getSatellite: {},
      deleteSatellite: { name: 42 },
    };
    expect(Object.keys(bad).sort()).toEqual(Object.keys(rpcMethods.registration).sort());
    const before = await registration.pool.query('SELECT count(*)::int AS n FROM satellites');
    for (const [method, body] of Object.entries(bad)) {
      expect(await rpc('registration', method as RpcMethod<'registration'>, body), method).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    }
    expect(await rpc('registration', 'createSatellite', { name: 'ok-name', labels: { 'Bad Key': 'x' } })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED' },
    });
    expect(await rpc('registration', 'createSatellite', { name: 'ok-name', extra: true })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    const after = await registration.pool.query('SELECT count(*)::int AS n FROM satellites');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });
});
