// The one HTTP error shape, `{ error: { code, message, details? } }`, for every failure: UplinkErrors from
// handlers and services, fastify's own errors (body parsing, limits), unknown routes, and anything
// unexpected (500 INTERNAL; the stack goes to the log with the request id, never into the body).
import { Catch, HttpException, Inject, NotFoundException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, UplinkError, httpStatusOf } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import type { GatewayConfig } from './env.js';
import { GATEWAY_ENV, LOGGER } from './tokens.js';

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.INVALID_JSON,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.INVALID_JSON,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.BODY_TOO_LARGE,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
};

const statusCodes: Record<number, ErrorCode> = {
  400: ErrorCode.VALIDATION_FAILED,
  401: ErrorCode.UNAUTHORIZED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  409: ErrorCode.CONFLICT,
  413: ErrorCode.BODY_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  503: ErrorCode.SERVICE_UNAVAILABLE,
};

function isUplinkError(e: unknown): e is UplinkError {
  return e instanceof Error && typeof (e as UplinkError).code === 'string' && (e as UplinkError).code in httpStatusOf;
}

function fastifyCode(e: unknown): string | undefined {
  const cause = e instanceof HttpException ? e.cause : e;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('FST_') ? code : undefined;
}

const messages: Partial<Record<ErrorCode, string>> = {
  INVALID_JSON: 'the request body is not valid JSON',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported Content-Type: send "Content-Type: application/json"',
};

/** Translate anything thrown while serving a request into an UplinkError, or undefined when unexpected. */
export function toUplinkError(e: unknown, req: { method: string; url: string }, bodyLimit: number): UplinkError | undefined {
  if (isUplinkError(e)) return e;
  const fst = fastifyCode(e);
  const fromFastify = fst ? fastifyCodes[fst] : undefined;
  if (fromFastify === ErrorCode.BODY_TOO_LARGE) {
    return new UplinkError(fromFastify, `the request body is larger than ${bodyLimit} bytes`, { details: { limit: bodyLimit } });
  }
  if (fromFastify) return new UplinkError(fromFastify, messages[fromFastify] ?? (e as Error).message);
  if (e instanceof NotFoundException && e.cause === undefined) {
    return new UplinkError(ErrorCode.NOT_FOUND, `no route ${req.method} ${req.url.split('?')[0]}`);
  }
  if (e instanceof HttpException) {
    const code = statusCodes[e.getStatus()];
    if (code) return new UplinkError(code, e.message);
  }
  return undefined;
}

@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(GATEWAY_ENV) private readonly env: GatewayConfig,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    let error = toUplinkError(exception, req, this.env.BODY_LIMIT_BYTES);
    if (!error) {
      this.log.error({ reqId: req.id, method: req.method, route: req.routeOptions?.url, err: exception }, 'unexpected error');
      error = new UplinkError(ErrorCode.INTERNAL, `internal error (request id ${req.id})`);
    }
    if (reply.sent) return;
    if (error.code === ErrorCode.UNAUTHORIZED) void reply.header('www-authenticate', 'Bearer');
    const retryAfter = (error.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
    void reply.code(httpStatusOf[error.code]).header('content-type', 'application/json; charset=utf-8').send(error.toBody());
  }
}
