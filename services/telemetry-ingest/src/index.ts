export { startTelemetryIngest, INGEST_DURABLES } from './app.js';
export { liveness, satelliteStatus } from './status.js';
export { imagesReport } from './images.js';

export type { TelemetryIngestConfig, TelemetryIngestOptions, TelemetryIngestService } from './app.js';
export type { Liveness, StatusRules } from './status.js';
export type { SiteImages } from './images.js';
