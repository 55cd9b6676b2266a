// Entry point of the telemetry-ingest process: validate the environment, run, stop cleanly on SIGTERM/SIGINT.
import 'reflect-metadata';
import { loadEnv, TelemetryIngestEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startTelemetryIngest } from './app.js';

const env = loadEnv(TelemetryIngestEnv);
const logger = createLogger({ service: 'telemetry-ingest', level: env.LOG_LEVEL });
const service = await startTelemetryIngest(env, { logger });

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  service.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'error while stopping');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
