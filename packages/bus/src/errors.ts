// Errors a message handler throws tell the runner what to do with the message.

export const BusErrorCode = {
  /** the message can never succeed: terminate and dead-letter it */
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  /** a passing fault: nak with backoff */
  RETRYABLE: 'RETRYABLE',
  NOT_CONNECTED: 'NOT_CONNECTED',
  PUBLISH_FAILED: 'PUBLISH_FAILED',
} as const;
export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

export class BusError extends Error {
  override name = 'BusError';
  readonly code: BusErrorCode;
  readonly subject: string | undefined;
  constructor(code: BusErrorCode, message: string, opts: { cause?: unknown; subject?: string } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.subject = opts.subject;
  }
}

/** Throw from a handler when the message itself is wrong: it is terminated and dead-lettered. */
export class InvalidMessageError extends BusError {
  override name = 'InvalidMessageError';
  constructor(reason: string, opts: { cause?: unknown; subject?: string } = {}) {
    super(BusErrorCode.INVALID_MESSAGE, reason, opts);
  }
}

/** Throw from a handler for a passing fault: the message is redelivered after a backoff. */
export class RetryableError extends BusError {
  override name = 'RetryableError';
  constructor(reason: string, opts: { cause?: unknown; subject?: string } = {}) {
    super(BusErrorCode.RETRYABLE, reason, opts);
  }
}

export function isInvalidMessage(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { code?: unknown }).code === BusErrorCode.INVALID_MESSAGE;
}
