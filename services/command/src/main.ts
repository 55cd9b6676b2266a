// The command service process: validated environment, start, drain on SIGTERM/SIGINT.
import 'reflect-metadata';
import { drainOnSignal } from '@uplink/bus';
import { CommandEnv, ConfigError, loadEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startCommandService, type CommandConfig } from './start.js';

let env: CommandConfig;
try {
  env = loadEnv(CommandEnv);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`command: ${err.message}\n`);
  process.exit(2);
}
const log = createLogger({ service: 'command', level: env.LOG_LEVEL });
try {
  const handle = await startCommandService(env, { logger: log });
  drainOnSignal(handle.nc, log, () => handle.close());
} catch (err) {
  log.fatal({ err }, 'command service failed to start');
  process.exit(1);
}
