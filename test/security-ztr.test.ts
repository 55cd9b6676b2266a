// Zero-touch registration end to end in JWT mode: `uplink edge` registers with a one-time token, its
// leaf links with the minted credentials, the site applies its desired state and runs a signed
// command; refused tokens
// create nothing; credentials are renewed before expiry (the hub drops the old JWT at its exp, the
// leaf is back within seconds); a revoked site is dropped and cannot renew; a copied credentials file
// does not decrypt on another machine.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNKey } from '@uplink/nats-auth';
import { openCredentialStore, startEdge, type EdgeHandle, type MachineIdentity } from '@uplink/cli';
import { freePort, leafConnected, tempDir, waitFor, type TempDir } from '@uplink/testkit';
import { logger, startJwtSystem, type JwtSystem } from './support/jwt-system.js';

const JWT_TTL_S = 6;

let sys: JwtSystem;
let dir: TempDir;
const edges: EdgeHandle[] = [];

const machine = (id: string): (() => Promise<MachineIdentity>) => async () => ({ machineId: id, mac: '02:00:00:00:00:01', disk: 'uuid:test-disk' });

beforeAll(async () => {
  sys = await startJwtSystem({ siteJwtTtlS: JWT_TTL_S, withCommands: true });
  dir = await tempDir('uplink-ztr-e2e-');
}, 60_000);

afterAll(async () => {
  for (const e of edges) await e.close().catch(() => undefined);
  await sys?.[Symbol.asyncDispose]();
  await dir?.[Symbol.asyncDispose]();
});

async function edge(name: string, token: string | undefined, opts: { services?: boolean; identity?: string } = {}): Promise<EdgeHandle> {
  const e = await startEdge({
    logger: logger.child({ satellite: name }),
    dataDir: join(dir.path, name),
    runtimeDir: join(dir.path, 'run'),
    groundControl: sys.gateway,
    ...(token ? { token } : {}),
    identity: machine(opts.identity ?? 'machine-1'),
    ports: { leaf: await freePort(), leafMonitor: await freePort(), registry: 0, status: 0, forwarder: 0 },
    runtimeRoot: join(dir.path, name, 'root'),
    services: opts.services ?? false,
    retry: { initialMs: 100, maxMs: 500 },
    logLevel: 'silent',
    catchupIntervalS: 1,
  });
  edges.push(e);
  return e;
}

async function deviceColumns(name: string) {
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: sys.pg.url });
  await c.connect();
  try {
    const { rows } = await c.query('SELECT device_key, account_key, registered_at FROM satellites WHERE name = $1', [name]);
    return rows[0];
  } finally {
    await c.end();
  }
}

describe('zero-touch registration, end to end', () => {
  it('registers with a join token, links its leaf with the minted credentials, applies its desired state and runs a command', async () => {
    const created = await sys.api('POST', '/v1/satellites', { name: 'ztr-site' });
    expect(created.status).toBe(201);
    expect(created.body.joinToken).toMatch(/^ujt_/);
    const e = await edge('ztr-site', created.body.joinToken, { services: true });
    expect(e.credentials()).toMatchObject({ satellite: 'ztr-site', hub: { leafUrl: sys.hub.leafUrl, domain: 'hub' }, commandSigningKey: sys.commandSigningKey });
    await waitFor(() => leafConnected(e.leaf.monitorUrl), { what: 'the site leaf linked to the hub' });
    // desired state down, the applied report back up through the site account
    await waitFor(
      async () => {
        const s = await sys.api('GET', '/v1/satellites/ztr-site/state');
        return s.body?.applied?.revision === s.body?.desired?.revision && s.body?.applied?.revision >= 1;
      },
      { what: 'the site applied its desired state', timeoutMs: 30_000 },
    );
    expect((await sys.api('GET', '/v1/satellites/ztr-site')).body).toMatchObject({ status: 'active', registeredAt: expect.any(String) });
    // a signed command down through the site account, its result back up
    const cmd = await sys.api('POST', '/v1/commands', { target: { satellite: 'ztr-site' }, action: 'ping', args: {} });
    expect(cmd.status).toBe(201);
    await waitFor(async () => (await sys.api('GET', `/v1/commands/${cmd.body.id}`)).body?.targets?.[0]?.status === 'succeeded', {
      what: 'the site ran the command and its result reached the hub',
      timeoutMs: 30_000,
    });
    // credentials at rest: encrypted, owner-only; the decrypted ones only in the runtime dir
    expect((await stat(join(dir.path, 'ztr-site', 'credentials.enc'))).mode & 0o777).toBe(0o600);
    expect((await stat(e.runtimeCredsFile)).mode & 0o777).toBe(0o600);
  });

  it('renews after two thirds of the JWT lifetime; after the hub drops the old JWT the leaf links again', async () => {
    const e = edges[0]!;
    const first = e.credentials();
    const expiry = Date.parse(first.expiresAt);
    await waitFor(() => e.credentials().jwt !== first.jwt, { what: 'renewed credentials', timeoutMs: JWT_TTL_S * 1_000 });
    expect(Date.parse(e.credentials().expiresAt)).toBeGreaterThan(expiry);
    await waitFor(async () => Date.now() > expiry + 1_500 && (await leafConnected(e.leaf.monitorUrl)), {
      what: 'the leaf linked after the old JWT expired',
      timeoutMs: JWT_TTL_S * 1_000 + 10_000,
    });
  });

  it('refuses a used, an expired and an unknown token, creating nothing', async () => {
    const created = await sys.api('POST', '/v1/satellites', { name: 'ztr-refused' });
    const ztr = (token: string) => sys.api('POST', '/v1/ztr', { token, publicKey: createNKey('user').publicKey, fingerprint: 'x' }, { bearer: false });

    const unknown = await ztr('ujt_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(unknown).toMatchObject({ status: 401, body: { error: { code: 'JOIN_TOKEN_INVALID' } } });
    const pg = await import('pg');
    const c = new pg.default.Client({ connectionString: sys.pg.url });
    await c.connect();
    await c.query(`UPDATE join_tokens SET expires_at = now() - interval '1 minute' WHERE satellite = 'ztr-refused'`);
    await c.end();
    expect(await ztr(created.body.joinToken)).toMatchObject({ status: 410, body: { error: { code: 'JOIN_TOKEN_EXPIRED' } } });
    expect(await deviceColumns('ztr-refused')).toEqual({ device_key: null, account_key: null, registered_at: null });

    const fresh = await sys.api('POST', '/v1/satellites/ztr-refused/token');
    expect(fresh.status).toBe(201);
    expect(await ztr(fresh.body.joinToken)).toMatchObject({ status: 200 });
    const registered = await deviceColumns('ztr-refused');
    expect(await ztr(fresh.body.joinToken)).toMatchObject({ status: 409, body: { error: { code: 'JOIN_TOKEN_USED' } } });
    expect(await deviceColumns('ztr-refused')).toEqual(registered);
    // bad bodies are validated before anything else
    expect(await sys.api('POST', '/v1/ztr', { token: 'x', publicKey: 'not-a-key', fingerprint: 'x' }, { bearer: false })).toMatchObject({ status: 400 });
  });

  it('a revoked site is dropped from the hub and cannot renew', async () => {
    const created = await sys.api('POST', '/v1/satellites', { name: 'ztr-revoked' });
    const e = await edge('ztr-revoked', created.body.joinToken);
    await waitFor(() => leafConnected(e.leaf.monitorUrl), { what: 'the leaf linked' });
    expect((await sys.api('DELETE', '/v1/satellites/ztr-revoked')).status).toBe(204);
    await waitFor(async () => !(await leafConnected(e.leaf.monitorUrl)), { what: 'the revoked leaf dropped' });
    await expect(e.renewNow()).rejects.toMatchObject({ code: 'SATELLITE_REVOKED' });
    expect((await sys.api('GET', '/v1/satellites/ztr-revoked')).body).toMatchObject({ status: 'revoked' });
    expect((await sys.api('GET', '/v1/satellites')).body.find((s: { name: string }) => s.name === 'ztr-revoked')).toMatchObject({ status: 'revoked' });
  });

  it('a copied credentials file does not decrypt on another machine, and says to register again', async () => {
    const created = await sys.api('POST', '/v1/satellites', { name: 'ztr-copied' });
    const e = await edge('ztr-copied', created.body.joinToken, { identity: 'machine-1' });
    await e.close();
    const file = join(dir.path, 'ztr-copied', 'credentials.enc');
    expect((await openCredentialStore(file, machine('machine-1')).load())?.satellite).toBe('ztr-copied');
    const elsewhere = openCredentialStore(file, machine('machine-2'));
    await expect(elsewhere.load()).rejects.toMatchObject({ code: 'CREDENTIALS_FOREIGN', message: expect.stringMatching(/register this machine again/i) });
    await expect(edge('ztr-copied', undefined, { identity: 'machine-2' })).rejects.toMatchObject({ code: 'CREDENTIALS_FOREIGN' });
  });
});
