// Per-request observability on the fastify instance: a request id (echoed as x-request-id), one log
// line per request (id, method, route, status, duration; headers are never logged, so neither is the
// token), and the HTTP request counter and duration histogram.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '@uplink/observability';
import type { GatewayMetrics } from './metrics.js';

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
    done();
  });
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = routeOf(req);
    const status = String(reply.statusCode);
    const seconds = reply.elapsedTime / 1000;
    opts.metrics.httpRequests.inc({ method: req.method, route, status });
    opts.metrics.httpDuration.observe({ method: req.method, route, status }, seconds);
    const line = { reqId: req.id, method: req.method, route, url: req.url, status: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 };
    if (reply.statusCode >= 500) opts.log.warn(line, 'request');
    else opts.log.info(line, 'request');
    done();
  });
}
