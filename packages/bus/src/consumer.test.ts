import { describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { consumer, hubStreams, SCHEMA_HEADER, type StreamSpec } from '@uplink/contracts';
import { createLogger, currentTraceId, withNewTrace } from '@uplink/observability';
import { startHub, waitFor } from '@uplink/testkit';
import { runBatchConsumer, runConsumer } from './consumer.js';
import { InvalidMessageError, RetryableError } from './errors.js';
import { provisionStream, provisionStreams } from './provision.js';
import { messageHeaders, publishMessage, traceHeaders } from './publish.js';

const logger = createLogger({ service: 'bus-test', level: 'silent' });
const applied = (revision: number) => ({ satellite: 'edge-01', revision, digest: 'sha256:' + 'a'.repeat(64), at: new Date().toISOString() });
const spec = consumer({ durable_name: 'test-applied', description: 'test', filter_subject: 'uplink.telemetry.*.applied' });

describe('bus', () => {
  it('provisions streams idempotently and updates a changed limit without losing data', async () => {
    await using hub = await startHub();
    const nc = await connect({ servers: hub.url });
    try {
      const jsm = await jetstreamManager(nc);
      await provisionStreams(jsm, hubStreams);
      expect(await provisionStream(jsm, hubStreams.STATE)).toBe('unchanged');
      await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(1));
      const changed: StreamSpec = { ...hubStreams.TELEMETRY, max_age: 3_600 * 1e9 };
      expect(await provisionStream(jsm, changed)).toBe('updated');
      expect((await jsm.streams.info('TELEMETRY')).state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it('acks handled messages, retries passing faults and dead-letters invalid ones', async () => {
    await using hub = await startHub();
    const nc = await connect({ servers: hub.url });
    try {
      await provisionStreams(await jetstreamManager(nc), hubStreams);
      const seen: number[] = [];
      let failOnce = true;
      const dead: string[] = [];
      const runner = runConsumer({
        nc, stream: 'TELEMETRY', consumer: spec, type: 'state-applied', logger, concurrency: 2,
        backoff: { initialMs: 50, maxMs: 100 },
        onDeadLetter: (reason) => dead.push(reason),
        handler: async (body) => {
          if (body.revision === 2 && failOnce) {
            failOnce = false;
            throw new RetryableError('database busy');
          }
          seen.push(body.revision);
        },
      });
      await runner.ready;
      await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(1));
      await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(2));
      // wrong body, unknown version, no header
      const h = headers();
      h.set(SCHEMA_HEADER, 'state-applied/1');
      nc.publish('uplink.telemetry.edge-01.applied', '{"satellite":"Bad.Name"}', { headers: h });
      const h2 = headers();
      h2.set(SCHEMA_HEADER, 'state-applied/9');
      nc.publish('uplink.telemetry.edge-01.applied', JSON.stringify(applied(3)), { headers: h2 });
      nc.publish('uplink.telemetry.edge-01.applied', 'not json');
      await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(4));

      await waitFor(() => seen.length === 3 && dead.length === 3, { what: 'all messages handled' });
      expect(seen.sort()).toEqual([1, 2, 4]);
      expect(dead.some((d) => d.includes('unsupported version 9'))).toBe(true);
      expect(dead.some((d) => d.includes('missing Uplink-Schema'))).toBe(true);
      const jsm = await jetstreamManager(nc);
      const deadInfo = await waitFor(async () => {
        const i = await jsm.streams.info('DEAD');
        if (i.state.messages !== 3) throw new Error('dead count ' + i.state.messages); return i;
      }, { what: 'dead letters stored' });
      expect(deadInfo.state.messages).toBe(3);
      const first = await jsm.streams.getMessage('DEAD', { seq: 1 });
      expect(first?.header.get('Uplink-Dead-Reason')).toMatch(/satellite/);
      // dead-lettered messages are terminated for good, not left pending for a redelivery
      await waitFor(async () => (await jsm.consumers.info('TELEMETRY', 'test-applied')).num_ack_pending === 0, { what: 'nothing pending' });
      await runner.stop();
    } finally {
      await nc.close();
    }
  });

  it('recreates a deleted consumer and survives a server restart', async () => {
    await using hub = await startHub();
    const nc = await connect({ servers: hub.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      await provisionStreams(await jetstreamManager(nc), hubStreams);
      const seen = new Set<number>();
      const runner = runConsumer({
        nc, stream: 'TELEMETRY', consumer: spec, type: 'state-applied', logger, missedHeartbeatsToRestart: 1,
        handler: async (b) => void seen.add(b.revision),
      });
      await runner.ready;
      await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(1));
      await waitFor(() => seen.has(1), { what: 'first message' });

      await (await jetstreamManager(nc)).consumers.delete('TELEMETRY', 'test-applied');
      await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(2));
      await waitFor(() => seen.has(2), { what: 'message after consumer deletion', timeoutMs: 40_000 });

      await hub.restart();
      await waitFor(async () => {
        await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(3), { msgId: 'r3', timeoutMs: 1_000 });
        return true;
      }, { what: 'publish after restart', timeoutMs: 30_000 });
      await waitFor(() => seen.has(3), { what: 'message after server restart', timeoutMs: 40_000 });
      expect(runner.starts).toBeGreaterThanOrEqual(2);
      await runner.stop();
    } finally {
      await nc.close();
    }
  });

  it('carries the W3C trace context from publish to handler', async () => {
    await using hub = await startHub();
    const nc = await connect({ servers: hub.url });
    try {
      await provisionStreams(await jetstreamManager(nc), hubStreams);
      let published: string | undefined;
      let batchTrace: string | undefined;
      await withNewTrace(async () => {
        published = currentTraceId();
        await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(7));
        // the context taken once for a batch is the same one each message would carry
        batchTrace = messageHeaders('state-applied', {}, traceHeaders()).get('traceparent');
      });
      expect(batchTrace).toContain(published!);
      expect(published).toMatch(/^[0-9a-f]{32}$/);
      const stored = await (await jetstreamManager(nc)).streams.getMessage('TELEMETRY', { seq: 1 });
      expect(stored?.header.get('traceparent')).toContain(published!);
      let seen: string | undefined;
      const runner = runConsumer({ nc, stream: 'TELEMETRY', consumer: spec, type: 'state-applied', logger, handler: async () => void (seen = currentTraceId()) });
      await waitFor(() => seen, { what: 'handler ran' });
      expect(seen).toBe(published);
      await runner.stop();
    } finally {
      await nc.close();
    }
  });

  it('hands over batches, settles each message by its own outcome and retries a failed batch whole', async () => {
    await using hub = await startHub();
    const nc = await connect({ servers: hub.url });
    try {
      await provisionStreams(await jetstreamManager(nc), hubStreams);
      // 1..40 published before the runner starts, so the first batches are full
      for (let r = 1; r <= 40; r++) await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(r));
      nc.publish('uplink.telemetry.edge-01.applied', 'not json');
      const sizes: number[] = [];
      const handled = new Map<number, number>();
      const dead: string[] = [];
      let failBatchOnce = true;
      let failFiveOnce = true;
      const runner = runBatchConsumer({
        nc, stream: 'TELEMETRY', consumer: spec, type: 'state-applied', logger, batchMax: 10, batchWaitMs: 20, batchesInFlight: 2,
        backoff: { initialMs: 50, maxMs: 100 },
        onDeadLetter: (reason) => dead.push(reason),
        handler: async (items) => {
          sizes.push(items.length);
          if (failBatchOnce && items.some((i) => i.body.revision === 33)) {
            failBatchOnce = false;
            throw new RetryableError('database busy');
          }
          return items.map(({ body, ctx }) => {
            expect(ctx.text).toContain(`"revision":${body.revision}`);
            if (body.revision === 7) return new InvalidMessageError('seven is refused');
            if (body.revision === 5 && failFiveOnce) {
              failFiveOnce = false;
              return new RetryableError('five later');
            }
            handled.set(body.revision, (handled.get(body.revision) ?? 0) + 1);
            return undefined;
          });
        },
      });
      await runner.ready;
      await publishMessage(nc, 'uplink.telemetry.edge-01.applied', 'state-applied', applied(41));
      await waitFor(() => handled.size === 40 && dead.length === 2, { what: 'every message settled', timeoutMs: 30_000 });
      expect([...handled.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1).filter((r) => r !== 7));
      // acked once: nothing handled twice, nothing left pending
      expect([...handled.values()].every((n) => n === 1)).toBe(true);
      expect(dead.some((d) => d.includes('seven is refused'))).toBe(true);
      expect(dead.some((d) => d.includes('missing Uplink-Schema'))).toBe(true);
      expect(Math.max(...sizes)).toBe(10);
      expect(sizes.length).toBeLessThan(20);
      await waitFor(async () => {
        const info = await (await jetstreamManager(nc)).consumers.info('TELEMETRY', 'test-applied');
        if (info.num_ack_pending !== 0 || info.num_pending !== 0) throw new Error(JSON.stringify({ ack: info.num_ack_pending, pending: info.num_pending, redelivered: info.num_redelivered }));
        return true;
      }, { what: 'nothing pending' });
      await runner.stop();
    } finally {
      await nc.close();
    }
  });
});
