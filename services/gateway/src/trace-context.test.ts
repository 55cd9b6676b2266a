// The W3C trace context of an HTTP request reaches the service answering its RPC: the handler runs in
// the request's trace, and the gateway's request line names the same trace id.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rpcOk } from '@uplink/contracts';
import { startFixture } from './testing/fixtures.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const traceparent = (traceId: string) => `00-${traceId}-${hex(8)}-01`;

describe('trace context across the RPC hop', () => {
  it("runs the service's handler in the trace of the caller's traceparent", async () => {
    await using f = await startFixture();
    const traceId = hex(16);
    const res = await f.api('GET', '/v1/groups', { headers: { traceparent: traceparent(traceId) } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-trace-id')).toBe(traceId);
    expect(f.state.received.at(-1)).toMatchObject({ method: 'listGroups', traceId });
    const line = f.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.route === '/v1/groups');
    expect(line?.traceId).toBe(traceId);
  });

  it('does so for a service on the plain NATS transport that enters the trace itself (telemetry-ingest)', async () => {
    await using f = await startFixture();
    const traceId = hex(16);
    expect((await f.api('GET', '/v1/fleet', { headers: { traceparent: traceparent(traceId) } })).status).toBe(200);
    expect(f.telemetry.received.at(-1)).toMatchObject({ method: 'fleet', traceId });
  });

  it('starts a trace for a request without one (or with a malformed one), a new one each time', async () => {
    await using f = await startFixture();
    const seen: string[] = [];
    const cases: Record<string, string>[] = [{}, {}, { traceparent: 'not-a-traceparent' }, { traceparent: `00-${'0'.repeat(32)}-${hex(8)}-01` }];
    for (const headers of cases) {
      const res = await f.api('GET', '/v1/satellites', { headers });
      expect(res.status).toBe(200);
      const traceId = res.headers.get('x-trace-id');
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(traceId).not.toBe('0'.repeat(32));
      expect(f.registration.received.at(-1)?.traceId).toBe(traceId);
      seen.push(traceId!);
    }
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('keeps the trace through a JSON body and across concurrent requests', async () => {
    await using f = await startFixture();
    f.state.reply('putGroup', rpcOk({ name: 'g', satellites: [], affectedSatellites: 0, unresolved: [] }));
    const ids = Array.from({ length: 8 }, () => hex(16));
    const results = await Promise.all(
      ids.map((traceId, i) =>
        f.api('PUT', `/v1/groups/g-${i}`, {
          json: { registry: 'http://127.0.0.1:5000', artifacts: [{ repository: 'app/web', tags: ['1.0'] }] },
          headers: { traceparent: traceparent(traceId) },
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 200));
    for (const [i, traceId] of ids.entries()) {
      const got = f.state.received.find((r) => r.method === 'putGroup' && (r.data as { name: string }).name === `g-${i}`);
      expect(got?.traceId, `g-${i}`).toBe(traceId);
    }
  });
});
