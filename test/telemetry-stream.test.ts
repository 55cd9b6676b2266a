// The live telemetry feed (SSE): live events filtered by satellite and kind, resumed after a disconnect
// from Last-Event-ID without a gap, invalid telemetry never sent.
import { headers as natsHeaders } from '@nats-io/transport-node';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_HEADER, subjects, type TelemetryStreamEvent } from '@uplink/contracts';
import { waitFor } from '@uplink/testkit';
import { heartbeat, startTelemetrySystem, syncEvent, TOKEN, type TelemetrySystem } from './telemetry-support.js';

interface Frame {
  id?: string;
  event?: string;
  data?: TelemetryStreamEvent;
  comment?: string;
}

/** An SSE client that collects frames until closed. */
async function openFeed(url: string, lastEventId?: string) {
  const abort = new AbortController();
  // its own connection pool, destroyed on close: no idle socket outlives the feed
  const agent = new Agent();
  const res = await undiciFetch(url, {
    headers: { authorization: `Bearer ${TOKEN}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    signal: abort.signal,
    dispatcher: agent,
  });
  const frames: Frame[] = [];
  const reading = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f: Frame = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) f.comment = line.slice(1).trim();
            else if (line.startsWith('id: ')) f.id = line.slice(4);
            else if (line.startsWith('event: ')) f.event = line.slice(7);
            else if (line.startsWith('data: ')) f.data = JSON.parse(line.slice(6)) as TelemetryStreamEvent;
          }
          frames.push(f);
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    res,
    frames,
    events: () => frames.filter((f) => f.data),
    async close() {
      abort.abort();
      await reading;
      await agent.destroy();
    },
  };
}

let sys: TelemetrySystem;
beforeAll(async () => {
  sys = await startTelemetrySystem();
});
afterAll(async () => {
  await sys?.[Symbol.asyncDispose]();
});

describe('live telemetry feed', () => {
  it('delivers live events of one satellite and kind, with the stream sequence as id', async () => {
    const feed = await openFeed(`${sys.gateway.url}/v1/stream/telemetry?satellite=live-01&kind=heartbeat`);
    try {
      expect(feed.res.status).toBe(200);
      expect(feed.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await waitFor(() => feed.frames.some((f) => f.comment?.startsWith('telemetry')), { what: 'feed opened' });
      const s1 = await sys.forward('heartbeat', heartbeat('live-01', 1), 'l1:1');
      await sys.forward('heartbeat', heartbeat('live-02', 1), 'l2:1');
      await sys.forward('sync', syncEvent('live-01', 1), 'l1:s1');
      const s2 = await sys.forward('heartbeat', heartbeat('live-01', 2), 'l1:2');
      await waitFor(() => feed.events().length >= 2, { what: '2 events' });
      const events = feed.events();
      expect(events.map((f) => [f.id, f.event, f.data?.satellite, (f.data?.body as { seq: number }).seq])).toEqual([
        [String(s1), 'heartbeat', 'live-01', 1],
        [String(s2), 'heartbeat', 'live-01', 2],
      ]);
      expect(events[0]?.data).toMatchObject({ seq: s1, satellite: 'live-01', kind: 'heartbeat' });
    } finally {
      await feed.close();
    }
  });

  it('resumes after Last-Event-ID with what was published while disconnected, skipping invalid telemetry', async () => {
    const url = `${sys.gateway.url}/v1/stream/telemetry?satellite=resume-01`;
    const first = await openFeed(url);
    await waitFor(() => first.frames.length > 0, { what: 'feed opened' });
    await sys.forward('heartbeat', heartbeat('resume-01', 1), 'r:1');
    await waitFor(() => first.events().length === 1, { what: 'first event' });
    const lastId = first.events()[0]!.id!;
    await first.close();

    // while disconnected: two events and a malformed heartbeat
    await sys.forward('heartbeat', heartbeat('resume-01', 2), 'r:2');
    const h = natsHeaders();
    h.set(SCHEMA_HEADER, 'heartbeat/1');
    sys.nc.publish(subjects.telemetry('resume-01', 'heartbeat'), '{"satellite":"resume-01"}', { headers: h });
    await sys.forward('sync', syncEvent('resume-01', 4, 'sync.completed'), 'r:s');

    const second = await openFeed(url, lastId);
    try {
      await sys.forward('heartbeat', heartbeat('resume-01', 3), 'r:3');
      await waitFor(() => second.events().length >= 3, { what: 'resumed events' });
      expect(second.events().map((f) => [f.event, (f.data?.body as { seq?: number; event?: string }).seq ?? (f.data?.body as { event: string }).event])).toEqual([
        ['heartbeat', 2],
        ['sync', 'sync.completed'],
        ['heartbeat', 3],
      ]);
      const ids = second.events().map((f) => Number(f.id));
      expect(ids[0]).toBeGreaterThan(Number(lastId));
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    } finally {
      await second.close();
    }
  });

  it('refuses bad filters and requests without a token', async () => {
    const bad = await fetch(`${sys.gateway.url}/v1/stream/telemetry?satellite=Bad.Name`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    const anon = await fetch(`${sys.gateway.url}/v1/stream/telemetry`);
    expect(anon.status).toBe(401);
  });
});
