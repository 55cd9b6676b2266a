// The audit trail of the REST API, recorded once for every route: each change (or attempt: any method
// but GET/HEAD/OPTIONS) becomes an `audit-event` on EVENTS (`uplink.events.audit.<entity>-<verb>`,
// Nats-Msg-Id = event id), which registration stores in Postgres. The answer waits for the PubAck so a
// caller that got an answer can find the event; when EVENTS is unreachable the event goes to the log
// instead and the answer is not held back (the change itself is already made).
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants.js';
import type { ClientProxy } from '@nestjs/microservices';
import type { FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { from, mergeMap, type Observable } from 'rxjs';
import { catchError } from 'rxjs/operators';
import { publishMessage } from '@uplink/bus';
import { ErrorCode, UplinkError, httpStatusOf, subjects, type AuditEvent, type AuditOutcome } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import type { GatewayConfig } from '../env.js';
import { toUplinkError } from '../error-filter.js';
import { GATEWAY_ENV, LOGGER, NATS_CLIENT } from '../tokens.js';
import { auditBody, describeChange, failureOutcome } from './audit-events.js';
import { TokenVerifier } from './token-verifier.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const PUBLISH_TIMEOUT_MS = 2_000;

export function isChange(method: string): boolean {
  return !READS.has(method.toUpperCase());
}

@Injectable()
export class AuditRecorder {
  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Record a request that succeeded with `status` and answered `result`. */
  recordSuccess(req: FastifyRequest, status: number, result: unknown): Promise<void> {
    return this.record(req, { outcome: 'ok', status }, result);
  }

  /** Record a request that failed (or was denied) with `error`. */
  recordFailure(req: FastifyRequest, error: UplinkError): Promise<void> {
    return this.record(req, { outcome: failureOutcome(error.code), status: httpStatusOf[error.code], code: error.code });
  }

  private async record(req: FastifyRequest, how: { outcome: AuditOutcome; status: number; code?: string }, result?: unknown): Promise<void> {
    if (!isChange(req.method)) return;
    const route = req.routeOptions?.url ?? req.url.split('?')[0]!;
    const change = describeChange({ method: req.method, route, params: (req.params ?? {}) as Record<string, string>, body: req.body, result });
    const login = change.entity === 'user' && change.verb === 'login';
    const principal = req.principal;
    const loginRole = login && how.outcome === 'ok' ? (result as { role?: AuditEvent['role'] } | undefined)?.role : undefined;
    const event: AuditEvent = {
      id: randomUUID(),
      at: new Date().toISOString(),
      // a login is made by whoever it names
      actor: principal?.user ?? (login ? change.entityId : null),
      role: principal?.role ?? loginRole ?? null,
      action: `${change.entity}.${change.verb}`,
      entity: change.entity,
      entityId: change.entityId,
      outcome: how.outcome,
      status: how.status,
      ...(how.code ? { code: how.code } : {}),
      requestId: String(req.id),
      ip: req.ip ?? null,
      method: req.method,
      path: req.url.split('?')[0]!.slice(0, 2_000),
      ...(auditBody(req.body) === undefined ? {} : { body: auditBody(req.body) }),
    };
    // this gateway's own cache must not wait for the event to come back
    if ((change.entity === 'user' || change.entity === 'token') && !login && how.outcome === 'ok') this.verifier.forget();
    let timer: NodeJS.Timeout | undefined;
    try {
      const publish = (async () => {
        await this.client.connect();
        const nc = this.client.unwrap<NatsConnection>();
        await publishMessage(nc, subjects.events('audit', `${change.entity}-${change.verb}`), 'audit-event', event, {
          msgId: event.id,
          timeoutMs: PUBLISH_TIMEOUT_MS,
        });
      })();
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no PubAck within ${PUBLISH_TIMEOUT_MS} ms`)), PUBLISH_TIMEOUT_MS + 500);
      });
      publish.catch(() => undefined);
      await Promise.race([publish, late]);
    } catch (err) {
      this.log.error({ err: (err as Error).message, audit: event }, 'audit event not published on EVENTS; it is only in this log');
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Records every change through the REST API after its handler settles, with the outcome. */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    @Inject(AuditRecorder) private readonly audit: AuditRecorder,
    @Inject(GATEWAY_ENV) private readonly env: GatewayConfig,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    if (!isChange(req.method)) return next.handle();
    const declared = Reflect.getMetadata(HTTP_CODE_METADATA, ctx.getHandler()) as number | undefined;
    const status = declared ?? (req.method === 'POST' ? 201 : 200);
    return next.handle().pipe(
      mergeMap((result) => from(this.audit.recordSuccess(req, status, result).then(() => result))),
      catchError((err: unknown) =>
        from(
          this.audit
            .recordFailure(req, toUplinkError(err, req, this.env.BODY_LIMIT_BYTES) ?? new UplinkError(ErrorCode.INTERNAL, 'internal error'))
            .then(() => {
              throw err;
            }),
        ),
      ),
    );
  }
}
