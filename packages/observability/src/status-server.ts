// The HTTP face of an edge process: /healthz, /metrics and its own JSON routes (the satellite's
// /status, the forwarder's /stats) on a loopback port. GET and HEAD only; errors in the API's shape.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { renderMetrics } from './metrics.js';

export interface StatusServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface StatusServerOptions {
  /** process name for messages, e.g. "satellite" */
  name: string;
  host: string;
  /** 0 = any free port */
  port: number;
  /** JSON routes besides /healthz and /metrics, e.g. `{ '/status': () => status() }` */
  routes: Record<string, () => unknown>;
  /** false once the process is stopping */
  healthy: () => boolean;
  registry: Registry;
  logger: Logger;
}

export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const known = ['/healthz', ...Object.keys(opts.routes), '/metrics'].join(', ');
  const server = createServer((req, res) => {
    void (async () => {
      try {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed; use GET`);
        if (path === '/healthz') {
          return opts.healthy() ? sendJson(res, 200, { ok: true }) : sendError(res, 503, 'SERVICE_UNAVAILABLE', `${opts.name} is stopping`);
        }
        if (path === '/metrics') {
          const m = await renderMetrics(opts.registry);
          res.writeHead(200, { 'content-type': m.contentType });
          res.end(m.body);
          return;
        }
        const route = Object.hasOwn(opts.routes, path) ? opts.routes[path] : undefined;
        if (route) return sendJson(res, 200, route());
        return sendError(res, 404, 'NOT_FOUND', `no route ${path}; try ${known}`);
      } catch (err) {
        opts.logger.error({ err }, 'status request failed');
        if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
        else res.destroy();
      }
    })();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  opts.logger.info({ host: opts.host, port }, 'status server listening');
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string) {
  sendJson(res, status, { error: { code, message } });
}
