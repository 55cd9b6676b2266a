// The one retry/backoff helper: exponential with full jitter, capped.

export interface BackoffOptions {
  /** @default 200 */
  initialMs?: number;
  /** @default 30_000 */
  maxMs?: number;
  /** @default 2 */
  factor?: number;
  /** add random jitter of up to this fraction @default 0.2 */
  jitter?: number;
}

export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const initial = opts.initialMs ?? 200;
  const max = opts.maxMs ?? 30_000;
  const base = Math.min(max, initial * (opts.factor ?? 2) ** Math.max(0, attempt - 1));
  const jitter = base * (opts.jitter ?? 0.2) * Math.random();
  return Math.round(Math.min(max, base + jitter));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Run `fn` until it succeeds or `signal` aborts, sleeping with backoff between failures. */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: BackoffOptions & { signal?: AbortSignal; maxAttempts?: number; onError?: (err: unknown, attempt: number) => void } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      opts.onError?.(err, attempt);
      if (opts.signal?.aborted || (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts)) throw err;
      await sleep(backoffDelay(attempt, opts), opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}
