// Zero-touch registration over RPC against a hub in operator mode: join tokens are single use and
// expire, unknown ones create nothing, renewal needs the device key, a revoked site cannot renew.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { credsAuthenticator } from '@nats-io/transport-node';
import { RegistrationEnv, loadEnv, renewPayload, rpcSubject, type RpcMethod, type RpcReply, type RpcService } from '@uplink/contracts';
import { createNKey, createOperatorSetup, describeJwt, registrationNatsEnv, signWithSeed, type OperatorSetup } from '@uplink/nats-auth';
import { createLogger } from '@uplink/observability';
import { createPgSchema, startFakeHarbor, startHub, tempDir, type FakeHarbor, type Hub, type PgSchema, type TempDir } from '@uplink/testkit';
import { startRegistration, type RegistrationHandle } from '../start.js';

const logger = createLogger({ service: 'ztr-test', level: 'silent' });

let setup: OperatorSetup;
let hub: Hub;
let dir: TempDir;
let schema: PgSchema;
let registration: RegistrationHandle;
let client: ClientProxy;
let harbor: FakeHarbor;

beforeAll(async () => {
  setup = await createOperatorSetup();
  [hub, dir, schema] = await Promise.all([
    startHub({
      operator: {
        jwt: setup.operator.jwt,
        systemAccount: setup.system.publicKey,
        preload: { [setup.system.publicKey]: setup.system.jwt, [setup.app.publicKey]: setup.app.jwt },
      },
    }),
    tempDir('ztr-test-'),
    createPgSchema('ztr'),
  ]);
  harbor = await startFakeHarbor();
  const appCreds = join(dir.path, 'services.creds');
  const sysCreds = join(dir.path, 'sys.creds');
  await writeFile(appCreds, setup.app.servicesCreds, { mode: 0o600 });
  await writeFile(sysCreds, setup.system.userCreds, { mode: 0o600 });
  registration = await startRegistration(
    loadEnv(RegistrationEnv, {
      NATS_URL: hub.url,
      NATS_CREDS: appCreds,
      DATABASE_URL: schema.url,
      LOG_LEVEL: 'silent',
      REDIS_KEY_PREFIX: `ztr-test-${process.pid}-${Date.now()}:`,
      ...registrationNatsEnv(setup, { systemCredsFile: sysCreds, hubLeafUrl: hub.leafUrl }),
      SITE_JWT_TTL_S: '600',
      ZTR_IP_LIMIT: '5',
      SITE_REGISTRY_CREDENTIALS: '{"registry.example.com": {"username": "robot", "password": "pw"}}',
      HARBOR_URL: harbor.url,
      HARBOR_USERNAME: harbor.username,
      HARBOR_PASSWORD: harbor.password,
      HARBOR_PROJECTS: 'edge',
    }),
    { logger, recomputeTimeoutMs: 200 },
  );
  client = ClientProxyFactory.create({
    transport: Transport.NATS,
    options: { servers: [hub.url], authenticator: credsAuthenticator(new TextEncoder().encode(setup.app.servicesCreds)) },
  });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await registration?.close();
  await Promise.all([hub?.[Symbol.asyncDispose](), schema?.[Symbol.asyncDispose](), dir?.[Symbol.asyncDispose](), harbor?.close()]);
});

let ipCounter = 0;
const freshIp = () => `198.51.100.${++ipCounter}`;

async function rpc<S extends RpcService>(service: S, method: RpcMethod<S>, data: unknown): Promise<RpcReply<any>> {
  return firstValueFrom(client.send(rpcSubject(service, method), data));
}
async function ok<S extends RpcService>(service: S, method: RpcMethod<S>, data: unknown): Promise<any> {
  const r = await rpc(service, method, data);
  if (!r.ok) throw new Error(`${method} failed: ${r.error.code} ${r.error.message}`);
  return r.data;
}
const register = (token: string, publicKey: string) => rpc('ztr', 'register', { token, publicKey, fingerprint: 'test-box', ip: freshIp() });

async function renew(satellite: string, key: { publicKey: string; seed: string }, opts: { signer?: string; at?: Date } = {}) {
  const timestamp = (opts.at ?? new Date()).toISOString();
  const signature = signWithSeed(opts.signer ?? key.seed, renewPayload(satellite, key.publicKey, timestamp));
  return rpc('ztr', 'renew', { satellite, publicKey: key.publicKey, timestamp, signature, ip: freshIp() });
}

async function siteRow(name: string) {
  const { rows } = await registration.pool.query(
    'SELECT device_key AS "deviceKey", account_key AS "accountKey", registered_at AS "registeredAt" FROM satellites WHERE name = $1',
    [name],
  );
  return rows[0];
}

describe('zero-touch registration', () => {
  it('registers a device with a one-time token and mints a short-lived JWT for its own key', async () => {
    const created = await ok('registration', 'createSatellite', { name: 'ztr-01' });
    const device = createNKey('user');
    const r = await register(created.joinToken, device.publicKey);
    expect(r).toMatchObject({
      ok: true,
      data: {
        satellite: 'ztr-01',
        hub: { leafUrl: hub.leafUrl, domain: 'hub' },
        registryCredentials: {
          'registry.example.com': { username: 'robot', password: 'pw' },
          // a pull-only Harbor robot of its own, created for this registration
          [new URL(harbor.url).host]: { username: 'robot$uplink-ztr-01', password: expect.any(String) },
        },
      },
    });
    const robot = harbor.robots().find((x) => x.name === 'robot$uplink-ztr-01');
    expect(robot?.permissions).toEqual([{ kind: 'project', namespace: 'edge', access: [{ resource: 'repository', action: 'pull' }] }]);
    expect(r.ok && r.data.registryCredentials[new URL(harbor.url).host].password).toBe(robot?.secret);
    const jwt = describeJwt(r.ok ? r.data.jwt : '');
    expect(jwt.subject).toBe(device.publicKey);
    expect(jwt.issuerAccount).toBe(r.ok ? r.data.account : '');
    // exp is counted from when minting began, iat is stamped by the JWT library a moment later: the two
    // may straddle a second boundary
    expect(jwt.expiresAt! - jwt.issuedAt).toBeGreaterThanOrEqual(599);
    expect(jwt.expiresAt! - jwt.issuedAt).toBeLessThanOrEqual(600);
    expect(await ok('registration', 'getSatellite', { name: 'ztr-01' })).toMatchObject({ status: 'active', registeredAt: expect.any(String) });

    // the same token again, from the same device or another: refused, nothing changes
    const before = await siteRow('ztr-01');
    expect(await register(created.joinToken, device.publicKey)).toMatchObject({ ok: false, error: { code: 'JOIN_TOKEN_USED' } });
    expect(await register(created.joinToken, createNKey('user').publicKey)).toMatchObject({ ok: false, error: { code: 'JOIN_TOKEN_USED' } });
    expect(await siteRow('ztr-01')).toEqual(before);
  });

  it('refuses expired, unknown and tampered tokens and creates nothing', async () => {
    const created = await ok('registration', 'createSatellite', { name: 'ztr-02' });
    const device = createNKey('user');
    const [, id, secret] = /^ujt_(.{12})_(.{32})$/.exec(created.joinToken)!;
    const flipped = `ujt_${id}_${secret!.slice(0, -1)}${secret!.endsWith('A') ? 'B' : 'A'}`;
    expect(await register(flipped, device.publicKey)).toMatchObject({ ok: false, error: { code: 'JOIN_TOKEN_INVALID' } });
    expect(await register('ujt_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', device.publicKey)).toMatchObject({ ok: false, error: { code: 'JOIN_TOKEN_INVALID' } });
    expect(await register('not-a-token', device.publicKey)).toMatchObject({ ok: false, error: { code: 'JOIN_TOKEN_INVALID' } });
    await registration.pool.query(`UPDATE join_tokens SET expires_at = now() - interval '1 second' WHERE satellite = 'ztr-02'`);
    expect(await register(created.joinToken, device.publicKey)).toMatchObject({ ok: false, error: { code: 'JOIN_TOKEN_EXPIRED' } });
    expect(await siteRow('ztr-02')).toEqual({ deviceKey: null, accountKey: null, registeredAt: null });
    expect(harbor.robots().map((x) => x.name)).not.toContain('robot$uplink-ztr-02');
    expect(await ok('registration', 'getSatellite', { name: 'ztr-02' })).toMatchObject({ status: 'pending' });

    // a new token works, and voids the one before it
    const again = await ok('ztr', 'issueJoinToken', { name: 'ztr-02' });
    const third = await ok('ztr', 'issueJoinToken', { name: 'ztr-02' });
    expect(await register(again.joinToken, device.publicKey)).toMatchObject({ ok: false, error: { code: 'JOIN_TOKEN_INVALID' } });
    expect(await register(third.joinToken, device.publicKey)).toMatchObject({ ok: true });
  });

  it('renews only with a signature of the registered device key; a revoked site cannot renew', async () => {
    const created = await ok('registration', 'createSatellite', { name: 'ztr-03' });
    const device = createNKey('user');
    const first = await ok('ztr', 'register', { token: created.joinToken, publicKey: device.publicKey, fingerprint: 'x', ip: freshIp() });

    const renewed = await renew('ztr-03', device);
    expect(renewed).toMatchObject({ ok: true, data: { satellite: 'ztr-03', account: first.account } });
    expect(describeJwt(renewed.ok ? renewed.data.jwt : '').subject).toBe(device.publicKey);

    const other = createNKey('user');
    expect(await renew('ztr-03', device, { signer: other.seed })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await renew('ztr-03', other)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await renew('ztr-03', device, { at: new Date(Date.now() - 3_600_000) })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });

    expect(harbor.robots().map((x) => x.name)).toContain('robot$uplink-ztr-03');
    expect(await ok('registration', 'deleteSatellite', { name: 'ztr-03' })).toEqual({ name: 'ztr-03', revoked: true });
    expect(harbor.robots().map((x) => x.name)).not.toContain('robot$uplink-ztr-03');
    expect(await renew('ztr-03', device)).toMatchObject({ ok: false, error: { code: 'SATELLITE_REVOKED' } });
    expect(await ok('registration', 'getSatellite', { name: 'ztr-03' })).toMatchObject({ status: 'revoked' });
  });

  it('limits attempts per client address', async () => {
    const ip = '203.0.113.77';
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await rpc('ztr', 'register', { token: 'ujt_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', publicKey: createNKey('user').publicKey, fingerprint: 'x', ip });
      codes.push(r.ok ? 'ok' : r.error.code);
    }
    expect(codes).toEqual([...Array(5).fill('JOIN_TOKEN_INVALID'), 'TOO_MANY_ATTEMPTS']);
  });
});
