// The satellite process: validate the environment, start, stop cleanly on SIGTERM/SIGINT.
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
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    satellite.close().then(
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
  const e = err as { code?: string; message?: string };
  log.fatal({ code: e.code, err }, `satellite cannot start: ${e.message ?? String(err)}`);
  process.exit(1);
}
