// Test fixtures: a real hub, stand-ins for the cloud services (Nest NATS microservices answering the
// contract's RPC subjects with fixed envelopes and recording what they received), and a gateway on a
// random port. Not part of the build.
import 'reflect-metadata';
import { Writable } from 'node:stream';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload, ServerNats, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { GatewayEnv, loadEnv, rpcMethods, rpcOk, rpcSubject, type RpcReply, type RpcService } from '@uplink/contracts';
import { HybridTransport, withRequestTrace } from '@uplink/bus';
import { currentTraceId } from '@uplink/observability';
import { startHub, type Hub } from '@uplink/testkit';
import { createGatewayApp, type GatewayApp } from '../app.js';

export const TOKEN = 'test-admin-token-0123456789abcdef';

export interface Received {
  method: string;
  data: unknown;
  /** the trace id active in the handler (from the request's traceparent) */
  traceId: string | undefined;
}

/** 'hang' never answers (for timeouts); 'throw' throws instead of answering with an envelope. */
export type StubReply = RpcReply<unknown> | 'hang' | 'throw' | { raw: unknown };

export interface StubService extends AsyncDisposable {
  service: RpcService;
  received: Received[];
  /** set the reply of one method (default: `rpcOk({ stub: <method> })`) */
  reply(method: string, reply: StubReply): void;
  close(): Promise<void>;
}

export interface StubOptions {
  /**
   * 'hybrid': core NATS request/reply behind a HybridTransport (as state-publisher and command are);
   * 'plain': Nest's NATS transport, the handler entering the request's trace itself with
   * withRequestTrace (as telemetry-ingest does). @default 'hybrid'
   */
  served?: 'hybrid' | 'plain';
}

/** A Nest NATS microservice answering every `uplink.rpc.<service>.*` method of the contract. */
export async function startStubService(servers: string, service: RpcService, opts: StubOptions = {}): Promise<StubService> {
  const received: Received[] = [];
  const replies = new Map<string, StubReply>();

  class StubController {}
  for (const method of Object.keys(rpcMethods[service])) {
    const answer = async (data: unknown) => {
      received.push({ method, data, traceId: currentTraceId() });
      const r = replies.get(method) ?? rpcOk({ stub: method });
      if (r === 'hang') return new Promise(() => {});
      if (r === 'throw') throw new Error('stub failure');
      if ('raw' in r) return r.raw;
      return r;
    };
    const handler = opts.served === 'plain' ? (data: unknown, ctx: unknown) => withRequestTrace(ctx, () => answer(data)) : answer;
    Object.defineProperty(StubController.prototype, method, { value: handler, writable: true, configurable: true });
    MessagePattern(rpcSubject(service, method as never))(
      StubController.prototype,
      method,
      Object.getOwnPropertyDescriptor(StubController.prototype, method)!,
    );
    if (opts.served === 'plain') {
      Payload()(StubController.prototype, method, 0);
      Ctx()(StubController.prototype, method, 1);
    }
  }
  Controller()(StubController);
  @Module({ controllers: [StubController] })
  class StubModule {}

  const rpc = new ServerNats({ servers, queue: `uplink-${service}` });
  const ms = await NestFactory.createMicroservice<MicroserviceOptions>(
    StubModule,
    opts.served === 'plain'
      ? { transport: Transport.NATS, options: { servers, queue: `uplink-${service}` }, logger: false }
      : { strategy: new HybridTransport([{ server: rpc, accepts: () => true }]), logger: false },
  );
  await ms.listen();
  // make sure the server has our subscriptions before anyone sends
  await (opts.served === 'plain' ? ms.unwrap<NatsConnection>() : rpc.unwrap<NatsConnection>()).flush();
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= ms.close());
  return {
    service,
    received,
    reply: (method, reply) => replies.set(method, reply),
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** parsed JSON body, undefined when not JSON */
  body: any;
}

export interface Fixture extends AsyncDisposable {
  hub: Hub;
  state: StubService;
  registration: StubService;
  command: StubService;
  telemetry: StubService;
  gateway: GatewayApp;
  /** every log line the gateway wrote */
  logs: string[];
  api(method: string, path: string, opts?: { json?: unknown; body?: string; token?: string | null; headers?: Record<string, string> }): Promise<ApiResponse>;
}

/** A hub, stand-ins for the four services the gateway fronts and a gateway (RPC_TIMEOUT_MS 1500, BODY_LIMIT_BYTES 4096). */
export async function startFixture(env: Record<string, string> = {}): Promise<Fixture> {
  const hub = await startHub();
  const state = await startStubService(hub.url, 'state');
  const registration = await startStubService(hub.url, 'registration');
  const command = await startStubService(hub.url, 'command');
  const telemetry = await startStubService(hub.url, 'telemetry', { served: 'plain' });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = pino({ level: 'info', base: { service: 'gateway' } }, sink);
  const config = loadEnv(GatewayEnv, {
    NATS_URL: hub.url,
    HTTP_PORT: '0',
    ADMIN_TOKEN: TOKEN,
    RPC_TIMEOUT_MS: '1500',
    BODY_LIMIT_BYTES: '4096',
    ...env,
  });
  const gateway = await createGatewayApp(config, { logger });
  const dispose = async () => {
    await gateway.close();
    await state.close();
    await registration.close();
    await command.close();
    await telemetry.close();
    await hub[Symbol.asyncDispose]();
  };
  return {
    hub,
    state,
    registration,
    command,
    telemetry,
    gateway,
    logs,
    async api(method, path, opts = {}) {
      const headers: Record<string, string> = { ...(opts.token === null ? {} : { authorization: `Bearer ${opts.token ?? TOKEN}` }) };
      let body: string | undefined = opts.body;
      if (opts.json !== undefined) {
        body = JSON.stringify(opts.json);
        headers['content-type'] = 'application/json';
      }
      Object.assign(headers, opts.headers);
      const res = await fetch(`${gateway.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, text, body: parsed };
    },
    [Symbol.asyncDispose]: dispose,
  };
}
