// The gateway's only way to the cloud services: Nest's NATS client sends `uplink.rpc.<service>.<method>`
// (with the request's `traceparent` in the NATS headers), waits at most RPC_TIMEOUT_MS, and unwraps the
// RpcReply envelope into data or an UplinkError.
import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { EmptyResponseException } from '@nestjs/microservices/errors/empty-response.exception.js';
import { TimeoutError, defer, firstValueFrom, mergeMap, timeout, type Subscription } from 'rxjs';
import { z } from 'zod';
import {
  ErrorCode,
  FrontedService,
  UplinkError,
  httpStatusOf,
  rpcSubject,
  type RpcMethod,
  type RpcRequest,
  type RpcService,
} from '@uplink/contracts';
import { tracedRequest } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { GatewayConfig } from './env.js';
import type { GatewayMetrics } from './metrics.js';
import { GATEWAY_ENV, GATEWAY_METRICS, LOGGER, NATS_CLIENT } from './tokens.js';

/** A name no probe expects to exist: looking it up costs one indexed read and any answer will do. */
const PROBE_NAME = 'uplink-readiness-probe';

/**
 * What readiness sends to each service the gateway fronts: a cheap read it already answers (a lookup
 * by key, or a one-row list) that also reaches its database. Any envelope, "not found" included, counts.
 */
export const readinessProbes: { [S in FrontedService]: { method: RpcMethod<S>; request: RpcRequest<S, RpcMethod<S>> } } = {
  registration: { method: 'getSatellite', request: { name: PROBE_NAME } },
  state: { method: 'getGroup', request: { name: PROBE_NAME } },
  command: { method: 'list', request: { limit: 1 } },
  telemetry: { method: 'getStatus', request: { name: PROBE_NAME } },
};

/** One service's answer to the readiness probe; `ms` is how long it took (or how long we waited). */
export interface ServiceCheck {
  service: FrontedService;
  ok: boolean;
  /** why it is not ready, absent when ok */
  error?: string;
  ms: number;
}

export interface CallOptions {
  /** @default RPC_TIMEOUT_MS */
  timeoutMs?: number;
  /** count the call in the RPC latency and error metrics (probes do not, or they would drown real traffic) @default true */
  recordMetrics?: boolean;
}

const Envelope = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), data: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  }),
]);

type NatsStatus = 'connecting' | 'connected' | 'disconnected' | 'reconnecting' | 'closed';

class NatsUnavailable extends Error {
  override name = 'NatsUnavailable';
}

@Injectable()
export class RpcGateway implements OnApplicationBootstrap, OnApplicationShutdown {
  private natsStatus: NatsStatus = 'connecting';
  private statusSub: Subscription | undefined;

  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(GATEWAY_ENV) private readonly env: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(GATEWAY_METRICS) private readonly metrics: GatewayMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.statusSub = this.client.status.subscribe((s) => {
      this.natsStatus = s as NatsStatus;
      this.log.info({ nats: s }, 'nats status');
    });
    // Connect early so the first request does not pay for it; a failure is retried by the next request.
    this.client.connect().catch((err: unknown) => {
      this.natsStatus = 'disconnected';
      this.log.warn({ err: describe(err) }, 'nats not reachable yet');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.statusSub?.unsubscribe();
    this.natsStatus = 'closed';
    await this.client.close();
  }

  get natsConnected(): boolean {
    return this.natsStatus === 'connected';
  }

  /** Send a request and return the reply's data; any failure is an UplinkError with a stable code. */
  async call<S extends RpcService, M extends RpcMethod<S>>(
    service: S,
    method: M,
    request: RpcRequest<S, M>,
    opts: CallOptions = {},
  ): Promise<unknown> {
    const subject = rpcSubject(service, method);
    // taken now, inside the request's trace: the services run the handler in it
    const payload = tracedRequest(request);
    const timeoutMs = opts.timeoutMs ?? this.env.RPC_TIMEOUT_MS;
    const started = performance.now();
    let outcome = 'ok';
    let code: ErrorCode | undefined;
    try {
      const raw = await firstValueFrom(
        defer(() =>
          this.client.connect().catch((err: unknown) => {
            throw new NatsUnavailable(describe(err), { cause: err });
          }),
        ).pipe(
          mergeMap(() => this.client.send<unknown>(subject, payload)),
          timeout({ first: timeoutMs }),
        ),
      );
      const reply = Envelope.safeParse(raw);
      if (!reply.success) {
        outcome = 'failed';
        this.log.error({ subject, issues: reply.error.issues }, 'rpc reply is not an RpcReply envelope');
        throw new UplinkError(ErrorCode.INTERNAL, `service "${service}" sent an invalid reply to ${method}`);
      }
      if (reply.data.ok) return reply.data.data;
      outcome = 'error';
      const e = reply.data.error;
      const known = e.code in httpStatusOf;
      if (!known) this.log.error({ subject, code: e.code }, 'rpc reply carries an unknown error code');
      throw new UplinkError(known ? (e.code as ErrorCode) : ErrorCode.INTERNAL, e.message, e.details === undefined ? {} : { details: e.details });
    } catch (err) {
      if (err instanceof UplinkError) {
        code = err.code;
        throw err;
      }
      const mapped = this.mapTransportError(service, subject, timeoutMs, err);
      outcome = mapped.outcome;
      code = mapped.error.code;
      throw mapped.error;
    } finally {
      if (opts.recordMetrics !== false) {
        const seconds = (performance.now() - started) / 1000;
        this.metrics.rpcDuration.observe({ service, method, outcome }, seconds);
        if (code) this.metrics.rpcErrors.inc({ service, method, code });
      }
    }
  }

  /** Whether each service answers at all (any envelope counts), all probed at once; used by /readyz. */
  async checkServices(timeoutMs: number, services: readonly FrontedService[] = FrontedService.options): Promise<ServiceCheck[]> {
    return Promise.all(
      services.map(async (service): Promise<ServiceCheck> => {
        const probe = readinessProbes[service] as { method: string; request: unknown };
        const started = performance.now();
        const ms = () => Math.round(performance.now() - started);
        try {
          await this.call(service, probe.method as never, probe.request as never, { timeoutMs, recordMetrics: false });
          return { service, ok: true, ms: ms() };
        } catch (err) {
          // an error envelope is still an answer: the service is up; only no answer or a broken one is not
          if (err instanceof UplinkError && err.code !== ErrorCode.SERVICE_UNAVAILABLE && err.code !== ErrorCode.INTERNAL) return { service, ok: true, ms: ms() };
          return { service, ok: false, error: err instanceof Error ? err.message : String(err), ms: ms() };
        }
      }),
    );
  }

  private mapTransportError(
    service: RpcService,
    subject: string,
    timeoutMs: number,
    err: unknown,
  ): { outcome: string; error: UplinkError } {
    const unavailable = (message: string) => new UplinkError(ErrorCode.SERVICE_UNAVAILABLE, message, { cause: err, details: { service } });
    if (err instanceof EmptyResponseException) {
      return { outcome: 'no_responders', error: unavailable(`service "${service}" is not running (nothing answers ${subject})`) };
    }
    if (err instanceof TimeoutError) {
      return { outcome: 'timeout', error: unavailable(`service "${service}" did not answer ${subject} within ${timeoutMs} ms`) };
    }
    if (err instanceof NatsUnavailable || (err instanceof Error && err.message === 'Connection closed')) {
      return { outcome: 'unavailable', error: unavailable(`service "${service}" is unreachable: NATS is not connected (${describe(err)})`) };
    }
    // The responder threw instead of replying with an envelope.
    this.log.error({ subject, err: describe(err) }, 'rpc failed in the service');
    return { outcome: 'failed', error: new UplinkError(ErrorCode.INTERNAL, `service "${service}" failed on ${subject}`) };
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
