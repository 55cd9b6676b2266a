// Start the command service in this process: migrations, hub streams, the Nest microservice (NATS
// request/reply for `uplink.rpc.command.*`, JetStream for RESULTS), the pending-commands responder for
// sites and the sweep loop (deadlines, unpublished commands, rollouts, events).
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { ServerNats, type MicroserviceOptions } from '@nestjs/microservices';
import { jetstreamManager } from '@nats-io/jetstream';
import { credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { z } from 'zod';
import { hubDurables, hubStreams, type CommandEnv } from '@uplink/contracts';
import { JetStreamTransport, connectNats, provisionStreams, HybridTransport, nestLogger } from '@uplink/bus';
import { createPool, migrate, type Pool } from '@uplink/db';
import { createLogger, type Logger } from '@uplink/observability';
import { createBatcher } from './batcher.js';
import { CommandModule } from './command.module.js';
import { CommandService, type ReceivedResult } from './command-service.js';
import { servePendingCommands } from './pending.js';
import { RESULTS_DURABLE } from './results.controller.js';
import { createCommandSigner } from './signing.js';

export type CommandConfig = z.infer<typeof CommandEnv>;

export interface StartCommandServiceOptions {
  logger?: Logger;
  /** run the sweep loop @default true */
  loops?: boolean;
}

export interface CommandServiceHandle extends AsyncDisposable {
  service: CommandService;
  nc: NatsConnection;
  pool: Pool;
  /** public nkey executors verify commands with */
  signingKey: string;
  close(): Promise<void>;
}

export async function startCommandService(env: CommandConfig, opts: StartCommandServiceOptions = {}): Promise<CommandServiceHandle> {
  const log = opts.logger ?? createLogger({ service: 'command', level: env.LOG_LEVEL });
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'error while stopping'));
  };
  try {
    const signer = createCommandSigner(env.COMMAND_SIGNING_SEED);
    const pool = createPool({ url: env.DATABASE_URL, max: env.DB_POOL_MAX, logger: log, applicationName: 'uplink-command' });
    cleanups.push(() => pool.end());
    await migrate(pool, { logger: log });

    const servers = env.NATS_URL.split(',').map((s) => s.trim());
    const nc = await connectNats({ servers, name: 'command', logger: log, ...(env.NATS_CREDS ? { credsFile: env.NATS_CREDS } : {}) });
    cleanups.push(() => (nc.isClosed() ? Promise.resolve() : nc.drain()));
    await provisionStreams(await jetstreamManager(nc), hubStreams, log);

    const service = new CommandService({ pool, nc, signer, logger: log, publishConcurrency: env.PUBLISH_CONCURRENCY });
    const batcher = createBatcher<ReceivedResult>((items) => service.recordResults(items));

    const rpc = new ServerNats({
      servers,
      queue: 'command',
      name: 'command-rpc',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
      ...(env.NATS_CREDS ? { authenticator: credsAuthenticator(new Uint8Array(readFileSync(env.NATS_CREDS))) } : {}),
    });
    // many results in flight at once, so the batcher has something to batch
    const results = new JetStreamTransport({ nc, logger: log, durables: { [RESULTS_DURABLE]: hubDurables[RESULTS_DURABLE] }, concurrency: 512 });
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(CommandModule.with(service, batcher, log), {
      strategy: new HybridTransport([
        { server: results, accepts: (pattern, isEvent) => isEvent && pattern === RESULTS_DURABLE },
        { server: rpc, accepts: () => true },
      ]),
      logger: nestLogger(log),
    });
    await app.listen();
    cleanups.push(() => app.close());

    const pending = servePendingCommands(nc, service, log);
    cleanups.push(async () => pending.unsubscribe());

    if (opts.loops !== false) {
      const abort = new AbortController();
      const loop = service.loop(env.SWEEP_INTERVAL_MS, abort.signal);
      cleanups.push(async () => {
        abort.abort();
        await loop;
      });
    }

    log.info({ signingKey: signer.publicKey }, 'command service started');
    let closing: Promise<void> | undefined;
    const close = () => (closing ??= cleanup().then(() => log.info('command service stopped')));
    return { service, nc, pool, signingKey: signer.publicKey, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
