// The one retry helper: exponential backoff with full jitter, retrying only what says it is retryable.

export interface RetryOptions {
  /** attempts after the first @default 4 */
  retries?: number;
  /** first delay before jitter @default 200 */
  baseMs?: number;
  /** largest delay @default 10_000 */
  maxMs?: number;
  /** decides per error; @default errors whose `retryable` is true */
  isRetryable?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

/** Delay before retry number `attempt` (0-based): uniform in [0, min(max, base * 2^attempt)]. */
export function backoffDelay(attempt: number, opts: Pick<RetryOptions, 'baseMs' | 'maxMs'> = {}, random = Math.random): number {
  const cap = Math.min(opts.maxMs ?? 10_000, (opts.baseMs ?? 200) * 2 ** attempt);
  return Math.round(cap * random());
}

function defaultRetryable(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { retryable?: unknown }).retryable === true;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retries = opts.retries ?? 4;
  const isRetryable = opts.isRetryable ?? defaultRetryable;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= retries || !isRetryable(err) || opts.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, opts);
      opts.onRetry?.(err, attempt + 1, delay);
      await sleep(delay, opts.signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
