import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { rpcError, rpcMethods, rpcOk, UplinkError, ErrorCode, type FrontedService } from '@uplink/contracts';
import { waitFor } from '@uplink/testkit';
import { readinessProbes } from './rpc-gateway.js';
import { startFixture } from './testing/fixtures.js';

describe('probes and metrics', () => {
  it('answers /healthz and /readyz without a token when NATS and the four services are up', async () => {
    await using f = await startFixture();
    const health = await f.api('GET', '/healthz', { token: null });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    // a service answering with an error envelope (the probe's lookup found nothing) is still up
    f.state.reply('getGroup', rpcError(new UplinkError(ErrorCode.GROUP_NOT_FOUND, 'no such group')));
    const ready = await f.api('GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    const up = { ok: true, ms: expect.any(Number) };
    expect(ready.body).toEqual({ ok: true, nats: { ok: true }, services: { registration: up, state: up, command: up, telemetry: up } });
    // each service got one probe, a request its contract accepts
    for (const stub of [f.registration, f.state, f.command, f.telemetry]) {
      expect(stub.received).toHaveLength(1);
      const { method, data } = stub.received[0]!;
      expect(readinessProbes[stub.service as FrontedService].method).toBe(method);
      expect((rpcMethods[stub.service] as Record<string, z.ZodType>)[method]!.safeParse(data).success).toBe(true);
    }
  });

  it('reports a stopped service: 503 on its routes and on /readyz, naming it; other routes keep working', async () => {
    await using f = await startFixture();
    await f.registration.close();
    const res = await f.api('GET', '/v1/satellites');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(res.body.error.message).toContain('service "registration" is not running');

    const ready = await f.api('GET', '/readyz', { token: null });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({
      ok: false,
      error: { code: 'SERVICE_UNAVAILABLE', message: 'not ready: registration' },
      nats: { ok: true },
      services: {
        registration: { ok: false, error: expect.stringContaining('service "registration" is not running'), ms: expect.any(Number) },
        state: { ok: true },
        command: { ok: true },
        telemetry: { ok: true },
      },
    });

    f.state.reply('listGroups', rpcOk([]));
    expect((await f.api('GET', '/v1/groups')).status).toBe(200);
  });

  it('names every service that is down: command and telemetry-ingest too', async () => {
    await using f = await startFixture();
    await f.command.close();
    await f.telemetry.close();
    const ready = await f.api('GET', '/readyz', { token: null });
    expect(ready.status).toBe(503);
    expect(ready.body.error.message).toBe('not ready: command, telemetry');
    expect(Object.entries(ready.body.services).map(([name, s]: [string, any]) => [name, s.ok])).toEqual([
      ['registration', true],
      ['state', true],
      ['command', false],
      ['telemetry', false],
    ]);
    expect(ready.body.services.telemetry.error).toContain('service "telemetry" is not running');
    // the gauge follows, and probes stay out of the RPC metrics
    const metrics = await f.api('GET', '/metrics', { token: null });
    expect(metrics.text).toMatch(/uplink_gateway_service_ready\{service="command"\} 0/);
    expect(metrics.text).toMatch(/uplink_gateway_service_ready\{service="state"\} 1/);
    expect(metrics.text).toMatch(/uplink_gateway_service_ready\{service="nats"\} 1/);
    expect(metrics.text).not.toMatch(/uplink_gateway_rpc_duration_seconds_count\{service="command"/);
    expect(f.logs.some((l) => l.includes('readiness: not ready') && l.includes('"service":"command"'))).toBe(true);
  });

  it('probes only the services named by ?services=, and rejects names it does not front', async () => {
    await using f = await startFixture();
    await f.command.close();
    const ready = await f.api('GET', '/readyz?services=state,registration', { token: null });
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.body.services)).toEqual(['state', 'registration']);
    expect(f.telemetry.received).toHaveLength(0);
    expect((await f.api('GET', '/readyz?services=command', { token: null })).status).toBe(503);
    for (const bad of ['?services=state,gateway', '?services=', '?service=state']) {
      const res = await f.api('GET', `/readyz${bad}`, { token: null });
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('reports a service that does not answer in time, or answers with something broken, as not ready', async () => {
    await using f = await startFixture({ RPC_TIMEOUT_MS: '300' });
    f.state.reply('getGroup', 'hang');
    f.telemetry.reply('getStatus', 'throw');
    const ready = await f.api('GET', '/readyz', { token: null });
    expect(ready.status).toBe(503);
    expect(ready.body.error.message).toBe('not ready: state, telemetry');
    expect(ready.body.services.state.error).toContain('did not answer');
    expect(ready.body.services.telemetry.error).toContain('failed');
    expect(ready.body.services.command).toEqual({ ok: true, ms: expect.any(Number) });
  });

  it('answers 503 while NATS is down and recovers when it is back', async () => {
    await using f = await startFixture();
    expect((await f.api('GET', '/readyz', { token: null })).status).toBe(200);
    await f.hub.stop();
    const ready = await waitFor(async () => {
      const r = await f.api('GET', '/readyz', { token: null });
      return r.status === 503 && !r.body.nats.ok ? r : undefined;
    }, { timeoutMs: 10_000, what: 'readyz to report NATS down' });
    expect(ready.body.error.message).toContain('nats');
    const res = await f.api('GET', '/v1/groups');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');

    await f.hub.restart();
    await waitFor(async () => (await f.api('GET', '/readyz', { token: null })).status === 200, {
      timeoutMs: 20_000,
      what: 'readyz to recover',
    });
    expect((await f.api('GET', '/v1/groups')).status).toBe(200);
  });

  it('exposes Prometheus metrics with the request counter and RPC latency', async () => {
    await using f = await startFixture();
    await f.api('GET', '/v1/groups/edge');
    await f.api('GET', '/v1/groups/Bad.Name');
    const res = await f.api('GET', '/metrics', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.text).toMatch(/uplink_gateway_http_requests_total\{method="GET",route="\/v1\/groups\/:group",status="200"\} 1/);
    expect(res.text).toMatch(/uplink_gateway_http_requests_total\{method="GET",route="\/v1\/groups\/:group",status="400"\} 1/);
    expect(res.text).toMatch(/uplink_gateway_http_request_duration_seconds_bucket\{/);
    expect(res.text).toMatch(/uplink_gateway_rpc_duration_seconds_count\{service="state",method="getGroup",outcome="ok"\} 1/);
    expect(res.text).toContain('uplink_gateway_process_cpu_seconds_total');
  });

  it('counts RPC errors by code', async () => {
    await using f = await startFixture();
    f.state.reply('getGroup', rpcError(new UplinkError(ErrorCode.GROUP_NOT_FOUND, 'no such group')));
    expect((await f.api('GET', '/v1/groups/nope')).status).toBe(404);
    const res = await f.api('GET', '/metrics', { token: null });
    expect(res.text).toMatch(/uplink_gateway_rpc_errors_total\{service="state",method="getGroup",code="GROUP_NOT_FOUND"\} 1/);
  });
});
