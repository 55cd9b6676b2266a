import { describe, expect, it } from 'vitest';
import { rpcError, rpcOk, UplinkError, ErrorCode } from '@uplink/contracts';
import { waitFor } from '@uplink/testkit';
import { startFixture } from './testing/fixtures.js';

describe('probes and metrics', () => {
  it('answers /healthz and /readyz without a token when NATS and both services are up', async () => {
    await using f = await startFixture();
    const health = await f.api('GET', '/healthz', { token: null });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    // a service answering with an error envelope is still up
    f.state.reply('listGroups', rpcError(new UplinkError(ErrorCode.CONFLICT, 'busy')));
    const ready = await f.api('GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { nats: 'ok', state: 'ok', registration: 'ok' } });
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
    expect(ready.body.error).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      message: 'not ready: registration',
      details: { checks: { nats: 'ok', state: 'ok', registration: expect.stringContaining('registration') } },
    });

    f.state.reply('listGroups', rpcOk([]));
    expect((await f.api('GET', '/v1/groups')).status).toBe(200);
  });

  it('reports a service that does not answer in time as not ready', async () => {
    await using f = await startFixture({ RPC_TIMEOUT_MS: '300' });
    f.state.reply('listGroups', 'hang');
    const ready = await f.api('GET', '/readyz', { token: null });
    expect(ready.status).toBe(503);
    expect(ready.body.error.message).toBe('not ready: state');
    expect(ready.body.error.details.checks.state).toContain('did not answer');
  });

  it('answers 503 while NATS is down and recovers when it is back', async () => {
    await using f = await startFixture();
    expect((await f.api('GET', '/readyz', { token: null })).status).toBe(200);
    await f.hub.stop();
    const ready = await waitFor(async () => {
      const r = await f.api('GET', '/readyz', { token: null });
      return r.status === 503 && r.body.error.details.checks.nats !== 'ok' ? r : undefined;
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
