// A hub that lost its resolver directory does not lock sites out: registration pushes the site
// accounts again, as last pushed (a revoked site stays revoked): those the hub does not list when its
// system connection reconnects to the restarted hub, every one when it starts; a site registered
// before the pushed JWT was kept gets its account encoded anew.
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistrationEnv, loadEnv } from '@uplink/contracts';
import { startRegistration, type RegistrationHandle } from '@uplink/registration';
import { leafConnected, startLeaf, waitFor, type NatsServer } from '@uplink/testkit';
import { logger, startJwtSystem, type JoinedSite, type JwtSystem } from './support/jwt-system.js';

let sys: JwtSystem;
let site: JoinedSite;
let revoked: JoinedSite;
let leaf: NatsServer;
let second: RegistrationHandle | undefined;

beforeAll(async () => {
  sys = await startJwtSystem();
  [site, revoked] = [await sys.join('repush-site'), await sys.join('repush-revoked')];
  expect((await sys.api('DELETE', '/v1/satellites/repush-revoked')).status).toBe(204);
  const credentials = join(sys.dir.path, 'repush-site.creds');
  await writeFile(credentials, site.creds, { mode: 0o600 });
  leaf = await startLeaf({ name: 'repush-site', hubLeafUrl: sys.hub.leafUrl, credentials });
  await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'the site leaf linked' });
}, 60_000);

afterAll(async () => {
  await second?.close();
  await leaf?.[Symbol.asyncDispose]();
  await sys?.[Symbol.asyncDispose]();
});

async function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: sys.pg.url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** The account JWT registration keeps for a site, and the one in the hub's resolver directory. */
async function accountJwts(s: JoinedSite): Promise<{ kept: string | null; hub: string | undefined }> {
  const [row] = await query<{ account_jwt: string | null }>('SELECT account_jwt FROM satellites WHERE name = $1', [s.name]);
  const file = join(sys.hub.resolverDir!, `${s.credentials.account}.jwt`);
  return { kept: row!.account_jwt, hub: existsSync(file) ? (await readFile(file, 'utf8')).trim() : undefined };
}

/** Stop the hub, throw away its resolver directory, start it again. */
async function restartHubWithEmptyResolver(): Promise<void> {
  await sys.hub.stop();
  await rm(sys.hub.resolverDir!, { recursive: true, force: true });
  await sys.hub.restart();
}

const metric = async (r: RegistrationHandle, name: string, trigger: string) =>
  (await r.metrics.getSingleMetric(name)!.get()).values.find((v) => v.labels.trigger === trigger)?.value ?? 0;
const pushed = (r: RegistrationHandle, trigger: string) => metric(r, 'uplink_registration_site_accounts_pushed_total', trigger);

describe('site accounts pushed to the hub again', () => {
  it('registration keeps each site account JWT as pushed at registration and revocation', async () => {
    for (const s of [site, revoked]) {
      const { kept, hub } = await accountJwts(s);
      expect(kept).toMatch(/^eyJ/);
      expect(hub).toBe(kept);
    }
  });

  it('when registration reconnects to a hub that kept its resolver directory, nothing is pushed', async () => {
    const rounds = await metric(sys.registration, 'uplink_registration_site_account_push_rounds_total', 'reconnect');
    const before = await pushed(sys.registration, 'reconnect');
    await sys.hub.restart();
    await waitFor(async () => (await metric(sys.registration, 'uplink_registration_site_account_push_rounds_total', 'reconnect')) > rounds, { what: 'a push round after the reconnect' });
    expect(await pushed(sys.registration, 'reconnect')).toBe(before);
    await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'the site leaf linked again' });
  });

  it('when registration reconnects to a hub that lost its resolver directory: the site links again, the revoked one stays revoked', async () => {
    const before = await pushed(sys.registration, 'reconnect');
    await restartHubWithEmptyResolver();
    await waitFor(async () => (await accountJwts(site)).hub !== undefined && (await accountJwts(revoked)).hub !== undefined, {
      what: 'both site accounts back in the resolver',
    });
    for (const s of [site, revoked]) expect((await accountJwts(s)).hub).toBe((await accountJwts(s)).kept);
    // the revoked site's account as revoked: no imports, its device key in the revocations
    const claims = JSON.parse(Buffer.from((await accountJwts(revoked)).hub!.split('.')[1]!, 'base64url').toString()) as { nats: { imports?: unknown[]; revocations?: Record<string, number> } };
    expect(claims.nats.imports ?? []).toEqual([]);
    expect(claims.nats.revocations?.[revoked.device.publicKey]).toEqual(expect.any(Number));
    expect(await pushed(sys.registration, 'reconnect')).toBe(before + 2);
    await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'the site leaf linked again' });
  });

  it('when registration starts (encoding anew an account whose JWT was not kept)', async () => {
    await sys.registration.close();
    await query(`UPDATE satellites SET account_jwt = NULL WHERE name = 'repush-site'`);
    await restartHubWithEmptyResolver();
    // nobody pushes: the site cannot link
    await waitFor(async () => !(await leafConnected(leaf.monitorUrl)), { what: 'the leaf dropped by the restart' });
    await waitFor(() => /Authorization Violation|account .* not found|Authentication/i.test(leaf.proc.output()), { what: 'the leaf refused by the hub' });
    expect(await accountJwts(site)).toEqual({ kept: null, hub: undefined });

    second = await startRegistration(loadEnv(RegistrationEnv, sys.registrationEnv), { logger });
    await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'the site leaf linked after registration started', timeoutMs: 30_000 });
    const { kept, hub } = await accountJwts(site);
    expect(kept).toMatch(/^eyJ/);
    expect(hub).toBe(kept);
    expect((await accountJwts(revoked)).hub).toBe((await accountJwts(revoked)).kept);
    expect(await pushed(second, 'start')).toBe(2);
  });
});
