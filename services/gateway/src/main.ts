// Entry point of the gateway process: validate the environment, serve, close cleanly on SIGTERM/SIGINT.
import 'reflect-metadata';
import { ConfigError, GatewayEnv, loadEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { createGatewayApp } from './app.js';
import type { GatewayConfig } from './env.js';

let env: GatewayConfig;
try {
  env = loadEnv(GatewayEnv);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // a bad variable stops the process with a message naming it, not a stack trace
  createLogger({ service: 'gateway' }).fatal(err.message);
  process.exit(2);
}
const logger = createLogger({ service: 'gateway', level: env.LOG_LEVEL });
const gateway = await createGatewayApp(env, { logger }).catch((err: unknown) => {
  logger.fatal({ err }, `gateway failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  gateway.close().then(
    () => {
      logger.info('stopped');
      process.exit(0);
    },
    (err: unknown) => {
      logger.error({ err }, 'error while stopping');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
