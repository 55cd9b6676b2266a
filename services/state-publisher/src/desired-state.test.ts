import { describe, expect, it } from 'vitest';
import { DesiredState, DesiredStateContent, SatelliteConfig, contentDigest } from '@uplink/contracts';
import { computeDesiredState, registryName } from './desired-state.js';
import { pinGroupArtifacts, tagsToResolve } from './group-artifacts.js';
import { artifactKeys, artifactStatuses, desiredStateDocument, desiredStateEncoder, planRevisions, satelliteDigester, sharedContent } from './revisions.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const config = SatelliteConfig.parse({});

describe('registryName', () => {
  it('is readable and deterministic', () => {
    expect(registryName('http://127.0.0.1:5000')).toBe('127.0.0.1-5000');
    expect(registryName('http://127.0.0.1:5000/')).toBe('127.0.0.1-5000');
    expect(registryName('https://ghcr.io/acme/')).toBe('ghcr.io-acme');
    const long = `https://${'a'.repeat(70)}.example.com`;
    expect(registryName(long)).toHaveLength(63);
    expect(registryName(long)).toBe(registryName(long));
  });
});

describe('computeDesiredState', () => {
  it('pins, deduplicates and sorts artifacts and leaves unresolved ones out', () => {
    const content = computeDesiredState({
      satellite: 'edge-01',
      config,
      groups: [
        {
          name: 'web',
          registry: 'http://127.0.0.1:5000',
          resolved: [
            { repository: 'library/nginx', tag: 'latest', digest: d('b') },
            { repository: 'library/alpine', digest: d('a') },
            { repository: 'library/redis', tag: '7' }, // never resolved
          ],
        },
        {
          name: 'base',
          registry: 'http://127.0.0.1:5000/',
          resolved: [
            { repository: 'library/nginx', tag: '1.25', digest: d('b'), platforms: ['linux/arm64'] },
            { repository: 'library/nginx', tag: 'latest', digest: d('b') },
            { repository: 'library/alpine', tag: '3', digest: d('a') },
          ],
        },
      ],
    });
    expect(DesiredStateContent.parse(content)).toEqual(content);
    expect(content.registries).toEqual([{ name: '127.0.0.1-5000', url: 'http://127.0.0.1:5000' }]);
    expect(content.artifacts).toEqual([
      { registry: '127.0.0.1-5000', repository: 'library/alpine', tag: '3', digest: d('a') },
      // the nginx digest is wanted for every platform by "web", so no platform restriction survives
      { registry: '127.0.0.1-5000', repository: 'library/nginx', tag: '1.25', digest: d('b') },
      { registry: '127.0.0.1-5000', repository: 'library/nginx', tag: 'latest', digest: d('b') },
    ]);
    expect(content.artifacts.some((a) => a.repository === 'library/redis')).toBe(false);
  });

  it('gives the same digest whatever the order of groups and artifacts', () => {
    const g1 = { name: 'a', registry: 'http://r1:5000', resolved: [{ repository: 'x', tag: '1', digest: d('1') }, { repository: 'y', digest: d('2') }] };
    const g2 = { name: 'b', registry: 'http://r2:5000', resolved: [{ repository: 'z', tag: '1', digest: d('3'), platforms: ['linux/amd64', 'linux/arm64'] }] };
    const one = computeDesiredState({ satellite: 's', config, groups: [g1, g2] });
    const two = computeDesiredState({
      satellite: 's',
      config,
      groups: [{ ...g2, resolved: [{ ...g2.resolved[0]!, platforms: ['linux/arm64', 'linux/amd64'] }] }, { ...g1, resolved: [...g1.resolved].reverse() }],
    });
    expect(contentDigest(two)).toBe(contentDigest(one));
    expect(one.registries.map((r) => r.name)).toEqual(['r1-5000', 'r2-5000']);
  });

  it('keeps two URLs of one host apart', () => {
    const c = computeDesiredState({
      satellite: 's',
      config,
      groups: [
        { name: 'a', registry: 'http://reg.example', resolved: [{ repository: 'x', digest: d('1') }] },
        { name: 'b', registry: 'https://reg.example', resolved: [{ repository: 'x', digest: d('1') }] },
      ],
    });
    expect(new Set(c.registries.map((r) => r.name)).size).toBe(2);
    expect(c.artifacts).toHaveLength(2);
  });

  it('has the config and no artifacts for a satellite without groups', () => {
    const c = computeDesiredState({ satellite: 's', config: SatelliteConfig.parse({ heartbeatSeconds: 5 }), groups: [] });
    expect(c).toEqual({ satellite: 's', registries: [], artifacts: [], config: { ...config, heartbeatSeconds: 5 } });
  });
});

describe('pinGroupArtifacts', () => {
  it('expands tags, keeps given digests and reports tags never resolved', () => {
    const artifacts = [
      { repository: 'library/nginx', tags: ['1.25', 'latest'] },
      { repository: 'library/alpine', digest: d('a') },
      { repository: 'library/busybox', tags: ['1'], digest: d('c') },
    ];
    expect(tagsToResolve(artifacts)).toEqual([
      { repository: 'library/nginx', tag: '1.25' },
      { repository: 'library/nginx', tag: 'latest' },
    ]);
    const known = new Map([
      ['library/nginx:1.25', { digest: d('b') }],
      ['library/nginx:latest', { digest: undefined, error: 'connection refused' }],
    ]);
    const r = pinGroupArtifacts('http://127.0.0.1:5000', artifacts, known);
    expect(r.resolved).toEqual([
      { registry: '127.0.0.1-5000', repository: 'library/nginx', tag: '1.25', digest: d('b') },
      { registry: '127.0.0.1-5000', repository: 'library/alpine', digest: d('a') },
      { registry: '127.0.0.1-5000', repository: 'library/busybox', tag: '1', digest: d('c') },
    ]);
    expect(r.unresolved).toEqual([{ repository: 'library/nginx', tag: 'latest', reason: 'connection refused' }]);
  });
});

describe('planRevisions', () => {
  const content = (sat: string, digest: string) =>
    computeDesiredState({ satellite: sat, config, groups: [{ name: 'g', registry: 'http://r:1', resolved: [{ repository: 'x', digest }] }] });

  it('gives revision 1 to new satellites, old + 1 to changed ones and skips unchanged ones', () => {
    const a = content('a', d('1'));
    const b = content('b', d('1'));
    const c = content('c', d('2'));
    const current = new Map([
      ['b', { revision: 4, digest: contentDigest(b) }],
      ['c', { revision: 9, digest: contentDigest(content('c', d('1'))) }],
    ]);
    const plan = planRevisions([a, b, c].map((content) => ({ content })), current);
    expect(plan.map((p) => [p.satellite, p.revision])).toEqual([
      ['a', 1],
      ['c', 10],
    ]);
    expect(plan[0]!.digest).toBe(contentDigest(a));
  });

  it('continues after the last revision of a deleted satellite', () => {
    const plan = planRevisions([{ content: content('a', d('1')) }], new Map([['a', { revision: 7, digest: undefined }]]));
    expect(plan[0]!.revision).toBe(8);
  });
});

describe('shared content and the wire encoding', () => {
  const c = computeDesiredState({
    satellite: 'first',
    config: SatelliteConfig.parse({ mirrors: ['containerd'] }),
    groups: [{ name: 'g', registry: 'http://r:5000', resolved: [{ repository: 'x', tag: 'v1', digest: d('1') }] }],
  });

  it('gives one id for the content of every satellite name, and another for other content', () => {
    const a = sharedContent(c);
    expect(sharedContent({ ...c, satellite: 'edge-02' }).id).toBe(a.id);
    expect(a.content).not.toHaveProperty('satellite');
    expect(a.keys).toEqual(artifactKeys(c));
    expect(a.keys).toHaveLength(1);
    expect(sharedContent({ ...c, config: SatelliteConfig.parse({}) }).id).not.toBe(a.id);
  });

  it('encodes each document to JSON equal to the document, sharing the serialised part', () => {
    const encode = desiredStateEncoder();
    const issuedAt = new Date('2026-01-02T03:04:05.006Z');
    const text = new TextDecoder();
    for (const [i, sat] of ['first', 'edge-01', 'q"x'].entries()) {
      const doc = desiredStateDocument({ satellite: sat, revision: i + 1, digest: d('9'), content: { ...c, satellite: sat } }, issuedAt);
      const parsed: unknown = JSON.parse(text.decode(encode(doc)));
      expect(parsed).toEqual(doc);
      // a name the schema refuses is still encoded faithfully
      if (sat !== 'q"x') expect(DesiredState.parse(parsed)).toEqual(doc);
    }
    // another content with the same artifacts array but its own config is not mixed up
    const other = desiredStateDocument({ satellite: 'x', revision: 1, digest: d('8'), content: { ...c, satellite: 'x', config: SatelliteConfig.parse({}) } }, issuedAt);
    expect(JSON.parse(text.decode(encode(other)))).toEqual(other);
  });
});

describe('satelliteDigester', () => {
  it('gives contentDigest of the content under any satellite name', () => {
    const c = computeDesiredState({
      satellite: 'first',
      config: SatelliteConfig.parse({ mirrors: ['containerd'] }),
      groups: [{ name: 'g', registry: 'http://r:5000', resolved: [{ repository: 'x', tag: 'satellite', digest: d('1') }] }],
    });
    const digestFor = satelliteDigester(c);
    for (const sat of ['first', 'edge-01', 'a', 'satellite', 'z_9-x']) expect(digestFor(sat)).toBe(contentDigest({ ...c, satellite: sat }));
  });
});

describe('artifactStatuses', () => {
  const desired = {
    revision: 3,
    digest: d('f'),
    artifacts: [
      { registry: 'r', repository: 'old', tag: 'a', digest: d('1') },
      { registry: 'r', repository: 'old', tag: 'b', digest: d('1') },
      { registry: 'r', repository: 'new', digest: d('2') },
    ],
  };
  const since = { [`r/old@${d('1')}`]: 1, [`r/new@${d('2')}`]: 3 };

  it('marks artifacts applied from the revision that introduced them', () => {
    expect(artifactStatuses(desired, since, { revision: 2, digest: d('e') })).toEqual([
      { repository: 'old', digest: d('1'), status: 'applied' },
      { repository: 'new', digest: d('2'), status: 'pending' },
    ]);
    expect(artifactStatuses(desired, since, { revision: 3, digest: d('f') }).every((a) => a.status === 'applied')).toBe(true);
    expect(artifactStatuses(desired, since, null).every((a) => a.status === 'pending')).toBe(true);
  });

  it('shows the status the satellite reported with the current revision, and ignores a report of an older one', () => {
    const reported = [
      { repository: 'old', digest: d('1'), status: 'ready' },
      { repository: 'new', digest: d('2'), status: 'failed', error: 'UNAUTHORIZED: bad credentials' },
    ];
    expect(artifactStatuses(desired, since, { revision: 3, digest: d('f') }, reported)).toEqual([
      { repository: 'old', digest: d('1'), status: 'ready' },
      { repository: 'new', digest: d('2'), status: 'failed', error: 'UNAUTHORIZED: bad credentials' },
    ]);
    expect(artifactStatuses(desired, since, { revision: 2, digest: d('e') }, reported).map((a) => a.status)).toEqual(['applied', 'pending']);
  });
});
