import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ForwarderEnv, hubStreams, loadEnv, SCHEMA_HEADER, siteStreams, subjects, type SyncEvent } from '@uplink/contracts';
import { jsFor, provisionStreams, publishToOutbox } from '@uplink/bus';
import { createLogger } from '@uplink/observability';
import { leafConnected, startHub, startLeaf, startLinkProxy, waitFor } from '@uplink/testkit';
import { startForwarder, type StartForwarderOptions } from './forwarder.js';

const SAT = 'edge-fw';
const logger = createLogger({ service: 'test', level: 'silent' });

interface HubMsg {
  subject: string;
  seq: number;
  msgId: string;
  schema: string;
  data: string;
  time: number;
}

async function site(opts: { telemetryDedupeWindowNs?: number; telemetryMaxMsgSize?: number } = {}) {
  const hub = await startHub();
  const proxy = await startLinkProxy({ port: hub.leafPort });
  const leaf = await startLeaf({ name: SAT, hubLeafUrl: proxy.leafUrl });
  const hnc = await connect({ servers: hub.url });
  const hjsm = await jetstreamManager(hnc);
  await provisionStreams(hjsm, [
    { ...hubStreams.TELEMETRY, ...(opts.telemetryDedupeWindowNs ? { duplicate_window: opts.telemetryDedupeWindowNs } : {}) },
    hubStreams.RESULTS,
  ]);
  if (opts.telemetryMaxMsgSize) {
    const info = await hjsm.streams.info('TELEMETRY');
    await hjsm.streams.update('TELEMETRY', { ...info.config, max_msg_size: opts.telemetryMaxMsgSize });
  }
  const lnc = await connect({ servers: leaf.url });
  const ljsm = await jetstreamManager(lnc, { domain: SAT });
  await provisionStreams(ljsm, siteStreams(SAT));
  await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf linked' });
  const forwarders: { close(): Promise<void> }[] = [];

  return {
    hub,
    leaf,
    proxy,
    hnc,
    lnc,
    ljsm,
    start(env: Record<string, string> = {}, o: StartForwarderOptions = {}) {
      const config = loadEnv(ForwarderEnv, {
        SATELLITE_NAME: SAT,
        NATS_URL: leaf.url,
        STATUS_PORT: '0',
        LOG_LEVEL: 'silent',
        BACKOFF_MAX_MS: '300',
        OUTBOX_CHECK_INTERVAL_MS: '100',
        LEAF_MONITOR_URL: leaf.monitorUrl,
        DRAIN_RATE: '100000',
        ...env,
      });
      return startForwarder(config, { logger, ...o }).then((f) => (forwarders.push(f), f));
    },
    /** a sync event numbered n into OUTBOX; its msg id is `sync-<n>` */
    sync: (n: number, extra: Partial<SyncEvent> = {}) => publishToOutbox(lnc, SAT, 'sync', 'sync-event', { ...syncEvent(n), ...extra }, { msgId: `sync-${n}` }),
    /** a command result into OUTBOX (raw: the forwarder ships any message type) */
    result: async (n: number) => {
      const h = natsHeaders();
      h.set(SCHEMA_HEADER, 'command-result/1');
      await jsFor(lnc, SAT).publish(subjects.outbox(SAT, 'result'), JSON.stringify({ n }), { headers: h, msgID: `result-${n}` });
    },
    hubMessages: (stream: string) => readStream(hjsm, stream),
    async cut() {
      proxy.cut();
      await waitFor(async () => !(await leafConnected(leaf.monitorUrl)), { what: 'link down' });
    },
    async restore() {
      proxy.restore();
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'link up' });
    },
    async [Symbol.asyncDispose]() {
      for (const f of forwarders) await f.close().catch(() => undefined);
      await lnc.close();
      await hnc.close();
      await leaf[Symbol.asyncDispose]();
      await proxy.close();
      await hub[Symbol.asyncDispose]();
    },
  };
}

function syncEvent(n: number): SyncEvent {
  return { satellite: SAT, at: new Date().toISOString(), event: 'sync.completed', revision: n, ready: n };
}

async function readStream(jsm: JetStreamManager, stream: string): Promise<HubMsg[]> {
  const info = await jsm.streams.info(stream);
  const out: HubMsg[] = [];
  if (info.state.messages === 0) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (!m) continue;
    out.push({ subject: m.subject, seq: m.seq, msgId: m.header.get('Nats-Msg-Id'), schema: m.header.get(SCHEMA_HEADER), data: m.string(), time: m.time.getTime() });
  }
  return out;
}

const revisionOf = (m: HubMsg) => (JSON.parse(m.data) as SyncEvent).revision;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

async function outboxDepth(s: { ljsm: JetStreamManager }) {
  const t = await s.ljsm.streams.info('OUTBOX');
  const r = await s.ljsm.streams.info('OUTBOX_RESULTS');
  return t.state.messages + r.state.messages;
}

describe('forwarder', () => {
  it('ships each message to the hub with its payload, headers and id, then removes it from OUTBOX', async () => {
    await using s = await site();
    for (const n of range(0, 3)) await s.sync(n);
    await s.result(1);
    // the hub already has one of them: the forwarder learns it from the PubAck and still acks it
    await jsFor(s.hnc).publish(subjects.telemetry(SAT, 'sync'), JSON.stringify(syncEvent(9)), { msgID: 'sync-9' });
    await s.sync(9);

    const f = await s.start();
    await f.ready;
    await waitFor(async () => (await outboxDepth(s)) === 0, { what: 'OUTBOX drained' });
    const telemetry = await s.hubMessages('TELEMETRY');
    expect(telemetry.map((m) => m.msgId)).toEqual(['sync-9', 'sync-0', 'sync-1', 'sync-2']);
    expect(telemetry.every((m) => m.subject === `uplink.telemetry.${SAT}.sync`)).toBe(true);
    expect(telemetry.slice(1).map((m) => m.schema)).toEqual(['sync-event/1', 'sync-event/1', 'sync-event/1']);
    expect(telemetry.slice(1).map(revisionOf)).toEqual([0, 1, 2]);
    const results = await s.hubMessages('RESULTS');
    expect(results.map((m) => [m.subject, m.msgId, m.schema, m.data])).toEqual([[`uplink.result.${SAT}`, 'result-1', 'command-result/1', '{"n":1}']]);

    await waitFor(() => f.stats().forwarded === 4 && f.stats().duplicates === 1, { what: 'counters' });
    expect(f.stats()).toMatchObject({ dropped: 0, hubReachable: true });
    const metrics = await (await fetch(`${f.statusUrl}/metrics`)).text();
    expect(metrics).toMatch(/uplink_forwarder_forwarded_total\{kind="sync"\} 3/);
    expect(metrics).toMatch(/uplink_forwarder_duplicates_total\{kind="sync"\} 1/);
    expect((await fetch(`${f.statusUrl}/healthz`)).status).toBe(200);
  });

  it('after an outage, ships queued results before queued telemetry, then the telemetry oldest first', async () => {
    await using s = await site();
    const f = await s.start({ BATCH_SIZE: '50' });
    await f.ready;
    await s.cut();
    for (const n of range(0, 200)) await s.sync(n);
    await waitFor(() => f.stats().failedAttempts >= 1, { what: 'a failed attempt' });
    for (const n of range(0, 5)) await s.result(n);
    for (const n of range(200, 300)) await s.sync(n);
    // the hub stays unreachable for a few more attempts: no spinning meanwhile
    const failed = f.stats().failedAttempts;
    await waitFor(() => f.stats().failedAttempts >= failed + 2, { what: 'more failed attempts' });
    expect(f.stats().failedAttempts).toBeLessThan(40);
    expect(f.stats().hubReachable).toBe(false);

    await s.restore();
    await waitFor(async () => (await outboxDepth(s)) === 0, { what: 'OUTBOX drained' });
    const results = await s.hubMessages('RESULTS');
    const telemetry = await s.hubMessages('TELEMETRY');
    expect(results.map((m) => m.msgId)).toEqual(range(0, 5).map((n) => `result-${n}`));
    expect(telemetry.map(revisionOf)).toEqual(range(0, 300));
    expect(Math.max(...results.map((m) => m.time))).toBeLessThanOrEqual(telemetry[0]!.time);
    expect(f.stats()).toMatchObject({ forwarded: 305, duplicates: 0, dropped: 0, hubReachable: true });
  });

  it('keeps OUTBOX within its byte limit by dropping the oldest telemetry, counts the drops, and keeps every result', async () => {
    await using s = await site();
    const f = await s.start({ OUTBOX_MAX_BYTES: '40000', BATCH_SIZE: '20' });
    await f.ready;
    await s.cut();
    for (const n of range(0, 5)) await s.result(n);
    for (const n of range(0, 400)) await s.sync(n);
    await waitFor(() => f.stats().dropped > 0 && f.stats().backlog.bytes <= 40_000, { what: 'OUTBOX trimmed' });

    await s.restore();
    await waitFor(async () => (await outboxDepth(s)) === 0, { what: 'OUTBOX drained' });
    const results = await s.hubMessages('RESULTS');
    const telemetry = (await s.hubMessages('TELEMETRY')).map(revisionOf);
    expect(results).toHaveLength(5);
    // what arrived is the newest telemetry, contiguous; what is missing is exactly what was counted
    expect(telemetry.length).toBeGreaterThan(0);
    expect(telemetry.length).toBeLessThan(400);
    const dropped = 400 - telemetry.length;
    expect(telemetry).toEqual(range(dropped, 400));
    expect(f.stats()).toMatchObject({ dropped, droppedByStream: { telemetry: dropped, results: 0 } });
    // the forwarder's own view of OUTBOX (what heartbeats carry) is sampled: it follows shortly
    await waitFor(() => f.outbox().messages === 0, { what: 'outbox view emptied' });
    expect(f.outbox()).toEqual({ messages: 0, bytes: 0, dropped });
    const metrics = await (await fetch(`${f.statusUrl}/metrics`)).text();
    expect(metrics).toContain(`uplink_forwarder_dropped_total{stream="OUTBOX"} ${dropped}`);
  });

  it('drops queued telemetry older than the age limit and counts it', async () => {
    await using s = await site();
    const f = await s.start({ OUTBOX_MAX_AGE_S: '1' });
    await f.ready;
    await s.cut();
    for (const n of range(0, 10)) await s.sync(n);
    await waitFor(() => f.stats().dropped === 10, { what: 'old telemetry dropped' });
    await s.restore();
    for (const n of range(10, 15)) await s.sync(n);
    await waitFor(async () => (await s.hubMessages('TELEMETRY')).length === 5, { what: 'fresh telemetry forwarded' });
    expect((await s.hubMessages('TELEMETRY')).map(revisionOf)).toEqual(range(10, 15));
    expect(f.stats().dropped).toBe(10);
  });

  it('moves a message the hub refuses for good (too large) to the leaf DEAD stream and goes on', async () => {
    await using s = await site({ telemetryMaxMsgSize: 1_000 });
    await s.sync(0);
    await s.sync(1, { event: 'artifact.failed', error: 'x'.repeat(2_000) });
    await s.sync(2);
    const f = await s.start();
    await waitFor(async () => (await outboxDepth(s)) === 0, { what: 'OUTBOX drained' });
    expect((await s.hubMessages('TELEMETRY')).map(revisionOf)).toEqual([0, 2]);
    expect(f.stats()).toMatchObject({ forwarded: 2, rejected: 1 });
    const dead = await s.ljsm.streams.getMessage('DEAD', { last_by_subj: 'uplink.dead.OUTBOX' });
    expect(dead?.header.get('Uplink-Dead-Reason')).toMatch(/hub refused it: .*maximum/);
    expect(dead?.header.get('Uplink-Dead-Subject')).toBe(`uplink.outbox.${SAT}.sync`);
    expect((dead?.json() as SyncEvent).revision).toBe(1);
  });

  it('forwards again under the same id after a crash between PubAck and local ack: deduped in the window, recognisable after it', async () => {
    for (const windowNs of [undefined, 1_000_000_000]) {
      await using s = await site(windowNs ? { telemetryDedupeWindowNs: windowNs } : {});
      for (const n of range(0, 50)) await s.sync(n);
      let killedAt = 0;
      const a = await s.start({ BATCH_SIZE: '20' }, {
        // the first message goes alone (the probe) and is acked; kill after the first full batch
        onBatchAcknowledged: async (b) => {
          if (killedAt || b.count < 20) return;
          killedAt = Date.now();
          await a.kill();
        },
      });
      await waitFor(() => killedAt > 0, { what: 'first batch acknowledged by the hub' });
      expect(await s.hubMessages('TELEMETRY')).toHaveLength(21);
      expect(await outboxDepth(s)).toBe(49);
      // beyond the hub's dedupe window
      if (windowNs) await waitFor(() => Date.now() > killedAt + 1_500, { what: 'dedupe window passed' });

      const b = await s.start({ BATCH_SIZE: '20' });
      await waitFor(async () => (await outboxDepth(s)) === 0, { what: 'OUTBOX drained after restart' });
      const hubMsgs = await s.hubMessages('TELEMETRY');
      const ids = hubMsgs.map((m) => m.msgId);
      expect(new Set(ids)).toEqual(new Set(range(0, 50).map((n) => `sync-${n}`)));
      if (!windowNs) {
        expect(hubMsgs).toHaveLength(50);
        expect(b.stats()).toMatchObject({ forwarded: 29, duplicates: 20 });
      } else {
        // stored twice, under the same id and with the same body: a consumer dedupes by id
        expect(hubMsgs).toHaveLength(70);
        const bodies = new Map<string, Set<string>>();
        for (const m of hubMsgs) bodies.set(m.msgId, (bodies.get(m.msgId) ?? new Set()).add(m.data));
        for (const [id, copies] of bodies) expect(copies.size, id).toBe(1);
        expect(b.stats()).toMatchObject({ forwarded: 49, duplicates: 0 });
      }
    }
  });
});
