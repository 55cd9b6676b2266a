import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentDigest, type DesiredState } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { tempDir } from '@uplink/testkit';
import { openStateStore } from './state-store.js';

const log = createLogger({ service: 'satellite-test', level: 'silent' });

function doc(satellite: string, revision: number): DesiredState {
  const content = { satellite, registries: [], artifacts: [], config: { heartbeatSeconds: 30, mirrors: [], directDelivery: false, bandwidthLimit: 0, syncWindows: [] } };
  return { ...content, revision, digest: contentDigest(content), issuedAt: new Date().toISOString() };
}

describe('state store', () => {
  it('persists the applied state and its history across reopen', async () => {
    await using dir = await tempDir();
    const store = await openStateStore(dir.path, 'edge-01', log);
    expect(store.applied).toBeNull();
    await store.commit(doc('edge-01', 1));
    const applied = await store.commit(doc('edge-01', 3));

    const again = await openStateStore(dir.path, 'edge-01', log);
    expect(again.applied).toEqual(applied);
    expect(again.document?.revision).toBe(3);
    expect(again.history().map((h) => h.revision)).toEqual([1, 3]);
    const lines = (await readFile(join(dir.path, 'state', 'history.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).revision)).toEqual([1, 3]);
  });

  it('survives a torn history line and keeps appending parseable lines', async () => {
    await using dir = await tempDir();
    const store = await openStateStore(dir.path, 'edge-01', log);
    await store.commit(doc('edge-01', 1));
    await appendFile(join(dir.path, 'state', 'history.jsonl'), '{"revision":2,"dig');
    const again = await openStateStore(dir.path, 'edge-01', log);
    await again.commit(doc('edge-01', 2));
    const third = await openStateStore(dir.path, 'edge-01', log);
    expect(third.history().map((h) => h.revision)).toEqual([1, 2]);
  });

  it('refuses a data directory of another satellite and an unreadable state file with a clear code', async () => {
    await using dir = await tempDir();
    await (await openStateStore(dir.path, 'edge-01', log)).commit(doc('edge-01', 1));
    await expect(openStateStore(dir.path, 'edge-02', log)).rejects.toMatchObject({ code: 'DATA_DIR_FOREIGN' });
    await writeFile(join(dir.path, 'state', 'applied.json'), '{"satellite":');
    await expect(openStateStore(dir.path, 'edge-01', log)).rejects.toMatchObject({ code: 'STATE_UNREADABLE' });
  });
});
