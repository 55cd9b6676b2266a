// The agent's HTTP face (ARCHITECTURE §7): /healthz, /status, /metrics on STATUS_HOST:STATUS_PORT.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppliedState } from '@uplink/contracts';
import { renderMetrics, type Logger, type Registry } from '@uplink/observability';
import type { SyncWindowStatus } from './replicator.js';
import type { RuntimeStatus } from './runtime-config.js';

export interface SatelliteStatus {
  satellite: string;
  applied: AppliedState | null;
  /** the latest desired state seen */
  desired: { revision: number; digest: string } | null;
  link: { connected: boolean; lastContactAt: string | null };
  /** the latest applied revisions, oldest first (at most 50) */
  history: { revision: number; at: string }[];
  /** the local OCI registry */
  registry: { url: string; port: number };
  /** replication as a whole: idle | syncing | synced | degraded | failed, counts, bytes fetched since start */
  sync: {
    status: string;
    ready: number;
    total: number;
    failed: number;
    lastSyncAt: string | null;
    bytesTotal: number;
    /** revision whose artifacts are being kept in sync */
    revision: number | null;
    /** sync events waiting to be stored in OUTBOX */
    eventsQueued: number;
    /** the state's sync windows: open now or not, `nextWindowAt` while closed, how many artifacts wait */
    window: SyncWindowStatus;
  };
  artifacts: { repository: string; digest: string; tags?: string[]; status: string; error?: string; nextRetryAt?: string }[];
  /** runtime mirror config and direct delivery: runtimes configured, files, tarballs, errors */
  runtime: RuntimeStatus;
}

export interface StatusServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface StatusServerOptions {
  host: string;
  /** 0 = any free port */
  port: number;
  status: () => SatelliteStatus;
  /** false once the satellite is stopping */
  healthy: () => boolean;
  registry: Registry;
  logger: Logger;
}

export async function startStatusServer(opts: StatusServerOptions): Promise<StatusServer> {
  const server = createServer((req, res) => {
    void (async () => {
      try {
        const path = new URL(req.url ?? '/', 'http://localhost').pathname;
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed; use GET`);
        switch (path) {
          case '/healthz':
            return opts.healthy() ? sendJson(res, 200, { ok: true }) : sendError(res, 503, 'SERVICE_UNAVAILABLE', 'satellite is stopping');
          case '/status':
            return sendJson(res, 200, opts.status());
          case '/metrics': {
            const m = await renderMetrics(opts.registry);
            res.writeHead(200, { 'content-type': m.contentType });
            res.end(m.body);
            return;
          }
          default:
            return sendError(res, 404, 'NOT_FOUND', `no route ${path}; try /healthz, /status or /metrics`);
        }
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
