import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetSatellitesCursor, imagesCursor, PutSatelliteConfigBody, rpcError, rpcOk, UplinkError, ErrorCode } from '@uplink/contracts';
import { startFixture, startStubService, TOKEN, type Fixture, type StubService } from './testing/fixtures.js';

const group = { registry: 'http://127.0.0.1:5000', artifacts: [{ repository: 'library/nginx', tags: ['1.27'] }] };

let f: Fixture;
beforeAll(async () => {
  f = await startFixture();
});
afterAll(async () => {
  await f?.[Symbol.asyncDispose]();
});

const lastReceived = (stub: StubService) => stub.received.at(-1);
const receivedCount = () => f.state.received.length + f.registration.received.length;

describe('routes', () => {
  const cases: {
    name: string;
    method: string;
    path: string;
    json?: unknown;
    service: 'state' | 'registration';
    rpc: string;
    request: unknown;
    status: number;
  }[] = [
    { name: 'put group', method: 'PUT', path: '/v1/groups/edge', json: group, service: 'state', rpc: 'putGroup', request: { name: 'edge', body: group }, status: 200 },
    { name: 'get group', method: 'GET', path: '/v1/groups/edge', service: 'state', rpc: 'getGroup', request: { name: 'edge' }, status: 200 },
    { name: 'list groups', method: 'GET', path: '/v1/groups', service: 'state', rpc: 'listGroups', request: {}, status: 200 },
    { name: 'delete group', method: 'DELETE', path: '/v1/groups/edge', service: 'state', rpc: 'deleteGroup', request: { name: 'edge' }, status: 204 },
    { name: 'assign', method: 'PUT', path: '/v1/groups/edge/satellites/edge-01', service: 'state', rpc: 'assign', request: { group: 'edge', satellite: 'edge-01' }, status: 200 },
    { name: 'unassign', method: 'DELETE', path: '/v1/groups/edge/satellites/edge-01', service: 'state', rpc: 'unassign', request: { group: 'edge', satellite: 'edge-01' }, status: 204 },
    {
      name: 'create satellite', method: 'POST', path: '/v1/satellites', json: { name: 'edge-01', labels: { site: 'lyon' }, groups: ['edge'] },
      service: 'registration', rpc: 'createSatellite', request: { name: 'edge-01', labels: { site: 'lyon' }, groups: ['edge'] }, status: 201,
    },
    { name: 'list satellites', method: 'GET', path: '/v1/satellites', service: 'registration', rpc: 'listSatellites', request: {}, status: 200 },
    { name: 'list satellites of a group', method: 'GET', path: '/v1/satellites?group=edge', service: 'registration', rpc: 'listSatellites', request: { group: 'edge' }, status: 200 },
    { name: 'get satellite', method: 'GET', path: '/v1/satellites/edge-01', service: 'registration', rpc: 'getSatellite', request: { name: 'edge-01' }, status: 200 },
    { name: 'delete satellite', method: 'DELETE', path: '/v1/satellites/edge-01', service: 'registration', rpc: 'deleteSatellite', request: { name: 'edge-01' }, status: 204 },
    { name: 'satellite state', method: 'GET', path: '/v1/satellites/edge-01/state', service: 'state', rpc: 'getState', request: { satellite: 'edge-01' }, status: 200 },
    {
      name: 'satellite config', method: 'PUT', path: '/v1/satellites/edge-01/config', json: { heartbeatSeconds: 10, mirrors: ['containerd'] },
      service: 'state', rpc: 'putConfig',
      request: { satellite: 'edge-01', body: PutSatelliteConfigBody.parse({ heartbeatSeconds: 10, mirrors: ['containerd'] }) }, status: 200,
    },
  ];

  it.each(cases)('$name: $method $path -> $rpc', async (c) => {
    const stub = f[c.service];
    const data = { answer: c.rpc, at: Date.now() };
    stub.reply(c.rpc, rpcOk(data));
    const res = await f.api(c.method, c.path, c.json === undefined ? {} : { json: c.json });
    expect(res.status).toBe(c.status);
    if (c.status === 204) expect(res.text).toBe('');
    else expect(res.body).toEqual(data);
    expect(lastReceived(stub)).toEqual({ method: c.rpc, data: c.request, traceId: res.headers.get('x-trace-id') });
  });

  it('maps a service error to its HTTP status and keeps code, message and details', async () => {
    f.state.reply('getGroup', rpcError(new UplinkError(ErrorCode.GROUP_NOT_FOUND, 'group "nope" does not exist')));
    const res = await f.api('GET', '/v1/groups/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'GROUP_NOT_FOUND', message: 'group "nope" does not exist' } });

    f.registration.reply('createSatellite', rpcError(new UplinkError(ErrorCode.ALREADY_EXISTS, 'satellite "edge-01" exists', { details: { name: 'edge-01' } })));
    const dup = await f.api('POST', '/v1/satellites', { json: { name: 'edge-01' } });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ error: { code: 'ALREADY_EXISTS', message: 'satellite "edge-01" exists', details: { name: 'edge-01' } } });
  });

  it('answers 500 INTERNAL without internals when a service breaks the contract', async () => {
    for (const reply of [{ raw: { hello: 'world' } }, 'throw' as const, { ok: false as const, error: { code: 'WEIRD' as never, message: 'odd' } }]) {
      f.state.reply('listGroups', reply);
      const res = await f.api('GET', '/v1/groups');
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('INTERNAL');
      expect(res.text).not.toMatch(/stack|at .*\.ts/);
    }
  });

  it('answers 503 SERVICE_UNAVAILABLE naming the service when it does not answer in time', async () => {
    f.state.reply('getState', 'hang');
    const res = await f.api('GET', '/v1/satellites/edge-01/state');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(res.body.error.message).toContain('service "state" did not answer');
  });
});

describe('authentication', () => {
  it.each([
    ['no header', null],
    ['a wrong token', 'not-the-admin-token-at-all'],
    ['a token with a suffix', `${TOKEN}x`],
  ])('rejects %s with 401 UNAUTHORIZED before any service is asked', async (_what, token) => {
    const before = receivedCount();
    const res = await f.api('GET', '/v1/groups', { token });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(receivedCount()).toBe(before);
  });

  it('rejects a non-bearer scheme', async () => {
    const res = await f.api('GET', '/v1/groups', { token: null, headers: { authorization: `Basic ${TOKEN}` } });
    expect(res.status).toBe(401);
  });
});

describe('validation', () => {
  it.each(['Edge.01', 'EDGE', 'a..b', '-edge'])('rejects the name %s in every path parameter, asking no service', async (bad) => {
    const before = receivedCount();
    const attempts: [string, string, string, unknown?][] = [
      ['GET', `/v1/groups/${bad}`, 'group'],
      ['PUT', `/v1/groups/${bad}`, 'group', group],
      ['PUT', `/v1/groups/edge/satellites/${bad}`, 'name'],
      ['DELETE', `/v1/groups/${bad}/satellites/edge-01`, 'group'],
      ['GET', `/v1/satellites/${bad}`, 'name'],
      ['GET', `/v1/satellites/${bad}/state`, 'name'],
      ['PUT', `/v1/satellites/${bad}/config`, 'name', { heartbeatSeconds: 5 }],
    ];
    for (const [method, path, param, json] of attempts) {
      const res = await f.api(method, path, json === undefined ? {} : { json });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.message).toContain(`path parameter "${param}"`);
      expect(res.body.error.message).toContain('no dots');
    }
    expect(receivedCount()).toBe(before);
  });

  it('rejects a bad query parameter', async () => {
    expect((await f.api('GET', '/v1/satellites?group=EDGE')).body.error.code).toBe('VALIDATION_FAILED');
    expect((await f.api('GET', '/v1/satellites?grup=edge')).body.error.message).toContain('grup');
  });

  it('rejects unknown body fields, listing them', async () => {
    const before = receivedCount();
    const res = await f.api('PUT', '/v1/groups/edge', { json: { ...group, color: 'red', size: 3 } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.message).toContain('"color"');
    expect(res.body.error.message).toContain('"size"');
    const cfg = await f.api('PUT', '/v1/satellites/edge-01/config', { json: { heartbeatSecs: 5 } });
    expect(cfg.status).toBe(400);
    expect(cfg.body.error.message).toContain('heartbeatSecs');
    expect(receivedCount()).toBe(before);
  });

  it('names the bad field of a body', async () => {
    const res = await f.api('POST', '/v1/satellites', { json: { name: 'Edge.01' } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'name' })]);
  });

  it('rejects malformed and empty JSON with 400 INVALID_JSON', async () => {
    for (const body of ['{"registry": ', '']) {
      const res = await f.api('PUT', '/v1/groups/edge', { body, headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'INVALID_JSON', message: expect.any(String) } });
    }
  });

  it('rejects a body over BODY_LIMIT_BYTES with 413 BODY_TOO_LARGE', async () => {
    const before = receivedCount();
    const big = { ...group, artifacts: Array.from({ length: 200 }, (_, i) => ({ repository: `library/app${i}`, tags: ['latest'] })) };
    const res = await f.api('PUT', '/v1/groups/edge', { json: big });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('BODY_TOO_LARGE');
    expect(res.body.error.message).toContain('4096 bytes');
    expect(receivedCount()).toBe(before);
  });

  it.each([
    ['text/plain', JSON.stringify(group)],
    ['application/x-www-form-urlencoded', 'registry=http://x'],
    ['application/xml', '<group/>'],
    [undefined, JSON.stringify(group)],
  ])('rejects Content-Type %s on a body route with 415', async (type, body) => {
    const res = await f.api('PUT', '/v1/groups/edge', { body, headers: type ? { 'content-type': type } : {} });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers unknown routes with 404 NOT_FOUND in the same shape', async () => {
    for (const [method, path] of [['GET', '/v1/nope'], ['PATCH', '/v1/groups/edge'], ['GET', '/nope']]) {
      const res = await f.api(method!, path!);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: `no route ${method} ${path}` } });
    }
  });
});

describe('request log', () => {
  it('logs one line per request with id, route, status and duration, and never the token', async () => {
    f.state.reply('getGroup', rpcOk({ name: 'edge' }));
    const res = await f.api('GET', '/v1/groups/edge', { headers: { 'x-request-id': 'req-abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');
    await f.api('GET', '/v1/groups', { token: 'wrong-token-that-must-not-appear' });
    const line = f.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === 'req-abc-123' && l.msg === 'request');
    expect(line).toMatchObject({ method: 'GET', route: '/v1/groups/:group', status: 200, durationMs: expect.any(Number) });
    const all = f.logs.join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('wrong-token-that-must-not-appear');
  });
});

/** Paging parameters of the paged lists the gateway refuses, and the field each error names. */
const PAGING_REFUSED: [string, string][] = [
  ['limit=0', 'limit'],
  ['limit=1001', 'limit'],
  ['limit=ten', 'limit'],
  ['limit=2.5', 'limit'],
  ['cursor=not-a-cursor', 'cursor'],
  [`cursor=${Buffer.from('{"after":"Bad Name"}').toString('base64url')}`, 'cursor'],
  ['cursor=' + 'a'.repeat(300), 'cursor'],
];

describe('GET /v1/images paging', () => {
  it('asks telemetry-ingest for a page of sites: 100 unless told, after the cursor; nextCursor passes through', async () => {
    const page = { images: [], sites: [], generatedAt: new Date().toISOString(), nextCursor: imagesCursor('edge-07') };
    f.telemetry.reply('images', rpcOk(page));
    const first = await f.api('GET', '/v1/images');
    expect(first.status).toBe(200);
    expect(first.body).toEqual(page);
    expect(lastReceived(f.telemetry)).toMatchObject({ method: 'images', data: { limit: 100 } });
    const next = await f.api('GET', `/v1/images?limit=1000&cursor=${first.body.nextCursor}`);
    expect(next.status).toBe(200);
    expect(lastReceived(f.telemetry)).toMatchObject({ method: 'images', data: { limit: 1000, after: 'edge-07' } });
  });

  it.each([
    ...PAGING_REFUSED,
    ['page=2', ''],
  ])('refuses ?%s with 400 VALIDATION_FAILED naming %s, before any service is asked', async (q, path) => {
    const before = f.telemetry.received.length;
    const res = await f.api('GET', `/v1/images?${q}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details).toEqual([expect.objectContaining({ path })]);
    expect(f.telemetry.received.length).toBe(before);
  });
});

describe('GET /v1/fleet/satellites', () => {
  const row = {
    name: 'edge-07', lifecycle: 'active', liveness: 'online', lastHeartbeatAt: new Date().toISOString(), syncStatus: 'synced',
    appliedRevision: 3, desiredRevision: 3, version: 'node v22.1.0', groups: ['line-1'],
  };

  it('asks telemetry-ingest for a page: 100 unless told, after the cursor, with the filters; nextCursor passes through', async () => {
    const page = { satellites: [row], nextCursor: fleetSatellitesCursor('edge-07') };
    f.telemetry.reply('satellites', rpcOk(page));
    const first = await f.api('GET', '/v1/fleet/satellites');
    expect(first.status).toBe(200);
    expect(first.body).toEqual(page);
    expect(lastReceived(f.telemetry)).toMatchObject({ method: 'satellites', data: { limit: 100 } });
    const next = await f.api('GET', `/v1/fleet/satellites?limit=1000&cursor=${first.body.nextCursor}&status=stale&q=edge-`);
    expect(next.status).toBe(200);
    expect(lastReceived(f.telemetry)).toEqual({
      method: 'satellites', data: { limit: 1000, after: 'edge-07', status: 'stale', prefix: 'edge-' }, traceId: next.headers.get('x-trace-id'),
    });
    for (const status of ['online', 'offline', 'unknown']) {
      expect((await f.api('GET', `/v1/fleet/satellites?status=${status}&limit=5`)).status).toBe(200);
      expect(lastReceived(f.telemetry)?.data).toEqual({ limit: 5, status });
    }
  });

  it.each([
    ...PAGING_REFUSED,
    ['status=pending', 'status'],
    ['status=Online', 'status'],
    ['status=', 'status'],
    ['q=Edge', 'q'],
    ['q=edge.01', 'q'],
    ['q=', 'q'],
    ['q=' + 'a'.repeat(64), 'q'],
    ['page=2', ''],
  ])('refuses ?%s with 400 VALIDATION_FAILED naming %s, before any service is asked', async (q, path) => {
    const before = f.telemetry.received.length;
    const res = await f.api('GET', `/v1/fleet/satellites?${q}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.details).toEqual([expect.objectContaining({ path })]);
    expect(f.telemetry.received.length).toBe(before);
  });

  it('answers a viewer, and no one without a token', async () => {
    // registration's token lookup, answering that this token is a viewer's
    await using auth = await startStubService(f.hub.url, 'auth');
    auth.reply('verifyToken', rpcOk({ tokenId: 'tok_0123456789abcdef', user: 'vera', role: 'viewer', kind: 'api', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }));
    const viewer = 'upl_' + 'v'.repeat(43);
    f.telemetry.reply('satellites', rpcOk({ satellites: [row] }));
    const res = await f.api('GET', '/v1/fleet/satellites?status=online', { token: viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ satellites: [row] });
    expect(lastReceived(auth)?.method).toBe('verifyToken');
    expect((await f.api('GET', '/v1/fleet/satellites', { token: null })).status).toBe(401);
  });
});
