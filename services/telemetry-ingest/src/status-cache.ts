// The latest heartbeat of every site in Redis (`<prefix>status:<satellite>`: at, interval, heartbeat),
// for fast status reads. Updates are monotonic (a Lua script keeps the newest `at`) and pipelined, one
// script call per chunk of sites. Redis is a cache of satellite_status: a failed update is kept and
// retried with the next batch, and readers fall back to Postgres.
import { Redis } from 'ioredis';
import type { Heartbeat } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import type { LatestHeartbeat } from './records.js';

const UPDATE_SCRIPT = `
local ttl = tonumber(ARGV[1])
local n = 0
for i, key in ipairs(KEYS) do
  local at = ARGV[i * 3 - 1]
  local cur = redis.call('HGET', key, 'at')
  if (not cur) or tonumber(cur) < tonumber(at) then
    redis.call('HSET', key, 'at', at, 'interval', ARGV[i * 3], 'heartbeat', ARGV[i * 3 + 1])
    redis.call('PEXPIRE', key, ttl)
    n = n + 1
  end
end
return n`;

const CHUNK = 250;

interface StatusCommands {
  uplinkStatus(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

export interface CachedStatus {
  atMs: number;
  intervalSeconds: number;
  heartbeat: Heartbeat;
}

export interface StatusCacheOptions {
  url: string;
  /** key prefix, e.g. "uplink:" */
  prefix: string;
  /** keys of sites that stopped reporting expire after this */
  ttlMs: number;
  logger: Logger;
  onError?: () => void;
}

export class StatusCache {
  readonly redis: Redis;
  /** updates that failed, newest per site, sent again with the next batch */
  private readonly retry = new Map<string, LatestHeartbeat>();

  constructor(private readonly opts: StatusCacheOptions) {
    this.redis = new Redis(opts.url, {
      // never hold a batch back waiting for Redis: fail at once and retry with the next batch
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
      retryStrategy: (times) => Math.min(times * 200, 5_000),
    });
    this.redis.on('error', (err: Error) => opts.logger.warn({ err: err.message }, 'redis error'));
    this.redis.defineCommand('uplinkStatus', { lua: UPDATE_SCRIPT });
  }

  private key(satellite: string): string {
    return `${this.opts.prefix}status:${satellite}`;
  }

  /** Wait (bounded) for the first connection; the service works without Redis meanwhile. */
  async ready(timeoutMs = 5_000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const t = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      this.redis.on('ready', onReady);
    });
  }

  /** Record the newest heartbeat of each site. Never throws. */
  async update(latest: LatestHeartbeat[]): Promise<void> {
    let entries = latest;
    if (this.retry.size > 0) {
      const merged = new Map(this.retry);
      this.retry.clear();
      for (const l of latest) {
        const prev = merged.get(l.satellite);
        if (!prev || l.atMs >= prev.atMs) merged.set(l.satellite, l);
      }
      entries = [...merged.values()];
    }
    if (entries.length === 0) return;
    try {
      const pipeline = this.redis.pipeline() as unknown as StatusCommands & { exec(): Promise<[Error | null, unknown][] | null> };
      for (let i = 0; i < entries.length; i += CHUNK) {
        const chunk = entries.slice(i, i + CHUNK);
        const args: (string | number)[] = chunk.map((e) => this.key(e.satellite));
        args.push(this.opts.ttlMs);
        for (const e of chunk) args.push(e.atMs, e.intervalSeconds, JSON.stringify(e.heartbeat));
        void pipeline.uplinkStatus(chunk.length, ...args);
      }
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err)?.[0];
      if (failed) throw failed;
    } catch (err) {
      this.opts.onError?.();
      this.opts.logger.warn({ err: (err as Error).message, sites: entries.length }, 'redis status update failed; retrying with the next batch');
      for (const e of entries) {
        const prev = this.retry.get(e.satellite);
        if (!prev || e.atMs >= prev.atMs) this.retry.set(e.satellite, e);
      }
    }
  }

  /** The cached status of a site; undefined when absent. Throws when Redis is unreachable. */
  async get(satellite: string): Promise<CachedStatus | undefined> {
    const h = await this.redis.hgetall(this.key(satellite));
    if (!h.at || !h.interval || !h.heartbeat) return undefined;
    return { atMs: Number(h.at), intervalSeconds: Number(h.interval), heartbeat: JSON.parse(h.heartbeat) as Heartbeat };
  }

  async close(): Promise<void> {
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
