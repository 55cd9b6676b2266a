// The forwarder process: validate the environment, start, stop cleanly on SIGTERM/SIGINT.
import { closeOnSignal } from '@uplink/bus';
import { ConfigError, ForwarderEnv, loadEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startForwarder } from './forwarder.js';

let config;
try {
  config = loadEnv(ForwarderEnv);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`forwarder: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const log = createLogger({ service: 'forwarder', level: config.LOG_LEVEL });
// nothing a message or the network does may take the forwarder down: log what escaped and go on
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

try {
  const forwarder = await startForwarder(config, { logger: log });
  closeOnSignal(log, () => forwarder.close());
} catch (err) {
  const e = err as { code?: string; message?: string };
  log.fatal({ code: e.code, err }, `forwarder cannot start: ${e.message ?? String(err)}`);
  process.exit(1);
}
