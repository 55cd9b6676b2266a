export { createLogger } from './logger.js';
export { createMetrics, renderMetrics, Counter, Gauge, Histogram, Registry } from './metrics.js';
export { startStatusServer } from './status-server.js';
export { tracer, withNewTrace, injectTraceContext, extractTraceContext, currentTraceId, context, trace } from './tracing.js';

export type { Logger, LoggerOptions } from './logger.js';
export type { MetricsOptions } from './metrics.js';
export type { StatusServer, StatusServerOptions } from './status-server.js';
export type { Context, Span } from './tracing.js';
