// The registration process: validated environment, start, drain on SIGTERM/SIGINT.
import 'reflect-metadata';
import { drainOnSignal } from '@uplink/bus';
import { ConfigError, RegistrationEnv, loadEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startRegistration, type RegistrationConfig } from './start.js';

let env: RegistrationConfig;
try {
  env = loadEnv(RegistrationEnv);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`registration: ${err.message}\n`);
  process.exit(2);
}
const log = createLogger({ service: 'registration', level: env.LOG_LEVEL });
try {
  const handle = await startRegistration(env, { logger: log });
  drainOnSignal(handle.nc, log, () => handle.close());
} catch (err) {
  log.fatal({ err }, 'registration failed to start');
  process.exit(1);
}
