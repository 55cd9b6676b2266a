// Commands to many sites: a staged rollout stops when too many sites fail and cancels the rest; the API
// refuses bad commands before anything is sent, and cancels on request.
import { describe, expect, it } from 'vitest';
import { createStandaloneHost, type ExecutorHost } from '@uplink/executor';
import { createLogger } from '@uplink/observability';
import { connect } from '@nats-io/transport-node';
import { pendingCommandsSubject, type CommandList, type CommandView, type CreatedCommand, type PendingCommands, type RpcReply } from '@uplink/contracts';
import { waitFor } from '@uplink/testkit';
import { startCommandSystem } from './support/commands-system.js';

const log = createLogger({ service: 'test', level: 'silent' });

function host(onSync: () => Promise<unknown>): ExecutorHost {
  return { ...createStandaloneHost({ statusUrl: 'http://127.0.0.1:1', logger: log, config: {}, recent: () => [] }), syncNow: onSync };
}

describe('rollouts and the command API', () => {
  it('aborts a group rollout once failures pass the threshold and leaves the rest cancelled', async () => {
    await using sys = await startCommandSystem();
    const synced: string[] = [];
    const failing = host(async () => {
      throw new Error('disk full');
    });
    await sys.addSite('edge-01', { host: failing });
    await sys.addSite('edge-02', { host: failing });
    await sys.addSite('edge-03', { host: host(async () => synced.push('edge-03')) });
    await sys.addSatellites(['edge-01', 'edge-02', 'edge-03', 'edge-04', 'edge-05'], { group: 'line-1' });

    const created = await sys.api<CreatedCommand>('POST', '/v1/commands', {
      target: { group: 'line-1' },
      action: 'sync-now',
      args: {},
      rollout: { batchSize: 1, abortFailurePercent: 50, minExecuted: 2 },
    });
    expect(created.status).toBe(201);
    expect(created.body.targets).toBe(5);
    const view = await waitFor(
      async () => {
        const v = await sys.view(created.body.id);
        return v.status === 'aborted' ? v : undefined;
      },
      { what: 'rollout aborted' },
    );
    const statuses = Object.fromEntries(view.targets.map((t) => [t.satellite, t.status]));
    expect(statuses).toEqual({ 'edge-01': 'failed', 'edge-02': 'failed', 'edge-03': 'cancelled', 'edge-04': 'cancelled', 'edge-05': 'cancelled' });
    expect(view.targets[0]!.error).toMatch(/disk full/);
    expect(view.abortReason).toMatch(/2 of 2/);
    expect(view.counts).toMatchObject({ failed: 2, cancelled: 3 });
    expect(synced).toEqual([]);
    const listed = await sys.api<CommandList>('GET', '/v1/commands?target=group:line-1&status=aborted');
    expect(listed.body.commands.map((c) => c.id)).toEqual([created.body.id]);
    // the cancelled sites never got it, and a site coming back later is not handed it either
    const nc = await connect({ servers: sys.hub.url });
    try {
      for (const sat of ['edge-03', 'edge-04']) {
        const reply = (await nc.request(pendingCommandsSubject(sat), '{}', { timeout: 5_000 })).json<RpcReply<PendingCommands>>();
        expect(reply).toEqual({ ok: true, data: { commands: [] } });
      }
    } finally {
      await nc.close();
    }
  });

  it('refuses invalid commands with a stable code, and cancels queued targets', async () => {
    await using sys = await startCommandSystem();
    await sys.addSatellites(['edge-01', 'edge-02'], { group: 'line-1', labels: { site: 'plant-a' } });
    await sys.sql(`INSERT INTO groups (name, registry) VALUES ('empty', 'http://127.0.0.1:1')`);
    const post = (body: unknown) => sys.api<{ error: { code: string; message: string } } & CreatedCommand>('POST', '/v1/commands', body);

    const badArgs = await post({ target: { satellite: 'edge-01' }, action: 'set-log-level', args: { level: 'loud' } });
    expect(badArgs.status).toBe(400);
    expect(badArgs.body.error.code).toBe('VALIDATION_FAILED');
    expect(badArgs.body.error.message).toMatch(/args\.level/);
    expect((await post({ target: { satellite: 'edge-01' }, action: 'shell', args: { cmd: 'id' } })).status).toBe(400);
    expect((await post({ target: {}, action: 'ping' })).status).toBe(400);
    expect((await post({ target: { satellite: 'edge-01' }, action: 'ping', deadline: '2000-01-01T00:00:00Z' })).status).toBe(400);
    const missing = await post({ target: { satellite: 'edge-99' }, action: 'ping' });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'SATELLITE_NOT_FOUND']);
    const noGroup = await post({ target: { group: 'nope' }, action: 'ping' });
    expect([noGroup.status, noGroup.body.error.code]).toEqual([404, 'GROUP_NOT_FOUND']);
    expect((await post({ target: { group: 'empty' }, action: 'ping' })).status).toBe(400);
    expect((await post({ target: { selector: { site: 'plant-b' } }, action: 'ping' })).status).toBe(400);
    // nothing was created by any of these
    expect((await sys.sql('SELECT 1 FROM commands')).length).toBe(0);

    // a selector reaches both sites; no executor runs, so the targets stay queued until cancelled
    const created = await post({ target: { selector: { site: 'plant-a' } }, action: 'diagnostics', args: { logLines: 10 } });
    expect([created.status, created.body.targets]).toEqual([201, 2]);
    const cancelled = await sys.api<CommandView>('POST', `/v1/commands/${created.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.targets.map((t) => t.status)).toEqual(['cancelled', 'cancelled']);
    const again = await sys.api<{ error: { code: string } }>('POST', `/v1/commands/${created.body.id}/cancel`);
    expect([again.status, again.body.error.code]).toEqual([409, 'CONFLICT']);
    expect((await sys.api('GET', '/v1/commands/not-a-uuid')).status).toBe(400);
    expect((await sys.api('GET', '/v1/commands/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
