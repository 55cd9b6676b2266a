// POST /v1/login through the real gateway and registration: sessions, failures, the account lockout
// (and its end), and the per-address limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@uplink/testkit';
import { ROOT_PASSWORD, startOperatorsSystem, type OperatorsSystem } from './support/operators-system.js';

let sys: OperatorsSystem;

beforeAll(async () => {
  sys = await startOperatorsSystem({ registration: { LOGIN_MAX_FAILURES: '3', LOGIN_LOCKOUT_S: '2', LOGIN_IP_LIMIT: '14', SESSION_TTL_S: '3600' } });
  expect((await sys.request('POST', '/v1/users', { json: { name: 'lou', role: 'operator', password: 'lou-password-123' } })).status).toBe(201);
});

afterAll(async () => {
  await sys?.[Symbol.asyncDispose]();
});

const login = (username: string, password: string) => sys.request('POST', '/v1/login', { token: null, json: { username, password } });

describe('login', () => {
  it('answers a session token for the right password, which then authenticates requests', async () => {
    const res = await login('root', ROOT_PASSWORD);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({ token: expect.stringMatching(/^upl_/), expiresAt: expect.any(String), role: 'admin', username: 'root' });
    expect(Math.abs(Date.parse(res.body.expiresAt) - Date.now() - 3_600_000)).toBeLessThan(60_000);
    expect((await sys.request('GET', '/v1/users', { token: res.body.token })).status).toBe(200);
  });

  it('refuses a wrong password or an unknown user with 401, and a malformed body with 400', async () => {
    for (const [u, p] of [['root', 'wrong password'], ['nobody', 'whatever']] as const) {
      const res = await login(u, p);
      expect(res.status).toBe(401);
      expect(res.body.error).toEqual({ code: 'UNAUTHORIZED', message: 'invalid user name or password' });
    }
    expect((await sys.request('POST', '/v1/login', { token: null, json: { username: 'root' } })).status).toBe(400);
    // a success resets root's failure count
    expect((await login('root', ROOT_PASSWORD)).status).toBe(200);
  });

  it('locks an account after repeated bad passwords, with 423 ACCOUNT_LOCKED even for the right one, and unlocks it after the lockout', async () => {
    expect((await login('lou', 'guess-one')).status).toBe(401);
    expect((await login('lou', 'guess-two')).status).toBe(401);
    const locked = await login('lou', 'guess-three');
    expect(locked.status).toBe(423);
    expect(locked.body.error.code).toBe('ACCOUNT_LOCKED');
    expect(locked.body.error.message).toMatch(/account locked after repeated failed logins: try again after/);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await login('lou', 'lou-password-123')).status).toBe(423);
    // an admin sees the lock
    expect((await sys.request('GET', '/v1/users/lou')).body.lockedUntil).toEqual(expect.any(String));
    // LOGIN_LOCKOUT_S=2 (watched without logging in: every attempt counts against the address limit)
    await waitFor(async () => (await sys.request('GET', '/v1/users/lou')).body.lockedUntil === null, { timeoutMs: 10_000, what: 'lou unlocked' });
    expect((await login('lou', 'lou-password-123')).status).toBe(200);
  });

  it('limits login attempts per client address with 429 TOO_MANY_ATTEMPTS', async () => {
    let res = await login('nobody', 'x');
    for (let i = 0; i < 20 && res.status !== 429; i++) res = await login('nobody', 'x');
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // also for the right password: the address is limited, not the account
    expect((await login('root', ROOT_PASSWORD)).status).toBe(429);
    // bearer tokens are not affected
    expect((await sys.request('GET', '/v1/groups')).status).toBe(200);
  });
});
