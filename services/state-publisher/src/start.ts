// Start the state-publisher in this process: migrations, hub streams, the Nest microservice (NATS
// request/reply for `uplink.rpc.state.*`, JetStream for applied reports), the retry and tag loops.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { NestFactory } from '@nestjs/core';
import { ServerNats, type MicroserviceOptions } from '@nestjs/microservices';
import { jetstreamManager } from '@nats-io/jetstream';
import { credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { z } from 'zod';
import { hubDurables, hubStreams, type StatePublisherEnv } from '@uplink/contracts';
import { JetStreamTransport, connectNats, provisionStreams, HybridTransport, nestLogger } from '@uplink/bus';
import { createPool, migrate, type Pool } from '@uplink/db';
import { createLogger, renderMetrics, type Logger, type Registry } from '@uplink/observability';
import { StatePublisherModule } from './app.module.js';
import { createStatePublisherMetrics } from './metrics.js';
import { createStatePublication } from './publication.js';
import { StatePublisher } from './state-publisher.js';
import { createTagResolver, type TagResolver } from './tag-resolver.js';

export type StatePublisherConfig = z.infer<typeof StatePublisherEnv>;

export interface StartStatePublisherOptions {
  logger?: Logger;
  /** replaces the upstream tag lookup (tests) */
  resolver?: TagResolver;
  /** called with every SQL statement sent (tests count them) */
  onQuery?: (text: string) => void;
  /** run the retry and tag loops @default true */
  loops?: boolean;
}

export interface StatePublisherHandle {
  service: StatePublisher;
  nc: NatsConnection;
  pool: Pool;
  /** Prometheus registry, ready for a /metrics endpoint */
  metrics: Registry;
  /** `http://host:port/metrics` when METRICS_PORT is set */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

export async function startStatePublisher(env: StatePublisherConfig, opts: StartStatePublisherOptions = {}): Promise<StatePublisherHandle> {
  const log = opts.logger ?? createLogger({ service: 'state-publisher', level: env.LOG_LEVEL });
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'error while stopping'));
  };
  try {
    const pool = createPool({ url: env.DATABASE_URL, max: env.DB_POOL_MAX, logger: log, applicationName: 'uplink-state-publisher', ...(opts.onQuery ? { onQuery: opts.onQuery } : {}) });
    cleanups.push(() => pool.end());
    await migrate(pool, { logger: log });

    const servers = env.NATS_URL.split(',').map((s) => s.trim());
    const nc = await connectNats({ servers, name: 'state-publisher', logger: log, ...(env.NATS_CREDS ? { credsFile: env.NATS_CREDS } : {}) });
    cleanups.push(() => (nc.isClosed() ? Promise.resolve() : nc.drain()));
    await provisionStreams(await jetstreamManager(nc), hubStreams, log);

    const metrics = createStatePublisherMetrics();
    const resolver =
      opts.resolver ??
      createTagResolver({
        timeoutMs: env.UPSTREAM_TIMEOUT_MS,
        insecure: env.UPSTREAM_INSECURE,
        logger: log,
        ...(env.UPSTREAM_USERNAME ? { credentials: { username: env.UPSTREAM_USERNAME, password: env.UPSTREAM_PASSWORD ?? '' } } : {}),
      });
    cleanups.push(() => resolver.close());
    const publication = createStatePublication({ pool, nc, logger: log, metrics });
    cleanups.push(() => publication.close());
    const service = new StatePublisher({ pool, publication, resolver, logger: log, metrics, resolveDeadlineMs: env.UPSTREAM_TIMEOUT_MS });

    const rpc = new ServerNats({
      servers,
      queue: 'state-publisher',
      name: 'state-publisher-rpc',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      waitOnFirstConnect: true,
      ...(env.NATS_CREDS ? { authenticator: credsAuthenticator(new Uint8Array(readFileSync(env.NATS_CREDS))) } : {}),
    });
    const events = new JetStreamTransport({ nc, logger: log, durables: hubDurables });
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(StatePublisherModule.with(service, log), {
      strategy: new HybridTransport([
        { server: events, accepts: (pattern, isEvent) => isEvent && pattern in hubDurables },
        { server: rpc, accepts: () => true },
      ]),
      logger: nestLogger(log),
    });
    await app.listen();
    cleanups.push(() => app.close());

    const abort = new AbortController();
    const loops: Promise<void>[] = [];
    if (opts.loops !== false) {
      loops.push(service.loop('republish', env.REPUBLISH_INTERVAL_S * 1_000, abort.signal, () => service.republish(), { immediately: true }));
      loops.push(service.loop('cleanup', env.CLEANUP_INTERVAL_S * 1_000, abort.signal, () => service.cleanup({ historyDays: env.PUBLISHED_HISTORY_DAYS })));
      loops.push(service.loop('tags', env.TAG_RESOLVE_INTERVAL_S * 1_000, abort.signal, () => service.refreshTags()));
    }
    cleanups.push(async () => {
      abort.abort();
      await Promise.all(loops);
    });

    let metricsUrl: string | undefined;
    if (env.METRICS_PORT !== undefined) {
      const server = http.createServer((req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        void renderMetrics(metrics.registry).then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body));
      });
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(env.METRICS_PORT, env.METRICS_HOST, resolve));
      const addr = server.address();
      metricsUrl = `http://${env.METRICS_HOST}:${typeof addr === 'object' && addr ? addr.port : env.METRICS_PORT}/metrics`;
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    }

    log.info({ metrics: metricsUrl }, 'state-publisher started');
    let closing: Promise<void> | undefined;
    return {
      service,
      nc,
      pool,
      metrics: metrics.registry,
      metricsUrl,
      close: () => (closing ??= cleanup().then(() => log.info('state-publisher stopped'))),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
