// Bad REST input gets a 4xx with a stable code and leaves nothing half-written in Postgres.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startSystem, type System } from './support/system.js';

let sys: System;
let db: pg.Client;
beforeAll(async () => {
  sys = await startSystem();
  db = new pg.Client({ connectionString: sys.pg.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await sys?.[Symbol.asyncDispose]();
});

async function raw(method: string, path: string, body: string | undefined, contentType = 'application/json') {
  const res = await fetch(sys.gateway + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
}

async function rowCounts() {
  const r = await db.query<{ t: string; n: string }>(
    `SELECT 'satellites' t, count(*) n FROM satellites UNION ALL SELECT 'groups', count(*) FROM groups UNION ALL SELECT 'group_satellites', count(*) FROM group_satellites`,
  );
  return Object.fromEntries(r.rows.map((x) => [x.t, Number(x.n)]));
}

describe('REST input validation', () => {
  const group = JSON.stringify({ registry: 'http://127.0.0.1:1', artifacts: [{ repository: 'a/b', digest: 'sha256:' + 'f'.repeat(64) }] });

  it.each([
    ['PUT', '/v1/groups/Line.1', group, 400, 'VALIDATION_FAILED'],
    ['PUT', '/v1/groups/LINE', group, 400, 'VALIDATION_FAILED'],
    ['POST', '/v1/satellites', JSON.stringify({ name: 'edge.01' }), 400, 'VALIDATION_FAILED'],
    ['POST', '/v1/satellites', JSON.stringify({ name: 'EDGE-01' }), 400, 'VALIDATION_FAILED'],
    ['POST', '/v1/satellites', JSON.stringify({ name: 'edge-01', colour: 'red' }), 400, 'VALIDATION_FAILED'],
    ['PUT', '/v1/groups/line-1', JSON.stringify({ registry: 'http://x', artifacts: [], extra: 1 }), 400, 'VALIDATION_FAILED'],
    ['PUT', '/v1/groups/line-1', '{"registry": "http://x", ', 400, 'INVALID_JSON'],
    ['POST', '/v1/satellites', JSON.stringify({ name: 'edge-01', labels: { k: 'x'.repeat(2_000_000) } }), 413, 'BODY_TOO_LARGE'],
    ['POST', '/v1/satellites', JSON.stringify({ name: 'edge-01', groups: ['no-such-group'] }), 404, 'GROUP_NOT_FOUND'],
    ['PUT', '/v1/groups/no-such-group/satellites/edge-01', undefined, 404, 'GROUP_NOT_FOUND'],
  ])('%s %s -> %i %s, nothing written', async (method, path, body, status, code) => {
    const before = await rowCounts();
    const res = await raw(method, path, body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message.length).toBeGreaterThan(5);
    expect(await rowCounts()).toEqual(before);
  });

  it('assigning an unknown satellite to an existing group fails without a half-written assignment', async () => {
    expect((await raw('PUT', '/v1/groups/line-9', group)).status).toBe(200);
    const before = await rowCounts();
    const res = await raw('PUT', '/v1/groups/line-9/satellites/ghost', undefined);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('SATELLITE_NOT_FOUND');
    expect(await rowCounts()).toEqual(before);
  });

  it('rejects a request without the admin token', async () => {
    const res = await fetch(sys.gateway + '/v1/groups');
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
  });
});
