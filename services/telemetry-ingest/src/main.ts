// Entry point of the telemetry-ingest process: validate the environment, run, stop cleanly on SIGTERM/SIGINT.
import 'reflect-metadata';
import { closeOnSignal } from '@uplink/bus';
import { loadEnv, TelemetryIngestEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { startTelemetryIngest } from './app.js';

const env = loadEnv(TelemetryIngestEnv);
const logger = createLogger({ service: 'telemetry-ingest', level: env.LOG_LEVEL });
const service = await startTelemetryIngest(env, { logger });

closeOnSignal(logger, () => service.close());
