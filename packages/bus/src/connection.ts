// One NATS connection per process: reconnects forever, logs every status change, drains on SIGTERM.
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@uplink/observability';
import { retry } from './backoff.js';

export interface ConnectOptions {
  /** one URL or several, comma separated */
  servers: string | string[];
  /** connection name shown in the server's monitoring */
  name: string;
  logger: Logger;
  /** path of a .creds file; re-read at each reconnect */
  credsFile?: string;
  /** @default 2_000 */
  reconnectTimeWaitMs?: number;
  /**
   * keep trying the first connect too (an edge process may start before its leaf server)
   * @default true
   */
  waitOnFirstConnect?: boolean;
}

export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const servers = Array.isArray(opts.servers) ? opts.servers : opts.servers.split(',').map((s) => s.trim());
  const log = opts.logger;
  const nc = await connect({
    servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: opts.reconnectTimeWaitMs ?? 2_000,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? true,
    pingInterval: 10_000,
    ...(opts.credsFile
      ? { authenticator: credsAuthenticator(() => new Uint8Array(readFileSync(opts.credsFile!))) }
      : {}),
  });
  log.info({ server: nc.getServer() }, 'nats connected');
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
        case 'error':
        case 'staleConnection':
          log.warn({ status: s.type, data: 'server' in s ? s.server : undefined }, 'nats status');
          break;
        case 'reconnect':
          log.info({ status: s.type, server: s.server }, 'nats reconnected');
          break;
        default:
          log.debug({ status: s.type }, 'nats status');
      }
    }
  })().catch(() => undefined);
  return nc;
}

/**
 * Drain the connection on SIGTERM/SIGINT after `beforeDrain` (stop consumers first), then exit.
 * Returns a function that removes the handlers.
 */
export function drainOnSignal(nc: NatsConnection, log: Logger, beforeDrain: () => Promise<void> = async () => {}): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void (async () => {
      try {
        await beforeDrain();
        if (!nc.isClosed()) await nc.drain();
      } catch (err) {
        log.error({ err }, 'error while stopping');
      } finally {
        process.exit(0);
      }
    })();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

/**
 * Connect an edge process to its site's leaf server, which may start later: keep trying the first
 * connect with backoff (a warning on the first failure and every 20th), until `signal` aborts.
 */
export async function connectLeaf(opts: Omit<ConnectOptions, 'waitOnFirstConnect'> & { signal: AbortSignal }): Promise<NatsConnection> {
  const { signal, ...connect } = opts;
  return retry(() => connectNats({ ...connect, waitOnFirstConnect: false }), {
    signal,
    initialMs: 250,
    maxMs: 5_000,
    onError: (err, attempt) => {
      if (attempt === 1 || attempt % 20 === 0) opts.logger.warn({ err: (err as Error).message, attempt }, 'leaf server not reachable yet, retrying');
    },
  });
}

/**
 * Close a process's handle on SIGTERM/SIGINT, then exit (0 when it closed cleanly, 1 on an error or
 * after 10 s). For processes whose handle owns its connections.
 */
export function closeOnSignal(log: Logger, close: () => Promise<unknown>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(() => process.exit(1), 10_000).unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
