// The local OCI registry (pull side) over the content store, on REGISTRY_HOST:REGISTRY_PORT. It is up
// from start and needs nothing but the disk, so runtimes pull through any WAN outage.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRegistryHandler, type ContentStore, type PullThrough, type RegistryCounters } from '@uplink/oci';
import type { Logger, Registry } from '@uplink/observability';
import { SatelliteError, SatelliteErrorCode } from './errors.js';

export interface RegistryServer {
  /** `http://<host>:<port>` */
  url: string;
  host: string;
  port: number;
  counters(): RegistryCounters;
  close(): Promise<void>;
}

export interface RegistryServerOptions {
  host: string;
  /** 0 = any free port */
  port: number;
  store: ContentStore;
  metrics: Registry;
  logger: Logger;
  /** `(name, ?ns=)` -> store repository (the naming rule) @default the name */
  resolveRepository?: (name: string, ns: string | undefined) => string;
  /** fetch allow-listed misses from upstream @default off */
  pullThrough?: PullThrough;
}

export async function startRegistryServer(opts: RegistryServerOptions): Promise<RegistryServer> {
  const handler = createRegistryHandler({
    store: opts.store,
    metrics: opts.metrics,
    logger: opts.logger,
    ...(opts.resolveRepository ? { resolveRepository: opts.resolveRepository } : {}),
    ...(opts.pullThrough ? { pullThrough: opts.pullThrough } : {}),
  });
  const server = createServer(handler);
  server.keepAliveTimeout = 65_000;
  // blobs of hundreds of MB over a slow client link: no overall request timeout
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new SatelliteError(SatelliteErrorCode.REGISTRY_LISTEN_FAILED, `local registry cannot listen on ${opts.host}:${opts.port}: ${err.message}; set REGISTRY_HOST/REGISTRY_PORT`, { cause: err })),
    );
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  opts.logger.info({ host: opts.host, port }, 'local registry listening');
  return {
    url: `http://${host}:${port}`,
    host: opts.host,
    port,
    counters: () => handler.counters(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
