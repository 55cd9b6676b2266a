// Probes and metrics, reachable without a token: /healthz (the process answers), /readyz (NATS is
// connected and every service answers), /metrics (Prometheus text).
import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ErrorCode, UplinkError } from '@uplink/contracts';
import { renderMetrics } from '@uplink/observability';
import type { GatewayConfig } from './env.js';
import { Public } from './auth.js';
import type { GatewayMetrics } from './metrics.js';
import { RpcGateway } from './rpc-gateway.js';
import { GATEWAY_ENV, GATEWAY_METRICS } from './tokens.js';

/** Probes must answer quickly whatever RPC_TIMEOUT_MS is. */
const READY_TIMEOUT_MS = 2_000;

@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(RpcGateway) private readonly rpc: RpcGateway,
    @Inject(GATEWAY_ENV) private readonly env: GatewayConfig,
    @Inject(GATEWAY_METRICS) private readonly metrics: GatewayMetrics,
  ) {}

  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz() {
    const services = await this.rpc.checkServices(Math.min(this.env.RPC_TIMEOUT_MS, READY_TIMEOUT_MS));
    const nats = this.rpc.natsConnected;
    const checks: Record<string, string> = { nats: nats ? 'ok' : 'not connected' };
    for (const s of services) checks[s.service] = s.ready ? 'ok' : s.reason;
    const notReady = [...(nats ? [] : ['nats']), ...services.filter((s) => !s.ready).map((s) => s.service)];
    if (notReady.length > 0) {
      throw new UplinkError(ErrorCode.SERVICE_UNAVAILABLE, `not ready: ${notReady.join(', ')}`, { details: { checks } });
    }
    return { status: 'ready', checks };
  }

  @Get('metrics')
  async metricsText(@Res({ passthrough: true }) reply: FastifyReply) {
    const { contentType, body } = await renderMetrics(this.metrics.registry);
    void reply.header('content-type', contentType);
    return body;
  }
}
