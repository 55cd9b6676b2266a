// Builds and starts the gateway in-process: used by main.ts, `uplink dev`, tests and benchmarks.
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { LogController } from 'fastify';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { createLogger, type Logger } from '@uplink/observability';
import { GatewayModule } from './gateway.module.js';
import type { GatewayConfig } from './env.js';
import { instrumentHttp, requestId } from './http-telemetry.js';
import { createGatewayMetrics } from './metrics.js';
import { nestLogger } from './nest-logger.js';

export interface GatewayAppOptions {
  /** @default a pino logger for service "gateway" at LOG_LEVEL */
  logger?: Logger;
}

export interface GatewayApp extends AsyncDisposable {
  app: NestFastifyApplication;
  /** base URL of the listening server, with the real port when HTTP_PORT is 0 */
  url: string;
  close(): Promise<void>;
}

export async function createGatewayApp(env: GatewayConfig, opts: GatewayAppOptions = {}): Promise<GatewayApp> {
  const logger = opts.logger ?? createLogger({ service: 'gateway', level: env.LOG_LEVEL });
  const metrics = createGatewayMetrics();
  const adapter = new FastifyAdapter({
    bodyLimit: env.BODY_LIMIT_BYTES,
    genReqId: requestId,
    loggerInstance: logger,
    // one line per request comes from instrumentHttp instead
    logController: new LogController({ disableRequestLogging: true }),
  });
  instrumentHttp(adapter.getInstance(), { log: logger, metrics });
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot({ env, logger, metrics }), adapter, {
    logger: nestLogger(logger),
    abortOnError: false,
  });
  try {
    await app.listen(env.HTTP_PORT, env.HTTP_HOST);
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new Error(`cannot listen on ${env.HTTP_HOST}:${env.HTTP_PORT}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const addr = app.getHttpServer().address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  logger.info({ url }, 'gateway listening');
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= app.close());
  return { app, url, close, [Symbol.asyncDispose]: close };
}
