// Operators over real NATS, Postgres and Redis: logins, lockout, the per-address limit, tokens and the
// audit trail stored from EVENTS.
import { randomUUID } from 'node:crypto';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { publishMessage } from '@uplink/bus';
import { RegistrationEnv, bearerTokenHash, loadEnv, rpcSubject, subjects, type AuditEvent, type RpcMethod, type RpcReply } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { createPgSchema, startHub, waitFor, type Hub, type PgSchema } from '@uplink/testkit';
import { startRegistration, type RegistrationHandle } from '../start.js';

const logger = createLogger({ service: 'operators-test', level: 'silent' });
const ADMIN_PASSWORD = 'first-admin-password';

let hub: Hub;
let schema: PgSchema;
let registration: RegistrationHandle;
let client: ClientProxy;
let nc: NatsConnection;

beforeAll(async () => {
  [hub, schema] = await Promise.all([startHub(), createPgSchema('operators')]);
  registration = await startRegistration(
    loadEnv(RegistrationEnv, {
      NATS_URL: hub.url,
      DATABASE_URL: schema.url,
      LOG_LEVEL: 'silent',
      REDIS_KEY_PREFIX: `uplink-test-${randomUUID()}:`,
      ADMIN_USERNAME: 'root',
      ADMIN_PASSWORD,
      LOGIN_MAX_FAILURES: '3',
      LOGIN_LOCKOUT_S: '1',
      LOGIN_IP_LIMIT: '4',
      SESSION_TTL_S: '600',
    }),
    { logger, recomputeTimeoutMs: 200 },
  );
  client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [hub.url] } });
  await client.connect();
  nc = await connect({ servers: hub.url });
});

afterAll(async () => {
  await client?.close();
  await nc?.close();
  await registration?.close();
  await Promise.all([hub?.[Symbol.asyncDispose](), schema?.[Symbol.asyncDispose]()]);
});

async function rpc(method: RpcMethod<'auth'>, data: unknown): Promise<RpcReply<any>> {
  return firstValueFrom(client.send(rpcSubject('auth', method), data));
}

async function ok(method: RpcMethod<'auth'>, data: unknown): Promise<any> {
  const r = await rpc(method, data);
  if (!r.ok) throw new Error(`${method} failed: ${r.error.code} ${r.error.message}`);
  return r.data;
}

const verify = (token: string) => rpc('verifyToken', { tokenHash: bearerTokenHash(token) });

describe('users and logins', () => {
  it('creates the first admin from the environment, who can log in', async () => {
    const login = await ok('login', { username: 'root', password: ADMIN_PASSWORD });
    expect(login).toEqual({ token: expect.stringMatching(/^upl_[A-Za-z0-9_-]{43}$/), expiresAt: expect.any(String), role: 'admin', username: 'root' });
    expect(Date.parse(login.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    expect(await ok('verifyToken', { tokenHash: bearerTokenHash(login.token) })).toMatchObject({ user: 'root', role: 'admin', kind: 'session' });
    // only the hash is stored
    const stored = await registration.pool.query('SELECT token_hash FROM auth_tokens');
    expect(JSON.stringify(stored.rows)).not.toContain(login.token);
    const users = await registration.pool.query('SELECT password_hash FROM users');
    expect(JSON.stringify(users.rows)).not.toContain(ADMIN_PASSWORD);
  });

  it('refuses a wrong password and an unknown user with the same answer', async () => {
    const wrong = await rpc('login', { username: 'root', password: 'not the password' });
    const unknown = await rpc('login', { username: 'nobody', password: 'not the password' });
    expect(wrong).toEqual({ ok: false, error: { code: 'UNAUTHORIZED', message: 'invalid user name or password' } });
    expect(unknown).toEqual(wrong);
    await ok('updateUser', { name: 'root', body: { disabled: false } }); // clears the failure count
  });

  it('creates, lists and changes users; refuses weak passwords and taken names', async () => {
    expect(await ok('createUser', { name: 'vera', role: 'viewer', password: 'vera-password-1' })).toMatchObject({ name: 'vera', role: 'viewer', disabled: false });
    expect(await rpc('createUser', { name: 'vera', role: 'admin', password: 'another-password' })).toMatchObject({ ok: false, error: { code: 'ALREADY_EXISTS' } });
    expect(await rpc('createUser', { name: 'short', role: 'viewer', password: 'short' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    expect(await rpc('createUser', { name: 'Bad Name', role: 'viewer', password: 'long enough password' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    expect(await rpc('createUser', { name: 'x', role: 'superuser', password: 'long enough password' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    expect((await ok('listUsers', {})).map((u: { name: string }) => u.name)).toEqual(['root', 'vera']);
    expect(await ok('updateUser', { name: 'vera', body: { role: 'operator' } })).toMatchObject({ name: 'vera', role: 'operator' });
    expect(await rpc('updateUser', { name: 'ghost', body: { role: 'operator' } })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(await rpc('updateUser', { name: 'vera', body: {} })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    // nobody could manage users any more
    expect(await rpc('updateUser', { name: 'root', body: { role: 'operator' } })).toMatchObject({ ok: false, error: { code: 'CONFLICT', message: expect.stringContaining('last enabled admin') } });
    expect(await rpc('updateUser', { name: 'root', body: { disabled: true } })).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
  });

  it('locks an account after repeated failed logins, also against the right password, and unlocks it after the lockout', async () => {
    await ok('createUser', { name: 'lou', role: 'operator', password: 'lou-password-123' });
    expect(await rpc('login', { username: 'lou', password: 'guess-1' })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await rpc('login', { username: 'lou', password: 'guess-2' })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const third = await rpc('login', { username: 'lou', password: 'guess-3' });
    expect(third).toMatchObject({ ok: false, error: { code: 'ACCOUNT_LOCKED', details: { lockedUntil: expect.any(String) } } });
    expect(await rpc('login', { username: 'lou', password: 'lou-password-123' })).toMatchObject({ ok: false, error: { code: 'ACCOUNT_LOCKED' } });
    expect((await ok('getUser', { name: 'lou' })).lockedUntil).not.toBeNull();
    // LOGIN_LOCKOUT_S=1
    await waitFor(async () => (await rpc('login', { username: 'lou', password: 'lou-password-123' })).ok, { timeoutMs: 5_000, what: 'lou unlocked' });
    expect((await ok('getUser', { name: 'lou' })).lockedUntil).toBeNull();
  });

  it('limits login attempts per client address, whatever the account', async () => {
    const ip = `10.0.0.${Math.floor(Math.random() * 250) + 1}`;
    for (let i = 0; i < 4; i++) expect((await rpc('login', { username: `nobody${i}`, password: 'x', ip })).ok).toBe(false);
    const limited = await rpc('login', { username: 'root', password: ADMIN_PASSWORD, ip });
    expect(limited).toMatchObject({ ok: false, error: { code: 'TOO_MANY_ATTEMPTS', details: { retryAfterSeconds: expect.any(Number) } } });
    // another address is not limited
    expect((await rpc('login', { username: 'root', password: ADMIN_PASSWORD, ip: '10.9.9.9' })).ok).toBe(true);
  });

  it('ends a disabled user\'s tokens and logins', async () => {
    await ok('createUser', { name: 'dan', role: 'operator', password: 'dan-password-123' });
    const { token } = await ok('login', { username: 'dan', password: 'dan-password-123' });
    expect((await verify(token)).ok).toBe(true);
    await ok('updateUser', { name: 'dan', body: { disabled: true } });
    expect(await verify(token)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED', message: 'user "dan" is disabled' } });
    expect(await rpc('login', { username: 'dan', password: 'dan-password-123' })).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED', message: expect.stringContaining('disabled') } });
    await ok('updateUser', { name: 'dan', body: { disabled: false } });
    expect((await verify(token)).ok).toBe(true);
  });

  it('a new password ends the sessions of the old one', async () => {
    await ok('createUser', { name: 'pat', role: 'viewer', password: 'pat-password-123' });
    const { token } = await ok('login', { username: 'pat', password: 'pat-password-123' });
    await ok('updateUser', { name: 'pat', body: { password: 'pat-password-456' } });
    expect(await verify(token)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED', message: expect.stringContaining('revoked') } });
    expect((await rpc('login', { username: 'pat', password: 'pat-password-123' })).ok).toBe(false);
    expect((await rpc('login', { username: 'pat', password: 'pat-password-456' })).ok).toBe(true);
  });
});

describe('API tokens', () => {
  it('grants at most its user\'s role, follows the user\'s role down, and stops when revoked or expired', async () => {
    await ok('createUser', { name: 'otto', role: 'operator', password: 'otto-password-1' });
    expect(await rpc('createApiToken', { name: 'ci', user: 'otto', role: 'admin' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    const t = await ok('createApiToken', { name: 'ci', user: 'otto', expiresInSeconds: 3_600 });
    expect(t).toMatchObject({ id: expect.stringMatching(/^tok_/), user: 'otto', role: 'operator', kind: 'api', revokedAt: null, token: expect.stringMatching(/^upl_/) });
    expect(Math.abs(Date.parse(t.expiresAt) - Date.now() - 3_600_000)).toBeLessThan(60_000);
    expect(await ok('verifyToken', { tokenHash: bearerTokenHash(t.token) })).toEqual({ tokenId: t.id, user: 'otto', role: 'operator', kind: 'api', expiresAt: t.expiresAt });

    await ok('updateUser', { name: 'otto', body: { role: 'viewer' } });
    expect((await ok('verifyToken', { tokenHash: bearerTokenHash(t.token) })).role).toBe('viewer');

    const listed = await ok('listApiTokens', { user: 'otto' });
    expect(listed).toEqual([expect.objectContaining({ id: t.id, name: 'ci' })]);
    expect(JSON.stringify(listed)).not.toContain(t.token);

    expect(await ok('revokeApiToken', { id: t.id })).toMatchObject({ id: t.id, revokedAt: expect.any(String) });
    expect(await verify(t.token)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED', message: expect.stringContaining('revoked') } });
    expect(await rpc('revokeApiToken', { id: 'tok_0000000000000000' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });

    const soon = await ok('createApiToken', { name: 'short-lived', user: 'otto', expiresInSeconds: 60 });
    await registration.pool.query(`UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [soon.id]);
    expect(await verify(soon.token)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED', message: expect.stringContaining('expired') } });
    expect(await verify('upl_' + 'A'.repeat(43))).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED', message: expect.stringContaining('unknown') } });

    // long expired tokens are purged
    await registration.pool.query(`UPDATE auth_tokens SET expires_at = now() - interval '31 days' WHERE id = $1`, [soon.id]);
    await registration.operators.purgeExpiredTokens();
    expect((await registration.pool.query('SELECT 1 FROM auth_tokens WHERE id = $1', [soon.id])).rowCount).toBe(0);
    expect((await registration.pool.query('SELECT 1 FROM auth_tokens WHERE id = $1', [t.id])).rowCount).toBe(1);
  });
});

describe('audit trail', () => {
  const event = (over: Partial<AuditEvent>): AuditEvent => ({
    id: randomUUID(),
    at: new Date().toISOString(),
    actor: 'vera',
    role: 'operator',
    action: 'group.put',
    entity: 'group',
    entityId: 'line-1',
    outcome: 'ok',
    status: 200,
    requestId: randomUUID(),
    ip: '127.0.0.1',
    method: 'PUT',
    path: '/v1/groups/line-1',
    body: { registry: 'http://x' },
    ...over,
  });

  it('stores the first admin\'s creation', async () => {
    await waitFor(async () => (await ok('queryAudit', { entity: 'user', entityId: 'root' })).events.length === 1, { what: 'audit row of the first admin' });
    const [e] = (await ok('queryAudit', { entity: 'user', entityId: 'root' })).events;
    expect(e).toMatchObject({ actor: 'registration', action: 'user.create', outcome: 'ok', body: { name: 'root', role: 'admin', password: '[redacted]' } });
  });

  it('stores each event from EVENTS once, and pages through them newest first', async () => {
    const events = [event({ entityId: 'a1' }), event({ entityId: 'a2', actor: 'otto' }), event({ entityId: 'a3', outcome: 'denied', status: 403, code: 'FORBIDDEN' })];
    for (const e of events) await publishMessage(nc, subjects.events('audit', 'group-put'), 'audit-event', e, { msgId: e.id });
    // the same event again, beyond the dedupe (another message id)
    await publishMessage(nc, subjects.events('audit', 'group-put'), 'audit-event', events[0]!, { msgId: randomUUID() });
    await waitFor(async () => (await ok('queryAudit', { entity: 'group' })).events.length === 3, { what: 'three group audit rows' });
    const rows = await registration.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE entity = 'group'`);
    expect(rows.rows[0].n).toBe(3);

    const first = await ok('queryAudit', { entity: 'group', limit: 2 });
    expect(first.events.map((e: AuditEvent) => e.entityId)).toEqual(['a3', 'a2']);
    expect(first.events[0]).toEqual(events[2]);
    const second = await ok('queryAudit', { entity: 'group', limit: 2, before: first.next });
    expect(second).toEqual({ events: [events[0]], next: null });
    expect((await ok('queryAudit', { actor: 'otto' })).events.map((e: AuditEvent) => e.entityId)).toEqual(['a2']);
    expect((await ok('queryAudit', { outcome: 'denied' })).events.map((e: AuditEvent) => e.entityId)).toEqual(['a3']);
    expect((await ok('queryAudit', { entity: 'group', from: new Date(Date.now() + 60_000).toISOString() })).events).toEqual([]);
  });
});
