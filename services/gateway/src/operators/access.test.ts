import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { controllers } from '../gateway.module.js';
import { minimumRole } from './access.js';
import { routesOf } from './routes.js';

describe('access table', () => {
  it.each([
    ['GET', '/v1/groups', 'viewer'],
    ['GET', '/v1/satellites/:name/state', 'viewer'],
    ['GET', '/v1/stream/telemetry', 'viewer'],
    ['PUT', '/v1/groups/:group', 'operator'],
    ['DELETE', '/v1/groups/:group/satellites/:name', 'operator'],
    ['PUT', '/v1/satellites/:name/config', 'operator'],
    ['POST', '/v1/commands', 'operator'],
    ['POST', '/v1/commands/:id/cancel', 'operator'],
    ['POST', '/v1/satellites', 'admin'],
    ['DELETE', '/v1/satellites/:name', 'admin'],
    ['POST', '/v1/satellites/:name/token', 'admin'],
    ['GET', '/v1/users', 'admin'],
    ['PATCH', '/v1/users/:name', 'admin'],
    ['GET', '/v1/tokens', 'admin'],
    ['DELETE', '/v1/tokens/:id', 'admin'],
    ['GET', '/v1/audit', 'admin'],
  ])('%s %s needs %s', (method, route, role) => {
    expect(minimumRole(method, route)).toBe(role);
  });

  it('lets no role below operator change anything through any route', () => {
    const all = routesOf(controllers);
    expect(all.map((r) => `${r.method} ${r.route}`)).toEqual(expect.arrayContaining(['PUT /v1/groups/:group', 'PATCH /v1/users/:name', 'POST /v1/login']));
    expect(all.find((r) => r.route === '/v1/login')?.public).toBe(true);
    for (const r of all) {
      if (r.method === 'GET' || r.method === 'HEAD') continue;
      expect(minimumRole(r.method, r.route), `${r.method} ${r.route}`).not.toBe('viewer');
    }
  });
});
