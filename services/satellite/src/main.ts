// The satellite process: validate the environment, start, stop cleanly on SIGTERM/SIGINT.
import { closeOnSignal } from '@uplink/bus';
import { ConfigError, loadEnv, SatelliteEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startSatellite } from './satellite.js';

let config;
try {
  config = loadEnv(SatelliteEnv);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`satellite: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const log = createLogger({ service: 'satellite', level: config.LOG_LEVEL, base: { satellite: config.SATELLITE_NAME } });
// bad input must never take the agent down: log what escaped and keep serving
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

try {
  const satellite = await startSatellite(config, { logger: log });
  closeOnSignal(log, () => satellite.close());
} catch (err) {
  const e = err as { code?: string; message?: string };
  log.fatal({ code: e.code, err }, `satellite cannot start: ${e.message ?? String(err)}`);
  process.exit(1);
}
