// The executor against a real hub and leaf: commands fetched by the pending catch-up (answered here
// by a stand-in for the command service), verified, run at most once across redelivery and restarts,
// results queued in the site's OUTBOX_RESULTS.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAccount } from '@nats-io/nkeys';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { CommandResult, ExecutorEnv, PENDING_COMMANDS_ALL, SIGNATURE_HEADER, loadEnv, rpcOk, subjects, type Command } from '@uplink/contracts';
import { jsFor, messageHeaders } from '@uplink/bus';
import { createLogger } from '@uplink/observability';
import { leafConnected, startHub, startLeaf, tempDir, waitFor } from '@uplink/testkit';
import { startExecutor } from './executor.js';
import { createStandaloneHost, type ExecutorHost } from './host.js';

const log = createLogger({ service: 'test', level: 'silent' });

describe('executor', () => {
  it('runs each command id at most once, rejects forged or misaddressed ones, expires late ones, and re-sends stored results', async () => {
    await using hub = await startHub();
    await using leaf = await startLeaf({ name: 'edge-01', hubLeafUrl: hub.leafUrl });
    await using dir = await tempDir('uplink-executor-');
    await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });

    const kp = createAccount();
    const signed = (c: Command) => {
      const body = JSON.stringify(c);
      return { body, signature: Buffer.from(kp.sign(Buffer.from(body))).toString('base64url') };
    };
    const cmd = (over: Partial<Command>): Command => ({
      id: randomUUID(),
      commandId: randomUUID(),
      satellite: 'edge-01',
      action: 'sync-now',
      args: {},
      timeoutSeconds: 5,
      deadline: new Date(Date.now() + 60_000).toISOString(),
      issuedAt: new Date().toISOString(),
      ...over,
    });
    const runsThis = cmd({});
    const late = cmd({ action: 'ping', deadline: new Date(Date.now() - 1_000).toISOString() });
    const elsewhere = cmd({ satellite: 'edge-02' });
    const forged = signed(cmd({ action: 'ping' }));
    forged.body = forged.body.replace('"ping"', '"gc"');
    const pending = [signed(runsThis), signed(late), signed(elsewhere), forged];

    // stand-in for the command service's catch-up responder on the hub
    const hubNc = await connect({ servers: hub.url });
    let requests = 0;
    hubNc.subscribe(PENDING_COMMANDS_ALL, {
      callback: (_err, m) => {
        requests++;
        m.respond(JSON.stringify(rpcOk({ commands: pending })));
      },
    });
    await hubNc.flush();

    let syncs = 0;
    const host = (): ExecutorHost => ({
      ...createStandaloneHost({ statusUrl: 'http://127.0.0.1:1', logger: log, config: {}, recent: () => [] }),
      syncNow: async () => ({ synced: ++syncs }),
    });
    const env = loadEnv(ExecutorEnv, {
      SATELLITE_NAME: 'edge-01',
      NATS_URL: leaf.url,
      LEAF_MONITOR_URL: leaf.monitorUrl,
      DATA_DIR: dir.path,
      COMMAND_SIGNING_KEY: kp.getPublicKey(),
      LOG_LEVEL: 'silent',
    });

    const leafNc = await connect({ servers: leaf.url });
    const jsm = await jetstreamManager(leafNc, { domain: 'edge-01' });
    const results = async (): Promise<CommandResult[]> => {
      const info = await jsm.streams.info('OUTBOX_RESULTS').catch(() => undefined);
      const out: CommandResult[] = [];
      for (let seq = info?.state.first_seq ?? 1; info && seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage('OUTBOX_RESULTS', { seq }).catch(() => undefined);
        if (m) out.push(CommandResult.parse(m.json()));
      }
      return out;
    };
    const drained = async () => {
      const c = await jsm.consumers.info('CMD_LOCAL', 'executor');
      return c.num_pending === 0 && c.num_ack_pending === 0;
    };
    const finalOf = async (id: string) => (await results()).find((r) => r.id === id && !['delivered', 'running'].includes(r.status));

    try {
      let executor = await startExecutor(env, { logger: log, host: host() });
      await executor.ready;
      await waitFor(async () => (await finalOf(runsThis.id)) && (await finalOf(late.id)) && (await finalOf(elsewhere.id)) && (await finalOf(JSON.parse(forged.body).id)), {
        what: 'four final results',
      });
      expect(await finalOf(runsThis.id)).toMatchObject({ status: 'succeeded', exitCode: 0, output: expect.stringContaining('"synced": 1') });
      expect(await finalOf(late.id)).toMatchObject({ status: 'expired', error: expect.stringMatching(/deadline/) });
      expect(await finalOf(elsewhere.id)).toMatchObject({ status: 'rejected', error: expect.stringMatching(/edge-02/) });
      expect(await finalOf(JSON.parse(forged.body).id)).toMatchObject({ status: 'rejected', error: expect.stringMatching(/signature/) });
      const statuses = (await results()).filter((r) => r.id === runsThis.id).map((r) => r.status);
      expect(statuses).toEqual(['delivered', 'running', 'succeeded']);
      expect(syncs).toBe(1);
      expect(executor.runs).toBe(1);

      // the cloud has not seen the results yet and hands the same commands out again: nothing re-runs
      const before = requests;
      executor.catchUp('test');
      await waitFor(() => requests > before, { what: 'second catch-up' });
      // redelivery through CMD_LOCAL itself (a new stream message with the same execution id)
      await jsFor(leafNc, 'edge-01').publish(subjects.localCmd('edge-01'), Buffer.from(pending[0]!.body), {
        headers: messageHeaders('command', { [SIGNATURE_HEADER]: pending[0]!.signature }),
        msgID: `again-${runsThis.id}`,
      });
      await waitFor(drained, { what: 'CMD_LOCAL drained' });
      await executor.close();

      // a restart on the same data dir remembers what ran
      executor = await startExecutor(env, { logger: log, host: host() });
      await executor.ready;
      await waitFor(() => executor.catchUps > 0, { what: 'catch-up after restart' });
      await waitFor(drained, { what: 'CMD_LOCAL drained after restart' });
      expect(syncs).toBe(1);
      expect(executor.runs).toBe(0);
      // the same result ids: the OUTBOX dedupe keeps one copy of each
      expect((await results()).filter((r) => r.id === runsThis.id).map((r) => r.status)).toEqual(['delivered', 'running', 'succeeded']);
      await executor.close();
    } finally {
      await leafNc.close();
      await hubNc.close();
    }
  });
});
