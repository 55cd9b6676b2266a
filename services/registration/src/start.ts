// Start registration in this process: migrations, the Nest microservice on NATS request/reply
// (`uplink.rpc.registration.*`, queue group "registration"), and a Nest client to the state-publisher.
import 'reflect-metadata';
import { HybridTransport, nestLogger, tracedRequest } from '@uplink/bus';
import { readFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, ServerNats, Transport, type ClientProxy, type MicroserviceOptions } from '@nestjs/microservices';
import { credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { firstValueFrom, timeout } from 'rxjs';
import type { z } from 'zod';
import { rpcSubject, type RegistrationEnv, type RpcReply } from '@uplink/contracts';
import { createPool, migrate, type Pool } from '@uplink/db';
import { createLogger, startStatusServer, type Logger, type Registry } from '@uplink/observability';
import { RegistrationModule } from './app.module.js';
import { startOperators } from './operators/start.js';
import type { Operators } from './operators/operators.js';
import { createRegistrationMetrics } from './metrics.js';
import { Registration } from './registration.js';
import { startZtr } from './ztr/start-ztr.js';

export type RegistrationConfig = z.infer<typeof RegistrationEnv>;

export interface StartRegistrationOptions {
  logger?: Logger;
  /** how long a recompute request to the state-publisher may take @default 3_000 */
  recomputeTimeoutMs?: number;
}

export interface RegistrationHandle {
  registration: Registration;
  /** users, logins, tokens and the audit trail */
  operators: Operators;
  pool: Pool;
  /** the connection of the client to the state-publisher (for drainOnSignal) */
  nc: NatsConnection;
  /** Prometheus registry, ready for a /metrics endpoint */
  metrics: Registry;
  /** `http://host:port/metrics` when METRICS_PORT is set */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

export async function startRegistration(env: RegistrationConfig, opts: StartRegistrationOptions = {}): Promise<RegistrationHandle> {
  const log = opts.logger ?? createLogger({ service: 'registration', level: env.LOG_LEVEL });
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'error while stopping'));
  };
  try {
    const pool = createPool({ url: env.DATABASE_URL, max: env.DB_POOL_MAX, logger: log, applicationName: 'uplink-registration' });
    cleanups.push(() => pool.end());
    await migrate(pool, { logger: log });
    const metrics = createRegistrationMetrics();
    const ztr = await startZtr(env, { pool, logger: log, metrics });
    cleanups.push(() => ztr.close());

    const servers = env.NATS_URL.split(',').map((s) => s.trim());
    const natsOptions = {
      servers,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      // NATS may come up after us: wait for it instead of failing the start
      waitOnFirstConnect: true,
      ...(env.NATS_CREDS ? { authenticator: credsAuthenticator(new Uint8Array(readFileSync(env.NATS_CREDS))) } : {}),
    };
    const statePublisher: ClientProxy = ClientProxyFactory.create({ transport: Transport.NATS, options: { ...natsOptions, name: 'registration-client' } });
    cleanups.push(() => statePublisher.close());
    await statePublisher.connect();
    const nc = statePublisher.unwrap<NatsConnection>();
    const recomputeTimeoutMs = opts.recomputeTimeoutMs ?? 3_000;
    const registration = new Registration({
      pool,
      logger: log,
      ztr: ztr.ztr,
      requestRecompute: async (satellites) => {
        const reply = await firstValueFrom(
          statePublisher.send<RpcReply<unknown>>(rpcSubject('state', 'recompute'), tracedRequest({ satellites })).pipe(timeout({ first: recomputeTimeoutMs })),
        );
        if (!reply.ok) throw new Error(`${reply.error.code}: ${reply.error.message}`);
      },
    });

    const operators = await startOperators({ env, pool, nc, logger: log });
    cleanups.push(() => operators.close());

    // request/reply over core NATS, each handler in the trace its request carried from the gateway
    const rpc = new ServerNats({ ...natsOptions, queue: 'registration', name: 'registration' });
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(RegistrationModule.with(registration, log, operators.operators), {
      strategy: new HybridTransport([{ server: rpc, accepts: () => true }]),
      logger: nestLogger(log),
    });
    await app.listen();
    cleanups.push(() => app.close());
    let metricsUrl: string | undefined;
    let stopping = false;
    if (env.METRICS_PORT !== undefined) {
      const status = await startStatusServer({ name: 'registration', host: env.METRICS_HOST, port: env.METRICS_PORT, routes: {}, healthy: () => !stopping, registry: metrics.registry, logger: log });
      cleanups.push(() => status.close());
      metricsUrl = `${status.url}/metrics`;
    }
    cleanups.push(async () => void (stopping = true));
    log.info({ metrics: metricsUrl }, 'registration started');

    let closing: Promise<void> | undefined;
    return {
      registration,
      operators: operators.operators,
      pool,
      nc,
      metrics: metrics.registry,
      metricsUrl,
      close: () => (closing ??= cleanup().then(() => log.info('registration stopped'))),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
