// Probes and metrics, reachable without a token: /healthz (the process answers), /readyz (NATS is
// connected and every service the gateway fronts answers, or those named by ?services=), /metrics.
import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ErrorCode, ReadinessQuery } from '@uplink/contracts';
import { renderMetrics, type Logger } from '@uplink/observability';
import type { GatewayConfig } from './env.js';
import { Public } from './auth.js';
import type { GatewayMetrics } from './metrics.js';
import { RpcGateway } from './rpc-gateway.js';
import { query } from './validation.js';
import { GATEWAY_ENV, GATEWAY_METRICS, LOGGER } from './tokens.js';

/** Probes must answer quickly whatever RPC_TIMEOUT_MS is. */
const READY_TIMEOUT_MS = 2_000;

export interface ServiceReadiness {
  ok: boolean;
  /** why it is not ready, absent when ok */
  error?: string;
  /** how long the probe took */
  ms: number;
}

/**
 * The body of /readyz, the same shape on 200 and 503; a 503 also carries the usual `error` so clients
 * reading `error.code` see SERVICE_UNAVAILABLE naming what is not ready.
 */
export interface Readiness {
  ok: boolean;
  nats: { ok: boolean; error?: string };
  services: Record<string, ServiceReadiness>;
  error?: { code: typeof ErrorCode.SERVICE_UNAVAILABLE; message: string };
}

@Public()
@Controller()
export class HealthController {
  /** what the last /readyz found, so only changes are logged (probes come every few seconds) */
  private readonly lastReady = new Map<string, boolean>();

  constructor(
    @Inject(RpcGateway) private readonly rpc: RpcGateway,
    @Inject(GATEWAY_ENV) private readonly env: GatewayConfig,
    @Inject(GATEWAY_METRICS) private readonly metrics: GatewayMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Query(query(ReadinessQuery)) q: ReadinessQuery, @Res({ passthrough: true }) reply: FastifyReply): Promise<Readiness> {
    const checks = await this.rpc.checkServices(Math.min(this.env.RPC_TIMEOUT_MS, READY_TIMEOUT_MS), q.services);
    const nats = this.rpc.natsConnected ? { ok: true } : { ok: false, error: 'NATS is not connected' };
    const services: Record<string, ServiceReadiness> = {};
    for (const c of checks) services[c.service] = { ok: c.ok, ...(c.error === undefined ? {} : { error: c.error }), ms: c.ms };
    this.observe('nats', nats.ok, nats.error);
    for (const c of checks) this.observe(c.service, c.ok, c.error);
    const notReady = [...(nats.ok ? [] : ['nats']), ...checks.filter((c) => !c.ok).map((c) => c.service)];
    if (notReady.length === 0) return { ok: true, nats, services };
    void reply.status(503);
    return { ok: false, nats, services, error: { code: ErrorCode.SERVICE_UNAVAILABLE, message: `not ready: ${notReady.join(', ')}` } };
  }

  @Get('metrics')
  async metricsText(@Res({ passthrough: true }) reply: FastifyReply) {
    const { contentType, body } = await renderMetrics(this.metrics.registry);
    void reply.header('content-type', contentType);
    return body;
  }

  private observe(service: string, ok: boolean, error: string | undefined): void {
    this.metrics.serviceReady.set({ service }, ok ? 1 : 0);
    const before = this.lastReady.get(service);
    this.lastReady.set(service, ok);
    if (before === ok) return;
    if (!ok) this.log.warn({ service, error }, 'readiness: not ready');
    else if (before === false) this.log.info({ service }, 'readiness: ready again');
  }
}
