// Errors of the OCI client, store and registry. Match on `code`; `retryable` says whether trying
// the same operation again can succeed (5xx, network, timeout) or never will (404, bad digest).

export const OciErrorCode = {
  MANIFEST_UNKNOWN: 'MANIFEST_UNKNOWN',
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  BLOB_UNKNOWN: 'BLOB_UNKNOWN',
  NAME_UNKNOWN: 'NAME_UNKNOWN',
  NAME_INVALID: 'NAME_INVALID',
  TAG_INVALID: 'TAG_INVALID',
  DIGEST_INVALID: 'DIGEST_INVALID',
  DIGEST_MISMATCH: 'DIGEST_MISMATCH',
  SIZE_MISMATCH: 'SIZE_MISMATCH',
  UNAUTHORIZED: 'UNAUTHORIZED',
  DENIED: 'DENIED',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  TIMEOUT: 'TIMEOUT',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  ABORTED: 'ABORTED',
  STORE_IO: 'STORE_IO',
} as const;
export type OciErrorCode = (typeof OciErrorCode)[keyof typeof OciErrorCode];

const RETRYABLE: Record<OciErrorCode, boolean> = {
  MANIFEST_UNKNOWN: false,
  MANIFEST_INVALID: false,
  BLOB_UNKNOWN: false,
  NAME_UNKNOWN: false,
  NAME_INVALID: false,
  TAG_INVALID: false,
  DIGEST_INVALID: false,
  // a corrupted transfer may succeed the next time; the caller bounds the attempts
  DIGEST_MISMATCH: true,
  SIZE_MISMATCH: true,
  UNAUTHORIZED: false,
  DENIED: false,
  TOO_MANY_REQUESTS: true,
  UPSTREAM_UNAVAILABLE: true,
  TIMEOUT: true,
  UNSUPPORTED_MEDIA_TYPE: false,
  PROTOCOL_ERROR: false,
  ABORTED: false,
  STORE_IO: false,
};

export interface OciErrorOptions {
  cause?: unknown;
  /** overrides the code's default */
  retryable?: boolean;
  repository?: string;
  digest?: string;
  reference?: string;
  /** HTTP status received from, or to send to, the other side */
  status?: number;
}

export class OciError extends Error {
  override name = 'OciError';
  readonly code: OciErrorCode;
  readonly retryable: boolean;
  readonly repository: string | undefined;
  readonly digest: string | undefined;
  readonly reference: string | undefined;
  readonly status: number | undefined;
  constructor(code: OciErrorCode, message: string, opts: OciErrorOptions = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.retryable = opts.retryable ?? RETRYABLE[code];
    this.repository = opts.repository;
    this.digest = opts.digest;
    this.reference = opts.reference;
    this.status = opts.status;
  }
}

/** True for an OciError (or look-alike from another copy of this package) with that code. */
export function isOciError(err: unknown, code?: OciErrorCode): err is OciError {
  if (!err || typeof err !== 'object') return false;
  const e = err as { name?: unknown; code?: unknown };
  return e.name === 'OciError' && typeof e.code === 'string' && (code === undefined || e.code === code);
}
