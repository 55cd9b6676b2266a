// Prometheus metrics through prom-client: one registry per process, rendered on /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export interface MetricsOptions {
  /** prefix of every metric name, e.g. `uplink_gateway_` */
  prefix: string;
  /** collect process metrics (CPU, memory, event loop) @default true */
  defaults?: boolean;
}

export function createMetrics(opts: MetricsOptions): Registry {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: opts.prefix });
  return registry;
}

/** Render for a /metrics endpoint; never throws (a broken collector yields a comment line). */
export async function renderMetrics(registry: Registry): Promise<{ contentType: string; body: string }> {
  try {
    return { contentType: registry.contentType, body: await registry.metrics() };
  } catch (err) {
    return { contentType: 'text/plain', body: `# metrics unavailable: ${(err as Error).message}\n` };
  }
}
