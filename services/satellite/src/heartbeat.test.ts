import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { decodeMessage, Heartbeat, SCHEMA_HEADER, siteStreams } from '@uplink/contracts';
import { provisionStreams } from '@uplink/bus';
import { createLogger } from '@uplink/observability';
import { startHub, startLeaf, tempDir, waitFor } from '@uplink/testkit';
import { inventoryHash, startHeartbeat, type HeartbeatParts, type InventoryEntry } from './heartbeat.js';
import { createSystemSampler } from './system-sample.js';

const SAT = 'edge-hb';
const logger = createLogger({ service: 'test', level: 'silent' });
const digest = (c: string) => 'sha256:' + c.repeat(64);
const image = (repo: string, c: string): InventoryEntry => ({ repository: repo, tag: 'v1', digest: digest(c), sizeBytes: 1234 });

async function site() {
  const hub = await startHub();
  const leaf = await startLeaf({ name: SAT, hubLeafUrl: hub.leafUrl });
  const nc = await connect({ servers: leaf.url });
  const jsm = await jetstreamManager(nc, { domain: SAT });
  await provisionStreams(jsm, siteStreams(SAT));
  /** heartbeats stored in OUTBOX, in stream order, with their msg ids */
  const stored = async () => {
    const info = await jsm.streams.info('OUTBOX');
    const out: { hb: Heartbeat; msgId: string }[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('OUTBOX', { seq });
      if (!m) continue;
      const d = decodeMessage('heartbeat', m.header.get(SCHEMA_HEADER), m.data);
      if (!d.ok) throw new Error(d.reason);
      out.push({ hb: d.value, msgId: m.header.get('Nats-Msg-Id') });
    }
    return out;
  };
  return {
    nc,
    stored,
    async [Symbol.asyncDispose]() {
      await nc.close();
      await leaf[Symbol.asyncDispose]();
      await hub[Symbol.asyncDispose]();
    },
  };
}

function parts(inventory: InventoryEntry[]): HeartbeatParts {
  return {
    applied: { revision: 3, digest: digest('a') },
    inventory,
    sync: { status: 'synced', ready: inventory.length, total: inventory.length, failed: 0, lastSyncAt: new Date().toISOString() },
    link: { connected: true, lastContactAt: new Date().toISOString() },
  };
}

describe('heartbeat', () => {
  it('stores valid heartbeats in OUTBOX with machine figures, and picks up a new interval without restart', async () => {
    await using s = await site();
    await using dir = await tempDir();
    let interval = 3_600;
    const hb = startHeartbeat({
      nc: s.nc,
      satellite: SAT,
      intervalSeconds: () => interval,
      sample: () => parts([image('factory/plc', 'b')]),
      outbox: () => ({ messages: 7, bytes: 700, dropped: 2 }),
      storePath: dir.path,
      versions: { satellite: '0.1.0' },
      logger,
    });
    try {
      // the first one goes at once
      const [first] = await waitFor(async () => {
        const st = await s.stored();
        return st.length === 1 && st;
      }, { what: 'first heartbeat' });
      expect(first!.msgId).toBe(`heartbeat:${SAT}:${hb.bootId}:0`);
      const h = first!.hb;
      expect(h).toMatchObject({ satellite: SAT, seq: 0, bootId: hb.bootId, intervalSeconds: 3_600, applied: { revision: 3 }, versions: { satellite: '0.1.0' } });
      expect(h.memory.totalBytes).toBeGreaterThan(h.memory.usedBytes);
      expect(h.disk.freeBytes).toBeGreaterThan(0);
      expect(h.disk.usedBytes).toBeGreaterThan(0);
      expect(h.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(h.cpuPercent).toBeLessThanOrEqual(100);
      expect(h.outbox).toEqual({ messages: 7, bytes: 700, dropped: 2 });
      expect(h.sync.status).toBe('synced');

      // an hour to the next one, until the applied config says 1 s
      interval = 1;
      const later = await waitFor(async () => {
        const st = await s.stored();
        return st.length >= 3 && st;
      }, { what: 'heartbeats at the new interval', timeoutMs: 10_000 });
      expect(later.map((x) => x.hb.seq)).toEqual([0, 1, 2]);
      expect(later[2]!.hb.intervalSeconds).toBe(1);
    } finally {
      await hb.stop();
    }
  });

  it('sends a heartbeat soon after a change instead of at the next interval, at most one per gap', async () => {
    await using s = await site();
    await using dir = await tempDir();
    let revision = 3;
    const hb = startHeartbeat({
      nc: s.nc,
      satellite: SAT,
      intervalSeconds: () => 3_600,
      sample: () => ({ ...parts([]), applied: { revision, digest: digest('a') } }),
      storePath: dir.path,
      minGapMs: 1_500,
      logger,
    });
    try {
      await waitFor(async () => (await s.stored()).length === 1, { what: 'first heartbeat' });
      revision = 4;
      // several changes in a row make one heartbeat, after the gap since the last one
      for (let i = 0; i < 5; i++) hb.soon();
      const st = await waitFor(async () => {
        const x = await s.stored();
        return x.length >= 2 && x;
      }, { what: 'heartbeat after the change', timeoutMs: 10_000 });
      expect(st[1]!.hb.applied?.revision).toBe(4);
      await new Promise((r) => setTimeout(r, 2_000));
      expect((await s.stored()).length).toBe(2);
    } finally {
      await hb.stop();
    }
  });

  it('sends the whole inventory only when it changed since the last stored heartbeat, and again after OUTBOX drops', async () => {
    await using s = await site();
    let inventory = [image('factory/plc', 'b'), image('factory/hmi', 'c')];
    let dropped = 0;
    const hb = startHeartbeat({
      nc: s.nc,
      satellite: SAT,
      intervalSeconds: () => 3_600,
      sample: () => parts(inventory),
      outbox: () => ({ messages: 0, bytes: 0, dropped }),
      logger,
    });
    try {
      await waitFor(async () => (await s.stored()).length === 1, { what: 'first heartbeat' });
      await hb.beat();
      inventory = [inventory[1]!, inventory[0]!]; // same images in another order: unchanged
      await hb.beat();
      inventory = [...inventory, image('factory/vision', 'd')];
      await hb.beat();
      await hb.beat();
      dropped = 5; // OUTBOX dropped messages since: the whole list may have been among them
      await hb.beat();
      await hb.beat();
      const st = (await s.stored()).map((x) => x.hb);
      expect(st.map((h) => h.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(st.map((h) => h.inventory.images?.length)).toEqual([2, undefined, undefined, 3, undefined, 3, undefined]);
      expect(st[0]!.inventory.hash).toBe(inventoryHash(inventory.slice(0, 2)));
      expect(st[2]!.inventory.hash).toBe(st[0]!.inventory.hash);
      expect(st[3]!.inventory.hash).toBe(inventoryHash(inventory));
      expect(st[4]!.inventory.hash).toBe(st[3]!.inventory.hash);
    } finally {
      await hb.stop();
    }
  });

  it('never waits for a slow sampler: sends on time with the last good values', async () => {
    await using s = await site();
    let slow = false;
    let released: () => void = () => undefined;
    const hb = startHeartbeat({
      nc: s.nc,
      satellite: SAT,
      intervalSeconds: () => 3_600,
      sample: async () => {
        if (slow) await new Promise<void>((r) => (released = r));
        return parts([image('factory/plc', 'b')]);
      },
      outbox: () => new Promise(() => undefined), // never answers
      system: createSystemSampler({ path: process.cwd() }),
      sampleTimeoutMs: 100,
      logger,
    });
    try {
      await waitFor(async () => (await s.stored()).length === 1, { what: 'first heartbeat' });
      slow = true;
      const t0 = Date.now();
      const h = await hb.beat();
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(h?.applied).toEqual({ revision: 3, digest: digest('a') });
      expect(h?.inventory.images).toBeUndefined();
      expect(h?.outbox).toEqual({ messages: 0, bytes: 0, dropped: 0 });
      released();
      expect((await s.stored()).map((x) => x.hb.seq)).toEqual([0, 1]);
    } finally {
      await hb.stop();
    }
  });
});
