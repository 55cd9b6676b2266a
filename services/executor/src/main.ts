// The standalone executor process: validated environment, start, stop on SIGTERM/SIGINT.
import { closeOnSignal } from '@uplink/bus';
import { ConfigError, ExecutorEnv, loadEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startExecutor, type ExecutorSettings } from './executor.js';

let env: ExecutorSettings;
try {
  env = loadEnv(ExecutorEnv);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`executor: ${err.message}\n`);
  process.exit(2);
}
const log = createLogger({ service: 'executor', level: env.LOG_LEVEL });
try {
  const handle = await startExecutor(env, { logger: log });
  closeOnSignal(log, () => handle.close());
} catch (err) {
  log.fatal({ err }, 'executor failed to start');
  process.exit(1);
}
