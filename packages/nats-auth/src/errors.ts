// Errors of NATS credential handling, each with a stable code.

export const NatsAuthErrorCode = {
  /** a key or seed is malformed or of the wrong kind */
  KEY_INVALID: 'KEY_INVALID',
  /** a credentials file or JWT cannot be parsed */
  CREDS_INVALID: 'CREDS_INVALID',
  /** the hub refused or did not answer a pushed account JWT */
  PUSH_FAILED: 'PUSH_FAILED',
  /** the hub did not list the accounts its resolver holds */
  LIST_FAILED: 'LIST_FAILED',
} as const;
export type NatsAuthErrorCode = (typeof NatsAuthErrorCode)[keyof typeof NatsAuthErrorCode];

export class NatsAuthError extends Error {
  override name = 'NatsAuthError';
  readonly code: NatsAuthErrorCode;
  readonly account: string | undefined;
  constructor(code: NatsAuthErrorCode, message: string, opts: { cause?: unknown; account?: string } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.account = opts.account;
  }
}
