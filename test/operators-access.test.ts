// Roles through the real gateway and registration: what a viewer, an operator and an admin may do,
// tokens that stop working (revoked, expired, disabled user), and the audit row and EVENTS message
// that every change leaves, secrets redacted.
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, AuditPage } from '@uplink/contracts';
import { controllers, routesOf } from '@uplink/gateway';
import { waitFor } from '@uplink/testkit';
import { ROOT_PASSWORD, startOperatorsSystem, type OperatorsSystem } from './support/operators-system.js';

const VERA_PASSWORD = 'vera-viewer-password';
const OTTO_PASSWORD = 'otto-operator-password';
const group = { registry: 'http://127.0.0.1:1', artifacts: [{ repository: 'app/web', digest: `sha256:${'a'.repeat(64)}` }] };

let sys: OperatorsSystem;
let nc: NatsConnection;
let root: string;
let vera: string;
let otto: string;
/** every secret sent in this file: none may show up in the audit trail */
const secrets: string[] = [ROOT_PASSWORD, VERA_PASSWORD, OTTO_PASSWORD];

beforeAll(async () => {
  sys = await startOperatorsSystem({ registration: { LOGIN_IP_LIMIT: '1000' } });
  nc = await connect({ servers: sys.hub.url });
  root = await sys.login('root', ROOT_PASSWORD);
  secrets.push(root);
  expect((await sys.request('POST', '/v1/users', { token: root, json: { name: 'vera', role: 'viewer', password: VERA_PASSWORD } })).status).toBe(201);
  expect((await sys.request('POST', '/v1/users', { token: root, json: { name: 'otto', role: 'operator', password: OTTO_PASSWORD } })).status).toBe(201);
  vera = await sys.login('vera', VERA_PASSWORD);
  otto = await sys.login('otto', OTTO_PASSWORD);
  secrets.push(vera, otto);
  expect((await sys.request('PUT', '/v1/groups/line-1', { token: root, json: group })).status).toBe(200);
  expect((await sys.request('POST', '/v1/satellites', { token: root, json: { name: 'edge-01', groups: ['line-1'] } })).status).toBe(201);
});

afterAll(async () => {
  await nc?.close();
  await sys?.[Symbol.asyncDispose]();
});

/** Every non-public route that changes something, with real values for its parameters. */
function changingRoutes(tokenId: string): { method: string; path: string }[] {
  const values: Record<string, string> = { group: 'line-1', name: 'edge-01', id: randomUUID() };
  return routesOf(controllers)
    .filter((r) => r.method !== 'GET' && !r.public)
    .map((r) => ({
      method: r.method,
      path: r.route.replace(/:(\w+)/g, (_, p: string) => {
        if (r.route.startsWith('/v1/users/')) return 'vera';
        if (r.route.startsWith('/v1/tokens/')) return tokenId;
        return values[p] ?? 'x';
      }),
    }));
}

/** What a change could touch, in one comparable value. */
async function snapshot(): Promise<unknown> {
  const q = async (sql: string) => (await sys.db.query(sql)).rows;
  return {
    satellites: await q('SELECT name, labels, revoked_at FROM satellites ORDER BY name'),
    groups: await q('SELECT name, registry, artifacts, updated_at FROM groups ORDER BY name'),
    assignments: await q('SELECT * FROM group_satellites ORDER BY 1, 2'),
    configs: await q('SELECT satellite, config FROM satellite_configs ORDER BY 1'),
    users: await q('SELECT name, role, disabled_at, password_hash FROM users ORDER BY name'),
    tokens: await q('SELECT id, revoked_at, expires_at FROM auth_tokens ORDER BY id'),
    commands: await q('SELECT id, status FROM commands ORDER BY id'),
  };
}

describe('roles', () => {
  it('a viewer reads everything it may, and every change is refused with 403 FORBIDDEN, changing nothing', async () => {
    for (const path of ['/v1/groups', '/v1/groups/line-1', '/v1/satellites', '/v1/satellites/edge-01', '/v1/satellites/edge-01/state']) {
      expect((await sys.request('GET', path, { token: vera })).status, path).toBe(200);
    }
    for (const path of ['/v1/users', '/v1/tokens', '/v1/audit']) expect((await sys.request('GET', path, { token: vera })).status, path).toBe(403);

    const token = (await sys.request('POST', '/v1/tokens', { token: root, json: { name: 'spare', user: 'otto' } })).body;
    secrets.push(token.token);
    const routes = changingRoutes(token.id);
    expect(routes.map((r) => r.method + ' ' + r.path)).toEqual(
      expect.arrayContaining(['PUT /v1/groups/line-1', 'POST /v1/satellites', 'PATCH /v1/users/vera', 'DELETE /v1/tokens/' + token.id, 'POST /v1/commands']),
    );
    const before = await snapshot();
    for (const r of routes) {
      const res = await sys.request(r.method, r.path, { token: vera, json: {} });
      expect(res.status, `${r.method} ${r.path}`).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      expect(res.body.error.message).toMatch(/needs the (operator|admin) role or higher; user "vera" has viewer/);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('an operator manages groups, assignments and configs, but not users, tokens or satellites', async () => {
    expect((await sys.request('PUT', '/v1/groups/line-2', { token: otto, json: group })).status).toBe(200);
    expect((await sys.request('PUT', '/v1/groups/line-2/satellites/edge-01', { token: otto })).status).toBe(200);
    expect((await sys.request('PUT', '/v1/satellites/edge-01/config', { token: otto, json: { heartbeatSeconds: 15 } })).status).toBe(200);
    expect((await sys.request('GET', '/v1/groups/line-2', { token: otto })).body.satellites).toEqual(['edge-01']);

    const before = await snapshot();
    const refused: [string, string, unknown?][] = [
      ['POST', '/v1/users', { name: 'mallory', role: 'admin', password: 'mallory-password' }],
      ['PATCH', '/v1/users/otto', { role: 'admin' }],
      ['POST', '/v1/tokens', { name: 'mine' }],
      ['POST', '/v1/satellites', { name: 'edge-99' }],
      ['DELETE', '/v1/satellites/edge-01'],
      ['GET', '/v1/users'],
      ['GET', '/v1/audit'],
    ];
    for (const [method, path, json] of refused) {
      const res = await sys.request(method, path, { token: otto, ...(json === undefined ? {} : { json }) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.message).toContain('needs the admin role');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('an admin user manages users and tokens; the bootstrap ADMIN_TOKEN keeps working', async () => {
    const users = await sys.request('GET', '/v1/users', { token: root });
    expect(users.body.map((u: { name: string; role: string }) => `${u.name}:${u.role}`)).toEqual(['otto:operator', 'root:admin', 'vera:viewer']);
    expect((await sys.request('GET', '/v1/users')).status).toBe(200);
  });
});

describe('tokens that stop working', () => {
  it('a revoked API token is refused with 401 at once', async () => {
    const created = await sys.request('POST', '/v1/tokens', { token: root, json: { name: 'ci', user: 'otto', expiresInSeconds: 3_600 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ user: 'otto', role: 'operator', kind: 'api', token: expect.stringMatching(/^upl_/) });
    const t = created.body;
    secrets.push(t.token);
    expect((await sys.request('PUT', '/v1/groups/line-3', { token: t.token, json: group })).status).toBe(200);
    expect((await sys.request('DELETE', `/v1/tokens/${t.id}`, { token: root })).status).toBe(204);
    const after = await sys.request('GET', '/v1/groups', { token: t.token });
    expect(after.status).toBe(401);
    expect(after.body.error).toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('revoked') });
  });

  it('an expired token is refused with 401', async () => {
    const t = (await sys.request('POST', '/v1/tokens', { token: root, json: { name: 'old', user: 'vera', expiresInSeconds: 60 } })).body;
    secrets.push(t.token);
    await sys.db.query(`UPDATE auth_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [t.id]);
    const res = await sys.request('GET', '/v1/groups', { token: t.token });
    expect(res.status).toBe(401);
    expect(res.body.error.message).toContain('expired');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('a disabled user\'s session is refused with 401 at once, and a token never grants more than its user', async () => {
    const t = (await sys.request('POST', '/v1/tokens', { token: root, json: { name: 'too-much', user: 'vera', role: 'admin' } }));
    expect(t.status).toBe(400);
    expect(t.body.error.message).toContain('cannot grant more than its user');

    const session = await sys.login('vera', VERA_PASSWORD);
    secrets.push(session);
    expect((await sys.request('GET', '/v1/groups', { token: session })).status).toBe(200);
    expect((await sys.request('PATCH', '/v1/users/vera', { token: root, json: { disabled: true } })).status).toBe(200);
    expect((await sys.request('GET', '/v1/groups', { token: session })).status).toBe(401);
    expect((await sys.request('PATCH', '/v1/users/vera', { token: root, json: { disabled: false } })).status).toBe(200);
  });
});

describe('audit trail', () => {
  it('every change leaves an audit row with its outcome and no secret, and a message on EVENTS', async () => {
    const changes = [...sys.sent];
    expect(changes.length).toBeGreaterThan(30);
    const rows = async () => (await sys.db.query<{ request_id: string; outcome: string; status: number; body: unknown; actor: string | null }>('SELECT * FROM audit_events')).rows;
    await waitFor(async () => {
      const ids = new Set((await rows()).map((r) => r.request_id));
      return changes.every((c) => ids.has(c.requestId));
    }, { what: 'an audit row for every change' });
    const byRequest = new Map((await rows()).map((r) => [r.request_id, r]));
    for (const c of changes) {
      const row = byRequest.get(c.requestId)!;
      expect(row.status, `${c.method} ${c.path}`).toBe(c.status);
      expect(row.outcome).toBe(c.status < 400 ? 'ok' : c.status === 403 ? 'denied' : 'failed');
    }
    const all = JSON.stringify(await rows());
    for (const s of secrets) expect(all).not.toContain(s);

    const created = (await rows()).find((r) => r.request_id === changes.find((c) => c.path === '/v1/users')!.requestId)!;
    expect(created).toMatchObject({ actor: 'root', outcome: 'ok', body: { name: 'vera', role: 'viewer', password: '[redacted]' } });

    // the same events are on EVENTS (plus the first admin's creation, made by registration)
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('EVENTS', { subjects_filter: 'uplink.events.audit.>' });
    const counts = info.state.subjects ?? {};
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe((await rows()).length);
    expect(counts['uplink.events.audit.user-login']).toBeGreaterThanOrEqual(4);
    const m = await jsm.streams.getMessage('EVENTS', { last_by_subj: 'uplink.events.audit.user-create' });
    expect(m?.header.get('Uplink-Schema')).toBe('audit-event/1');
    // the last attempt to create a user was the operator's, refused
    expect(m?.json<AuditEvent>()).toMatchObject({
      action: 'user.create',
      entity: 'user',
      entityId: 'mallory',
      actor: 'otto',
      role: 'operator',
      outcome: 'denied',
      status: 403,
      code: 'FORBIDDEN',
      body: { name: 'mallory', role: 'admin', password: '[redacted]' },
    });
  });

  it('GET /v1/audit filters by entity, actor and time, newest first', async () => {
    const page = (await sys.request<AuditPage>('GET', '/v1/audit?entity=user&actor=root&limit=3', { token: root })).body;
    expect(page.events).toHaveLength(3);
    expect(page.events.every((e) => e.entity === 'user' && e.actor === 'root')).toBe(true);
    expect(page.next).not.toBeNull();
    const ats = page.events.map((e) => Date.parse(e.at));
    expect([...ats].sort((a, b) => b - a)).toEqual(ats);
    const denied = (await sys.request<AuditPage>('GET', '/v1/audit?outcome=denied&actor=vera&limit=1000', { token: root })).body;
    expect(denied.events.length).toBeGreaterThan(10);
    const logins = (await sys.request<AuditPage>('GET', `/v1/audit?action=user.login&from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { token: root })).body;
    expect(logins.events).toEqual([]);
    expect((await sys.request('GET', '/v1/audit?limit=0', { token: root })).status).toBe(400);
  });
});
