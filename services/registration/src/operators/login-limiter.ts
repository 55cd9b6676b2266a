// Per-address login rate limit in Redis: a fixed window per client address, shared by every
// registration instance. It bounds password guessing across accounts and the CPU that scrypt costs.
// When Redis is unreachable the limit is skipped (logged): the per-account lockout still holds.
import type { Redis } from 'ioredis';
import type { Logger } from '@uplink/observability';

export interface LoginLimit {
  allowed: boolean;
  /** seconds until the window ends (when not allowed) */
  retryAfterSeconds: number;
}

export interface LoginRateLimiter {
  hit(ip: string): Promise<LoginLimit>;
}

export interface LoginRateLimiterOptions {
  redis: Redis;
  logger: Logger;
  /** @default "uplink:" */
  keyPrefix?: string;
  /** attempts allowed per window */
  limit: number;
  windowSeconds: number;
}

const HIT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}`;

export function createLoginRateLimiter(opts: LoginRateLimiterOptions): LoginRateLimiter {
  const prefix = `${opts.keyPrefix ?? 'uplink:'}login:ip:`;
  let lastWarning = 0;
  return {
    async hit(ip) {
      try {
        const [n, ttl] = (await opts.redis.eval(HIT, 1, prefix + ip, String(opts.windowSeconds * 1000))) as [number, number];
        return { allowed: n <= opts.limit, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
      } catch (err) {
        if (Date.now() - lastWarning > 60_000) {
          lastWarning = Date.now();
          opts.logger.warn({ err: (err as Error).message }, 'login rate limit skipped: Redis is unreachable');
        }
        return { allowed: true, retryAfterSeconds: 0 };
      }
    },
  };
}
