// The service's own HTTP endpoint (METRICS_PORT): Prometheus /metrics and a liveness /healthz.
import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { renderMetrics } from '@uplink/observability';
import type { IngestMetrics } from './metrics.js';
import { HEALTH, METRICS } from './tokens.js';

export type HealthCheck = () => Record<string, unknown> & { ok: boolean };

@Controller()
export class HttpController {
  constructor(
    @Inject(METRICS) private readonly metrics: IngestMetrics,
    @Inject(HEALTH) private readonly health: HealthCheck,
  ) {}

  @Get('metrics')
  async getMetrics(@Res() reply: FastifyReply): Promise<void> {
    const m = await renderMetrics(this.metrics.registry);
    await reply.header('content-type', m.contentType).send(m.body);
  }

  @Get('healthz')
  async healthz(@Res() reply: FastifyReply): Promise<void> {
    const h = this.health();
    await reply.code(h.ok ? 200 : 503).send(h);
  }
}
