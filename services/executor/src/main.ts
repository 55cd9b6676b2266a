// The standalone executor process: validated environment, start, stop on SIGTERM/SIGINT.
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
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(() => process.exit(1), 10_000).unref();
    handle.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  log.fatal({ err }, 'executor failed to start');
  process.exit(1);
}
