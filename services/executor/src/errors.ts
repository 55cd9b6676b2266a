// Errors of the executor, matched on `code`.

export const ExecutorErrorCode = {
  INVALID_CONFIG: 'INVALID_CONFIG',
  /** the action needs something this process does not have (e.g. the satellite's content store) */
  NOT_AVAILABLE: 'NOT_AVAILABLE',
  STORE_FAILED: 'STORE_FAILED',
} as const;
export type ExecutorErrorCode = (typeof ExecutorErrorCode)[keyof typeof ExecutorErrorCode];

export class ExecutorError extends Error {
  override name = 'ExecutorError';
  readonly code: ExecutorErrorCode;
  constructor(code: ExecutorErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
  }
}

/** Thrown by a host for an action it cannot carry out in this process; the command ends `failed`. */
export function notAvailable(action: string, why: string): ExecutorError {
  return new ExecutorError(ExecutorErrorCode.NOT_AVAILABLE, `${action} is not available in this process: ${why}`);
}
