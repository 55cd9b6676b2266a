import { randomUUID } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@uplink/observability';
import { tempDir } from '@uplink/testkit';
import { openExecutionStore } from './execution-store.js';

const log = createLogger({ service: 'test', level: 'silent' });

describe('execution store', () => {
  it('remembers running and finished executions across a restart, drops a line cut short, forgets old ones', async () => {
    await using dir = await tempDir('uplink-exec-store-');
    const [a, b, old] = [randomUUID(), randomUUID(), randomUUID()];
    const commandId = randomUUID();
    let store = await openExecutionStore(dir.path, log);
    await store.markRunning({ id: a, commandId, action: 'ping', startedAt: new Date().toISOString() });
    await store.markRunning({ id: b, commandId, action: 'ping', startedAt: new Date().toISOString() });
    await store.finish({ id: b, commandId, action: 'ping' }, { id: b, commandId, satellite: 'edge-01', status: 'succeeded', at: new Date().toISOString(), exitCode: 0 });
    await store.close();
    const journal = join(dir.path, 'executor', 'executions.jsonl');
    // a record from long ago, and a crash in the middle of writing a line
    await appendFile(journal, JSON.stringify({ id: old, commandId, action: 'ping', state: 'done', updatedAt: '2020-01-01T00:00:00Z' }) + '\n{"id":"' + randomUUID());

    store = await openExecutionStore(dir.path, log);
    expect(store.get(a)?.state).toBe('running');
    expect(store.get(b)).toMatchObject({ state: 'done', result: { status: 'succeeded' } });
    expect(store.get(old)).toBeUndefined();
    expect(store.size).toBe(2);
    await store.close();
    // rewritten: one line per execution, whole lines only
    const lines = (await readFile(journal, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
  });
});
