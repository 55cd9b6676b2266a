// The gateway's Prometheus instruments, on one registry per app (so several apps can share a process).
import { Counter, Gauge, Histogram, createMetrics, type Registry } from '@uplink/observability';

export interface GatewayMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  rpcDuration: Histogram<'service' | 'method' | 'outcome'>;
  rpcErrors: Counter<'service' | 'method' | 'code'>;
  /** 1 when the last /readyz found the service (or `nats`) ready, else 0 */
  serviceReady: Gauge<'service'>;
}

export function createGatewayMetrics(): GatewayMetrics {
  const registry = createMetrics({ prefix: 'uplink_gateway_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'uplink_gateway_http_requests_total',
      help: 'HTTP requests answered, by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'uplink_gateway_http_request_duration_seconds',
      help: 'time from request received to response sent',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    rpcDuration: new Histogram({
      name: 'uplink_gateway_rpc_duration_seconds',
      help: 'latency of RPC requests to the cloud services, by outcome (ok, error, no_responders, timeout, unavailable, failed)',
      labelNames: ['service', 'method', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    rpcErrors: new Counter({
      name: 'uplink_gateway_rpc_errors_total',
      help: 'RPC requests that did not return data, by error code',
      labelNames: ['service', 'method', 'code'],
      registers,
    }),
    serviceReady: new Gauge({
      name: 'uplink_gateway_service_ready',
      help: 'whether the last /readyz found the service answering (1) or not (0); service="nats" is the gateway\'s NATS connection',
      labelNames: ['service'],
      registers,
    }),
  };
}
