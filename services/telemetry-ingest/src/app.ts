// Builds and starts telemetry-ingest in-process: used by main.ts, `uplink dev`, tests and benchmarks.
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { NestFactory } from '@nestjs/core';
import { Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { credsAuthenticator } from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
import { connectNats, JetStreamTransport, provisionStreams, nestLogger } from '@uplink/bus';
import { hubDurables, hubStreams, type TelemetryIngestEnv } from '@uplink/contracts';
import { createPool, migrate } from '@uplink/db';
import { createLogger, type Logger } from '@uplink/observability';
import type { z } from 'zod';
import { Housekeeping } from './housekeeping.js';
import { IngestModule } from './ingest.module.js';
import { TelemetryIngest } from './ingest.js';
import { createIngestMetrics } from './metrics.js';
import { TelemetryQueries } from './queries.js';
import { StatusCache } from './status-cache.js';
import type { StatusRules } from './status.js';
import { TelemetryStore } from './store.js';
import { JETSTREAM } from './tokens.js';

export type TelemetryIngestConfig = z.infer<typeof TelemetryIngestEnv>;

/** The durable consumers this service runs (see hubDurables in contracts). */
export const INGEST_DURABLES = ['telemetry-ingest-heartbeat', 'telemetry-ingest-sync'] as const;

export interface TelemetryIngestOptions {
  /** @default a pino logger for service "telemetry-ingest" at LOG_LEVEL */
  logger?: Logger;
  /** instance name in NATS connection names and logs @default "telemetry-ingest" */
  name?: string;
}

export interface TelemetryIngestService extends AsyncDisposable {
  /** base URL of /metrics and /healthz, when METRICS_PORT is set */
  metricsUrl: string | undefined;
  /** evaluate site statuses now (the periodic sweep does this too) */
  sweep(): Promise<boolean>;
  /** create partitions ahead and drop those past the retention now */
  maintain(): Promise<void>;
  close(): Promise<void>;
}

export async function startTelemetryIngest(env: TelemetryIngestConfig, opts: TelemetryIngestOptions = {}): Promise<TelemetryIngestService> {
  const name = opts.name ?? 'telemetry-ingest';
  const logger = opts.logger ?? createLogger({ service: 'telemetry-ingest', level: env.LOG_LEVEL });
  const rules: StatusRules = { staleAfterIntervals: env.STALE_AFTER_INTERVALS, offlineAfterMs: env.OFFLINE_AFTER_S * 1000 };
  const cleanups: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'error while stopping');
      }
    }
  };
  try {
    const pool = createPool({ url: env.DATABASE_URL, max: env.DB_POOL_MAX, logger, applicationName: `uplink-${name}` });
    cleanups.push(() => pool.end());
    await migrate(pool, { logger });

    const store = new TelemetryStore(pool, logger);
    const housekeepingDeps = { retentionDays: env.RETENTION_DAYS, aheadDays: env.PARTITIONS_AHEAD_DAYS };
    await store.maintain(Date.now(), housekeepingDeps);

    const cache = new StatusCache({
      url: env.REDIS_URL,
      prefix: env.REDIS_KEY_PREFIX,
      ttlMs: env.RETENTION_DAYS * 86_400_000,
      logger,
      onError: () => metrics.redisErrors.inc(),
    });
    cleanups.push(() => cache.close());
    if (!(await cache.ready())) logger.warn({ url: env.REDIS_URL }, 'redis not reachable yet; statuses are served from postgres meanwhile');

    const nc = await connectNats({ servers: env.NATS_URL, name: `uplink-${name}`, logger, ...(env.NATS_CREDS ? { credsFile: env.NATS_CREDS } : {}) });
    cleanups.push(async () => {
      if (!nc.isClosed()) await nc.drain();
    });
    await provisionStreams(await jetstreamManager(nc), hubStreams, logger);

    // read at scrape time only, once housekeeping exists
    const metrics = createIngestMetrics(() => housekeeping.lastSeen);
    const housekeeping = new Housekeeping({
      nc,
      store,
      metrics,
      logger,
      rules,
      consumers: INGEST_DURABLES.map((d) => ({ stream: hubDurables[d].stream, durable: d })),
      sweepIntervalMs: env.STATUS_SWEEP_INTERVAL_S * 1000,
      maintenanceIntervalMs: env.MAINTENANCE_INTERVAL_S * 1000,
      lagPollIntervalMs: env.LAG_POLL_INTERVAL_S * 1000,
      ...housekeepingDeps,
    });
    const ingest = new TelemetryIngest(store, cache, metrics, logger, {
      maxClockSkewMs: env.MAX_CLOCK_SKEW_S * 1000,
      retentionDays: env.RETENTION_DAYS,
    });
    const queries = new TelemetryQueries(pool, cache, rules, logger);

    const app = await NestFactory.create<NestFastifyApplication>(
      IngestModule.forRoot({
        ingest,
        queries,
        metrics,
        logger,
        health: () => ({ ok: !nc.isClosed(), nats: nc.isClosed() ? 'closed' : 'connected', redis: cache.redis.status }),
      }),
      new FastifyAdapter(),
      { logger: nestLogger(logger), abortOnError: false },
    );
    // Nest closes the consumers first (they wait for the batches being written), and only then may the
    // pool, Redis and NATS go.
    cleanups.push(() => app.close());

    const transport = new JetStreamTransport({
      nc,
      logger,
      batch: { batchMax: env.INGEST_BATCH_MAX, batchWaitMs: env.INGEST_BATCH_WAIT_MS, batchesInFlight: env.INGEST_BATCHES_IN_FLIGHT },
      onDeadLetter: (reason, subject, durable) => {
        metrics.deadLetters.inc({ consumer: durable });
        logger.warn({ subject, reason, consumer: durable }, 'telemetry dead-lettered');
      },
    });
    transport.setTransportId(JETSTREAM);
    app.connectMicroservice<MicroserviceOptions>({ strategy: transport });
    app.connectMicroservice<MicroserviceOptions>({
      transport: Transport.NATS,
      options: {
        servers: env.NATS_URL.split(',').map((s) => s.trim()),
        name: `uplink-${name}-rpc`,
        queue: 'telemetry',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 2_000,
        ...(env.NATS_CREDS ? { authenticator: credsAuthenticator(new Uint8Array(readFileSync(env.NATS_CREDS))) } : {}),
      },
    });
    await app.startAllMicroservices();
    let metricsUrl: string | undefined;
    if (env.METRICS_PORT !== undefined) {
      await app.listen(env.METRICS_PORT, env.METRICS_HOST);
      const addr = app.getHttpServer().address() as AddressInfo;
      metricsUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
    } else {
      await app.init();
    }

    housekeeping.start();
    cleanups.push(() => housekeeping.stop());
    logger.info({ metricsUrl, durables: INGEST_DURABLES }, 'telemetry-ingest started');

    let closing: Promise<void> | undefined;
    const close = () => (closing ??= closeAll());
    return {
      metricsUrl,
      sweep: () => housekeeping.sweep(),
      maintain: () => housekeeping.maintain(),
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
