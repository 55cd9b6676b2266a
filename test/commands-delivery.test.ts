// Remote commands reach their site and their results come back: at once over a live link, after the
// link returns when it was cut, and never when the deadline passed during the outage.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { waitFor } from '@uplink/testkit';
import type { CommandList, CreatedCommand } from '@uplink/contracts';
import { startCommandSystem } from './support/commands-system.js';

/** execution ids the site's executor recorded (its journal) */
async function executionsOn(dataDir: string): Promise<string[]> {
  const text = await readFile(join(dataDir, 'executor', 'executions.jsonl'), 'utf8').catch(() => '');
  return [...new Set(text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id))];
}

describe('remote commands to one site', () => {
  it('completes a command to a connected site, runs one issued during an outage after the link returns, and expires one whose deadline passed meanwhile', async () => {
    await using sys = await startCommandSystem();
    const site = await sys.addSite('edge-01');

    // connected: the result, with its output and timings, is stored and shown
    const created = await sys.api<CreatedCommand>('POST', '/v1/commands', { target: { satellite: 'edge-01' }, action: 'ping', args: {}, timeoutSeconds: 10 });
    expect(created.status).toBe(201);
    expect(created.body.targets).toBe(1);
    const done = await sys.waitForTarget(created.body.id, 'edge-01', 'succeeded');
    expect(done).toMatchObject({ satellite: 'edge-01', status: 'succeeded', exitCode: 0, output: 'pong' });
    expect(Date.parse(done.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(done.startedAt!));
    const view = await sys.view(created.body.id);
    expect(view).toMatchObject({ id: created.body.id, action: 'ping', status: 'succeeded' });
    // every transition is an event on the hub's EVENTS stream
    const nc = await connect({ servers: sys.hub.url });
    try {
      const jsm = await jetstreamManager(nc);
      await waitFor(async () => {
        const subjects = (await jsm.streams.info('EVENTS', { subjects_filter: 'uplink.events.command.>' })).state.subjects ?? {};
        return ['created', 'delivered', 'running', 'succeeded', 'completed'].every((v) => (subjects[`uplink.events.command.${v}`] ?? 0) > 0);
      }, { what: 'command events on EVENTS' });
    } finally {
      await nc.close();
    }
    const listed = await sys.api<CommandList>('GET', '/v1/commands?target=sat:edge-01&status=succeeded');
    expect(listed.body.commands.map((c) => c.id)).toContain(created.body.id);

    // the link is cut: one command with a long deadline, one with a deadline inside the outage
    await site.cut();
    const later = await sys.api<CreatedCommand>('POST', '/v1/commands', { target: { satellite: 'edge-01' }, action: 'ping', args: {} });
    const deadline = new Date(Date.now() + 1_500).toISOString();
    const tooLate = await sys.api<CreatedCommand>('POST', '/v1/commands', { target: { satellite: 'edge-01' }, action: 'ping', args: { delayMs: 1 }, deadline });
    expect(later.status).toBe(201);
    expect(tooLate.status).toBe(201);
    const expired = await sys.waitForTarget(tooLate.body.id, 'edge-01', 'expired');
    expect(expired.error).toMatch(/deadline/);
    expect((await sys.view(later.body.id)).targets[0]!.status).toBe('queued');
    const executedBefore = (await executionsOn(site.dataDir)).length;

    // the link returns: the queued command runs and its result arrives; the expired one never runs
    await site.restore();
    await sys.waitForTarget(later.body.id, 'edge-01', 'succeeded', 30_000);
    expect((await sys.view(tooLate.body.id)).targets[0]!.status).toBe('expired');
    expect((await sys.view(tooLate.body.id)).status).toBe('failed');
    const files = await executionsOn(site.dataDir);
    expect(files.length).toBe(executedBefore + 1);
    const expiredExecution = (await sys.sql<{ execution_id: string }>('SELECT execution_id FROM command_targets WHERE command_id = $1', [tooLate.body.id]))[0]!;
    expect(files).not.toContain(expiredExecution.execution_id);
    expect(site.executor!.runs).toBe(2);
  });
});
