// Builds and starts the gateway in-process: used by main.ts, `uplink dev`, tests and benchmarks.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { LogController } from 'fastify';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { createLogger, type Logger } from '@uplink/observability';
import { nestLogger } from '@uplink/bus';
import { GatewayModule } from './gateway.module.js';
import type { GatewayConfig } from './env.js';
import { instrumentHttp, requestId } from './http-telemetry.js';
import { createGatewayMetrics } from './metrics.js';

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

/** The certificate and key of TLS_CERT_FILE/TLS_KEY_FILE, undefined when neither is set. */
export function tlsOptions(env: Pick<GatewayConfig, 'TLS_CERT_FILE' | 'TLS_KEY_FILE'>): { cert: Buffer; key: Buffer } | undefined {
  if (env.TLS_CERT_FILE === undefined && env.TLS_KEY_FILE === undefined) return undefined;
  if (env.TLS_CERT_FILE === undefined || env.TLS_KEY_FILE === undefined) {
    throw new Error(`TLS needs both TLS_CERT_FILE and TLS_KEY_FILE (only ${env.TLS_CERT_FILE === undefined ? 'TLS_KEY_FILE' : 'TLS_CERT_FILE'} is set)`);
  }
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${name} ${path}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { cert: read('TLS_CERT_FILE', env.TLS_CERT_FILE), key: read('TLS_KEY_FILE', env.TLS_KEY_FILE) };
}

export async function createGatewayApp(env: GatewayConfig, opts: GatewayAppOptions = {}): Promise<GatewayApp> {
  const logger = opts.logger ?? createLogger({ service: 'gateway', level: env.LOG_LEVEL });
  const metrics = createGatewayMetrics();
  const https = tlsOptions(env);
  const adapter = new FastifyAdapter({
    ...(https ? { https } : {}),
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
  const url = `${https ? 'https' : 'http'}://${host}:${addr.port}`;
  logger.info({ url }, 'gateway listening');
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= app.close());
  return { app, url, close, [Symbol.asyncDispose]: close };
}
