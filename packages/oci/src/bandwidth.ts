// One token bucket shared by every transfer of a client: the site's WAN budget in bytes/s.
// A take() larger than what is available goes into debt, and later takers wait for the debt
// too, so concurrent transfers are served in arrival order and the sum never exceeds the rate.

export interface BandwidthStats {
  /** bytes let through since creation */
  grantedBytes: number;
  /** takes that had to wait */
  waits: number;
  /** sum of the waits imposed, in ms */
  waitedMs: number;
}

export interface BandwidthLimiter {
  /** 0 = unlimited */
  readonly bytesPerSecond: number;
  /** change the rate; waits already scheduled keep theirs */
  setRate(bytesPerSecond: number): void;
  /** resolves when `bytes` may be sent */
  take(bytes: number, signal?: AbortSignal): Promise<void>;
  stats(): BandwidthStats;
}

export interface BandwidthLimiterOptions {
  /** bytes per second, 0 = unlimited */
  bytesPerSecond: number;
  /** bytes that may pass at once after an idle time @default min(64 KiB, bytesPerSecond / 4) */
  burstBytes?: number;
  /** clock, for tests of the accounting @default performance.now */
  now?: () => number;
}

export function createBandwidthLimiter(opts: BandwidthLimiterOptions): BandwidthLimiter {
  const now = opts.now ?? (() => performance.now());
  let rate = Math.max(0, opts.bytesPerSecond);
  const burstOf = (r: number) => opts.burstBytes ?? Math.max(1, Math.min(64 * 1024, Math.floor(r / 4)));
  let burst = burstOf(rate);
  let tokens = burst;
  let last = now();
  const stats: BandwidthStats = { grantedBytes: 0, waits: 0, waitedMs: 0 };

  function refill() {
    const t = now();
    tokens = Math.min(burst, tokens + ((t - last) / 1000) * rate);
    last = t;
  }

  return {
    get bytesPerSecond() {
      return rate;
    },
    setRate(bytesPerSecond) {
      refill();
      rate = Math.max(0, bytesPerSecond);
      burst = burstOf(rate);
      tokens = Math.min(tokens, burst);
    },
    async take(bytes, signal) {
      stats.grantedBytes += bytes;
      if (rate === 0 || bytes <= 0) return;
      refill();
      tokens -= bytes;
      if (tokens >= 0) return;
      const waitMs = (-tokens / rate) * 1000;
      stats.waits++;
      stats.waitedMs += waitMs;
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason as Error);
        const t = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, Math.ceil(waitMs));
        const onAbort = () => {
          clearTimeout(t);
          reject(signal!.reason as Error);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    stats: () => ({ ...stats }),
  };
}
