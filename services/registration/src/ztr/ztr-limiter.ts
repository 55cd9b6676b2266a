// Rate limits of registration and renewal in Redis, fixed windows shared by every registration
// instance: per client address and per satellite. When Redis is unreachable the limits are skipped
// (logged): join tokens carry 192 random bits, so guessing stays hopeless without them.
import type { Redis } from 'ioredis';
import type { Logger } from '@uplink/observability';

export interface ZtrLimit {
  allowed: boolean;
  retryAfterSeconds: number;
}

export interface ZtrLimiter {
  hit(scope: 'ip' | 'satellite', key: string): Promise<ZtrLimit>;
}

export interface ZtrLimiterOptions {
  redis: Redis | undefined;
  logger: Logger;
  /** @default "uplink:" */
  keyPrefix?: string;
  ipLimit: number;
  satelliteLimit: number;
  windowSeconds: number;
}

const HIT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;

export function createZtrLimiter(opts: ZtrLimiterOptions): ZtrLimiter {
  const prefix = `${opts.keyPrefix ?? 'uplink:'}ztr:`;
  let lastWarning = 0;
  return {
    async hit(scope, key) {
      if (!opts.redis) return { allowed: true, retryAfterSeconds: 0 };
      const limit = scope === 'ip' ? opts.ipLimit : opts.satelliteLimit;
      try {
        const [n, ttl] = (await opts.redis.eval(HIT, 1, `${prefix}${scope}:${key}`, String(opts.windowSeconds * 1000))) as [number, number];
        return { allowed: n <= limit, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
      } catch (err) {
        if (Date.now() - lastWarning > 60_000) {
          lastWarning = Date.now();
          opts.logger.warn({ err: (err as Error).message }, 'ZTR rate limit skipped: Redis is unreachable');
        }
        return { allowed: true, retryAfterSeconds: 0 };
      }
    },
  };
}
