// A site runs only what the command service signed for it, and never runs a command twice: a tampered
// or misaddressed command ends `rejected`; an executor killed mid-command does not run it again.
import { describe, expect, it } from 'vitest';
import { createCommandSigner } from '@uplink/command';
import type { CreatedCommand } from '@uplink/contracts';
import { waitFor } from '@uplink/testkit';
import { startCommandSystem } from './support/commands-system.js';

describe('command safety at the edge', () => {
  it('rejects a command whose signature does not match its body and one addressed to another site, running neither', async () => {
    await using sys = await startCommandSystem();
    // the executor is off: the commands wait in the cloud, where they are tampered with
    const site = await sys.addSite('edge-01', { executor: false });
    await sys.addSatellites(['edge-02']);
    const post = async () => (await sys.api<CreatedCommand>('POST', '/v1/commands', { target: { satellite: 'edge-01' }, action: 'ping', args: {} })).body.id;
    const tampered = await post();
    const misaddressed = await post();
    const bodyOf = async (id: string) => (await sys.sql<{ execution_id: string; body: string }>('SELECT execution_id, body FROM command_targets WHERE command_id = $1', [id]))[0]!;

    // same signature, different body: the args were changed
    const t = await bodyOf(tampered);
    await sys.sql('UPDATE command_targets SET body = $2 WHERE execution_id = $1', [t.execution_id, t.body.replace('"args":{}', '"args":{"delayMs":1}')]);
    // a valid signature over a command for edge-02 (a replay of another site's command)
    const m = await bodyOf(misaddressed);
    const forged = m.body.replace('"satellite":"edge-01"', '"satellite":"edge-02"');
    await sys.sql('UPDATE command_targets SET body = $2, signature = $3 WHERE execution_id = $1', [
      m.execution_id,
      forged,
      createCommandSigner(sys.signing.seed).sign(Buffer.from(forged)),
    ]);

    const executor = await site.startExecutor();
    const a = await sys.waitForTarget(tampered, 'edge-01', 'rejected');
    expect(a.error).toMatch(/signature/);
    const b = await sys.waitForTarget(misaddressed, 'edge-01', 'rejected');
    expect(b.error).toMatch(/edge-02/);
    expect(executor.runs).toBe(0);
    expect((await sys.view(tampered)).status).toBe('failed');
  });

  it('does not run a command again after the executor was killed while running it', async () => {
    await using sys = await startCommandSystem();
    const site = await sys.addSite('edge-01', { executor: false, ackWaitS: 2 });
    site.startExecutorProcess();
    const created = await sys.api<CreatedCommand>('POST', '/v1/commands', { target: { satellite: 'edge-01' }, action: 'ping', args: { delayMs: 60_000 }, timeoutSeconds: 120 });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const running = await sys.waitForTarget(id, 'edge-01', 'running', 40_000);

    // killed mid-command; the unacknowledged command is delivered again to the restarted executor
    await site.executorProc!.stop('SIGKILL');
    site.startExecutorProcess();
    const failed = await sys.waitForTarget(id, 'edge-01', 'failed', 40_000);
    expect(failed.error).toMatch(/not run again/);
    expect(failed.startedAt).toBe(running.startedAt);
    // it started once: one `running` transition, and it did not finish its minute-long delay
    const events = await sys.sql<{ n: string }>(`SELECT count(*) AS n FROM command_events WHERE command_id = $1 AND event = 'running'`, [id]);
    expect(Number(events[0]!.n)).toBe(1);
    await waitFor(async () => (await sys.view(id)).status === 'failed', { what: 'command failed' });
  });
});
