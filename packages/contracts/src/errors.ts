// Stable error codes shared by REST, RPC and CLI. Match on `code`, never on class identity.
import { z } from 'zod';

export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  INVALID_JSON: 'INVALID_JSON',
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  ACCOUNT_LOCKED: 'ACCOUNT_LOCKED',
  TOO_MANY_ATTEMPTS: 'TOO_MANY_ATTEMPTS',
  JOIN_TOKEN_INVALID: 'JOIN_TOKEN_INVALID',
  JOIN_TOKEN_USED: 'JOIN_TOKEN_USED',
  JOIN_TOKEN_EXPIRED: 'JOIN_TOKEN_EXPIRED',
  SATELLITE_REVOKED: 'SATELLITE_REVOKED',
  NOT_FOUND: 'NOT_FOUND',
  GROUP_NOT_FOUND: 'GROUP_NOT_FOUND',
  SATELLITE_NOT_FOUND: 'SATELLITE_NOT_FOUND',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  CONFLICT: 'CONFLICT',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const httpStatusOf: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  ACCOUNT_LOCKED: 423,
  TOO_MANY_ATTEMPTS: 429,
  JOIN_TOKEN_INVALID: 401,
  JOIN_TOKEN_USED: 409,
  JOIN_TOKEN_EXPIRED: 410,
  SATELLITE_REVOKED: 403,
  NOT_FOUND: 404,
  GROUP_NOT_FOUND: 404,
  SATELLITE_NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CONFLICT: 409,
  UPSTREAM_UNAVAILABLE: 502,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** An error a user can act on: a stable code, a message naming what to fix, optional details. */
export class UplinkError extends Error {
  override name = 'UplinkError';
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, opts: { details?: unknown; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.details = opts.details;
  }
  toBody() {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

/** Turn a zod failure into a VALIDATION_FAILED error listing each bad field. */
export function validationError(what: string, error: z.ZodError): UplinkError {
  return new UplinkError(ErrorCode.VALIDATION_FAILED, `invalid ${what}: ${z.prettifyError(error).replace(/\n/g, '; ')}`, {
    details: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  });
}

/** Parse or throw VALIDATION_FAILED. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(what, r.error);
  return r.data;
}

/** Request/reply envelope of `uplink.rpc.*`. */
export type RpcReply<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string; details?: unknown } };

export function rpcOk<T>(data: T): RpcReply<T> {
  return { ok: true, data };
}

export function rpcError(err: unknown): RpcReply<never> {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as UplinkError).code === 'string' && (err as UplinkError).code in httpStatusOf) {
    const e = err as UplinkError;
    return { ok: false, error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } };
  }
  return { ok: false, error: { code: ErrorCode.INTERNAL, message: 'internal error' } };
}
