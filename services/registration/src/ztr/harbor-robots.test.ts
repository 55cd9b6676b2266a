// The Harbor robot client against a fake of Harbor's documented robot API v2.0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHarbor, type FakeHarbor } from '@uplink/testkit';
import { createHarborRobots } from './harbor-robots.js';

let harbor: FakeHarbor;
beforeAll(async () => {
  harbor = await startFakeHarbor();
});
afterAll(async () => {
  await harbor?.close();
});

describe('Harbor robot accounts', () => {
  it('issues a pull-only system robot per site, replacing an older one, and removes it', async () => {
    const robots = createHarborRobots({ url: harbor.url, username: harbor.username, password: harbor.password, projects: ['library', 'edge'] });
    expect(robots.registry).toBe(new URL(harbor.url).host);
    const first = await robots.issue('shop-17');
    expect(first.username).toBe('robot$uplink-shop-17');
    expect(harbor.robots()).toEqual([
      expect.objectContaining({
        name: 'robot$uplink-shop-17',
        level: 'system',
        duration: -1,
        permissions: [
          { kind: 'project', namespace: 'library', access: [{ resource: 'repository', action: 'pull' }] },
          { kind: 'project', namespace: 'edge', access: [{ resource: 'repository', action: 'pull' }] },
        ],
      }),
    ]);
    const second = await robots.issue('shop-17');
    expect(second.password).not.toBe(first.password);
    expect(harbor.robots().map((r) => r.secret)).toEqual([second.password]);
    await robots.issue('shop-18');
    expect(await robots.remove('shop-17')).toBe(true);
    expect(await robots.remove('shop-17')).toBe(false);
    expect(harbor.robots().map((r) => r.name)).toEqual(['robot$uplink-shop-18']);
  });

  it('reports refusals and an unreachable Harbor with a clear code', async () => {
    const wrong = createHarborRobots({ url: harbor.url, username: 'admin', password: 'wrong' });
    await expect(wrong.issue('x')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('unauthorized') });
    const away = createHarborRobots({ url: 'http://127.0.0.1:1', username: 'a', password: 'b', timeoutMs: 1_000 });
    await expect(away.issue('x')).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: expect.stringContaining('not reachable') });
  });
});
