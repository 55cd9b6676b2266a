import { describe, expect, it } from 'vitest';
import { nextRetryDue, planPrune, summarize, syncTargets } from './sync-plan.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('syncTargets', () => {
  it('groups artifacts per stored manifest, unions tags and platforms, and keeps the registry URL', () => {
    const targets = syncTargets({
      registries: [{ name: 'up', url: 'http://127.0.0.1:5000' }],
      artifacts: [
        { registry: 'up', repository: 'app', tag: 'v2', digest: d('a'), platforms: ['linux/amd64'] },
        { registry: 'up', repository: 'app', tag: 'latest', digest: d('a'), platforms: ['linux/arm64'] },
        { registry: 'up', repository: 'db', digest: d('b'), platforms: ['linux/amd64'] },
        { registry: 'up', repository: 'db', tag: '15', digest: d('b') },
        { registry: 'gone', repository: 'x', digest: d('c') },
      ],
    });
    expect(targets).toEqual([
      { key: `app@${d('a')}`, repository: 'app', upstreamRepository: 'app', registry: 'up', registryUrl: 'http://127.0.0.1:5000', digest: d('a'), tags: ['latest', 'v2'], platforms: ['linux/amd64', 'linux/arm64'] },
      // one of them wants every platform: all are kept
      { key: `db@${d('b')}`, repository: 'db', upstreamRepository: 'db', registry: 'up', registryUrl: 'http://127.0.0.1:5000', digest: d('b'), tags: ['15'], platforms: undefined },
      { key: `x@${d('c')}`, repository: 'x', upstreamRepository: 'x', registry: 'gone', registryUrl: undefined, digest: d('c'), tags: [], platforms: undefined },
    ]);
  });

  it('stores under the repository the naming rule gives', () => {
    const [t] = syncTargets({ registries: [], artifacts: [{ registry: 'r', repository: 'library/nginx', digest: d('a') }] }, (a) => `docker.io/${a.repository}`);
    expect(t).toMatchObject({ repository: 'docker.io/library/nginx', upstreamRepository: 'library/nginx', key: `docker.io/library/nginx@${d('a')}` });
  });
});

describe('planPrune', () => {
  it('untags tags no target names and unpins manifests no target is, keeping desired tags even on an old digest', () => {
    const plan = planPrune(
      [
        { repository: 'app', digest: d('1'), pinned: true },
        { repository: 'app', digest: d('1'), tag: 'latest', pinned: false },
        { repository: 'app', digest: d('1'), tag: 'v1', pinned: false },
        { repository: 'app', digest: d('2'), pinned: true },
        { repository: 'app', digest: d('9'), pinned: false },
        { repository: 'old', digest: d('3'), pinned: true },
        { repository: 'old', digest: d('3'), tag: 'v1', pinned: false },
      ],
      [{ repository: 'app', digest: d('2'), tags: ['latest'] }],
    );
    expect(plan).toEqual({
      untag: [
        { repository: 'app', tag: 'v1', digest: d('1') },
        { repository: 'old', tag: 'v1', digest: d('3') },
      ],
      unpin: [
        { repository: 'app', digest: d('1') },
        { repository: 'old', digest: d('3') },
      ],
    });
  });

  it('takes nothing away when the store holds exactly the targets', () => {
    expect(
      planPrune(
        [
          { repository: 'app', digest: d('2'), pinned: true },
          { repository: 'app', digest: d('2'), tag: 'latest', pinned: false },
        ],
        [{ repository: 'app', digest: d('2'), tags: ['latest'] }],
      ),
    ).toEqual({ untag: [], unpin: [] });
  });
});

describe('summarize', () => {
  it('says idle, syncing, synced, degraded or failed', () => {
    expect(summarize([]).status).toBe('idle');
    expect(summarize([{ status: 'ready' }, { status: 'pending' }])).toEqual({ status: 'syncing', ready: 1, total: 2, failed: 0 });
    expect(summarize([{ status: 'ready' }, { status: 'ready' }]).status).toBe('synced');
    expect(summarize([{ status: 'ready' }, { status: 'failed' }])).toEqual({ status: 'degraded', ready: 1, total: 2, failed: 1 });
    expect(summarize([{ status: 'failed' }]).status).toBe('failed');
  });

  it('says waiting when all that is left waits for a sync window', () => {
    expect(summarize([{ status: 'ready' }, { status: 'pending' }], 1).status).toBe('waiting');
    expect(summarize([{ status: 'failed' }, { status: 'pending' }], 1).status).toBe('waiting');
    // one fetching while another waits: syncing
    expect(summarize([{ status: 'pending' }, { status: 'pending' }], 1).status).toBe('syncing');
  });
});

describe('nextRetryDue', () => {
  it('is the earliest retry of a failed artifact', () => {
    expect(nextRetryDue([{ status: 'ready' }])).toBeUndefined();
    expect(
      nextRetryDue([
        { status: 'failed', nextRetryAt: '2030-01-01T00:00:10.000Z' },
        { status: 'failed', nextRetryAt: '2030-01-01T00:00:05.000Z' },
        { status: 'ready', nextRetryAt: '2030-01-01T00:00:01.000Z' },
      ]),
    ).toBe(Date.parse('2030-01-01T00:00:05.000Z'));
  });
});
