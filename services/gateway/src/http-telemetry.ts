// Per-request observability on the fastify instance: a request id (echoed as x-request-id), a trace
// (the caller's `traceparent`, else a new one; echoed as x-trace-id and carried on every RPC the request
// makes), one log line per request (id, trace id, method, route, status, duration; headers are never
// logged, so neither is the token), and the HTTP request counter and duration histogram.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { context, extractTraceContext, trace, withNewTrace, type Context, type Logger } from '@uplink/observability';
import type { GatewayMetrics } from './metrics.js';

const traces = new WeakMap<FastifyRequest, Context>();

/** The trace a request belongs to: the one its `traceparent` names when well-formed, else a new one. */
function traceOf(req: FastifyRequest): Context {
  const header = (name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const carried = extractTraceContext(header);
  return trace.getSpanContext(carried) ? carried : withNewTrace(() => context.active());
}

/** The trace id of a request, for its log line. */
export function traceIdOf(req: FastifyRequest): string | undefined {
  const ctx = traces.get(req);
  return ctx ? trace.getSpanContext(ctx)?.traceId : undefined;
}

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Use a well-formed x-request-id from the caller (a proxy's), else a fresh one. */
export function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
}

/** Route template for labels; unmatched requests share one label so bad URLs cannot explode cardinality. */
function routeOf(req: FastifyRequest): string {
  return req.routeOptions?.url ?? '(unmatched)';
}

export function instrumentHttp(fastify: FastifyInstance, opts: { log: Logger; metrics: GatewayMetrics }): void {
  fastify.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-request-id', req.id);
    const ctx = traceOf(req);
    traces.set(req, ctx);
    const traceId = trace.getSpanContext(ctx)?.traceId;
    if (traceId) void reply.header('x-trace-id', traceId);
    context.with(ctx, done);
  });
  // a body read over several socket reads continues in the socket's async context, not the request's;
  // the handler (guards, Nest, RPC calls) starts from here, so it is put back in the request's trace
  fastify.addHook('preHandler', (req, _reply, done) => {
    const ctx = traces.get(req);
    if (ctx) context.with(ctx, done);
    else done();
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = routeOf(req);
    const status = String(reply.statusCode);
    const seconds = reply.elapsedTime / 1000;
    opts.metrics.httpRequests.inc({ method: req.method, route, status });
    opts.metrics.httpDuration.observe({ method: req.method, route, status }, seconds);
    const line = { reqId: req.id, traceId: traceIdOf(req), method: req.method, route, url: req.url, status: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 };
    if (reply.statusCode >= 500) opts.log.warn(line, 'request');
    else opts.log.info(line, 'request');
    done();
  });
}
