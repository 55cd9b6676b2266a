// The state-publisher process: validated environment, start, drain on SIGTERM/SIGINT.
import 'reflect-metadata';
import { drainOnSignal } from '@uplink/bus';
import { ConfigError, StatePublisherEnv, loadEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startStatePublisher, type StatePublisherConfig } from './start.js';

let env: StatePublisherConfig;
try {
  env = loadEnv(StatePublisherEnv);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`state-publisher: ${err.message}\n`);
  process.exit(2);
}
const log = createLogger({ service: 'state-publisher', level: env.LOG_LEVEL });
try {
  const handle = await startStatePublisher(env, { logger: log });
  drainOnSignal(handle.nc, log, () => handle.close());
} catch (err) {
  log.fatal({ err }, 'state-publisher failed to start');
  process.exit(1);
}
