// The first whole path: an operator puts images in a group and assigns sites; each satellite
// receives its desired state through its leaf, also when its WAN link was down meanwhile.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@uplink/testkit';
import { startSystem, type Site } from './support/system.js';

const digest = (c: string) => 'sha256:' + c.repeat(64);
type StatusBody = { applied: { revision: number; digest: string } | null; history: { revision: number }[] };
type StateView = { desired: { revision: number; digest: string } | null; applied: { revision: number } | null };

async function appliedRevision(site: Site): Promise<number | undefined> {
  const res = await fetch(`${site.satellite!.statusUrl}/status`);
  const body = (await res.json()) as StatusBody;
  return body.applied?.revision;
}

async function historyOf(site: Site): Promise<number[]> {
  const text = await readFile(join(site.dataDir, 'state', 'history.jsonl'), 'utf8');
  return text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { revision: number }).revision);
}

describe('desired state from API to satellite across WAN outages', () => {
  it('converges every site, keeps a cut site on its last state, and catches it up after the outage', async () => {
    await using sys = await startSystem({ catchupIntervalS: 60 });
    const a = await sys.addSite('edge-01');
    const b = await sys.addSite('edge-02');
    await a.start();
    await b.start();

    for (const name of ['edge-01', 'edge-02']) expect((await sys.api('POST', '/v1/satellites', { name })).status).toBe(201);
    const put = (n: string) =>
      sys.api('PUT', '/v1/groups/line-1', { registry: 'http://127.0.0.1:1', artifacts: [{ repository: 'factory/plc-agent', digest: digest(n) }] });
    expect((await put('1')).status).toBe(200);
    expect((await sys.api('PUT', '/v1/groups/line-1/satellites/edge-01')).status).toBe(200);
    expect((await sys.api('PUT', '/v1/groups/line-1/satellites/edge-02')).status).toBe(200);

    const desiredOf = async (name: string) => (await sys.api<StateView>('GET', `/v1/satellites/${name}/state`)).body.desired?.revision;
    const r1 = await waitFor(() => desiredOf('edge-01'), { what: 'desired revision of edge-01' });
    await waitFor(async () => (await appliedRevision(a)) === r1 && (await appliedRevision(b)) === (await desiredOf('edge-02')), { what: 'both sites applied' });
    // the cloud learns what was applied
    await waitFor(async () => (await sys.api<StateView>('GET', '/v1/satellites/edge-01/state')).body.applied?.revision === r1, { what: 'applied revision reported' });

    // cut edge-02's link, change the group twice
    await b.cut();
    const before = await appliedRevision(b);
    expect((await put('2')).status).toBe(200);
    expect((await put('3')).status).toBe(200);
    const latest = await waitFor(async () => {
      const r = await desiredOf('edge-01');
      return r !== undefined && r >= r1 + 2 ? r : undefined;
    }, { what: 'two new revisions' });
    await waitFor(async () => (await appliedRevision(a)) === latest, { what: 'edge-01 converged' });
    expect(await appliedRevision(b)).toBe(before);

    // restart the cut site's satellite: it comes up from its persisted state
    await b.stop();
    await b.start();
    expect(await appliedRevision(b)).toBe(before);

    // restore: it converges to the latest, each revision applied at most once, never backwards
    await b.restore();
    const latestB = await waitFor(() => desiredOf('edge-02'), { what: 'edge-02 desired' });
    await waitFor(async () => (await appliedRevision(b)) === latestB, { what: 'edge-02 converged after the outage', timeoutMs: 30_000 });
    const history = await historyOf(b);
    expect(new Set(history).size).toBe(history.length);
    expect([...history].sort((x, y) => x - y)).toEqual(history);
    expect(history).not.toContain(latestB - 1);
  });
});
