// `uplink.rpc.telemetry.*` (core NATS request/reply, queue group "telemetry"): the fleet reads the
// gateway serves. Every reply is an RpcReply envelope; a bad request is VALIDATION_FAILED. Each runs in
// the trace context its request carried.
import { Controller, Inject } from '@nestjs/common';
import { Ctx, MessagePattern, NatsContext, Payload, Transport } from '@nestjs/microservices';
import type { z } from 'zod';
import { withRequestTrace } from '@uplink/bus';
import { parseOrThrow, rpcError, rpcMethods, rpcOk, rpcSubject, UplinkError, type RpcReply } from '@uplink/contracts';
import { currentTraceId, type Logger } from '@uplink/observability';
import type { TelemetryQueries } from './queries.js';
import { LOGGER, QUERIES } from './tokens.js';

const methods = rpcMethods.telemetry;
type Method = keyof typeof methods;

@Controller()
export class TelemetryRpcController {
  constructor(
    @Inject(QUERIES) private readonly queries: TelemetryQueries,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @MessagePattern(rpcSubject('telemetry', 'getStatus'), Transport.NATS)
  getStatus(@Payload() req: unknown, @Ctx() ctx: NatsContext) {
    return this.answer('getStatus', req, ctx, (r) => this.queries.status(r.name));
  }

  @MessagePattern(rpcSubject('telemetry', 'fleet'), Transport.NATS)
  fleet(@Payload() req: unknown, @Ctx() ctx: NatsContext) {
    return this.answer('fleet', req, ctx, () => this.queries.fleet());
  }

  @MessagePattern(rpcSubject('telemetry', 'query'), Transport.NATS)
  query(@Payload() req: unknown, @Ctx() ctx: NatsContext) {
    return this.answer('query', req, ctx, (r) => this.queries.telemetry(r.satellite, r.query));
  }

  @MessagePattern(rpcSubject('telemetry', 'images'), Transport.NATS)
  images(@Payload() req: unknown, @Ctx() ctx: NatsContext) {
    return this.answer('images', req, ctx, (r) => this.queries.images(r));
  }

  @MessagePattern(rpcSubject('telemetry', 'satellites'), Transport.NATS)
  satellites(@Payload() req: unknown, @Ctx() ctx: NatsContext) {
    return this.answer('satellites', req, ctx, (r) => this.queries.satellites(r));
  }

  private answer<M extends Method, T>(method: M, raw: unknown, ctx: NatsContext, fn: (req: z.infer<(typeof methods)[M]>) => Promise<T>): Promise<RpcReply<T>> {
    return withRequestTrace(ctx, async () => {
      try {
        const req = parseOrThrow(methods[method], raw ?? {}, `${method} request`) as z.infer<(typeof methods)[M]>;
        return rpcOk(await fn(req));
      } catch (err) {
        if (!(err instanceof UplinkError)) this.log.error({ err, method, traceId: currentTraceId() }, 'rpc failed');
        return rpcError(err);
      }
    });
  }
}
