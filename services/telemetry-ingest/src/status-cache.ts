// The latest heartbeat of every site in Redis (`<prefix>status:<satellite>`: at, interval, heartbeat),
// for fast status reads. Updates are monotonic (a Lua script keeps the newest `at`) and pipelined, one
// script call per chunk of sites. Redis is a cache of satellite_status: a failed update is kept and
// retried with the next batch, and readers fall back to Postgres.
import { Redis } from 'ioredis';
import type { Heartbeat } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import type { LatestHeartbeat } from './records.js';

// ARGV[1]: key prefix, ARGV[2]: TTL (ms), ARGV[3]: entries, each
// "<satellite>\n<at ms>\n<seq>\n<interval>\n<bytes>\n<heartbeat>"
// (one string argument per chunk: far cheaper for the client than thousands of arguments). The keys
// are built in the script, so this needs a standalone Redis (not Cluster).
const UPDATE_SCRIPT = `
local prefix, ttl, data = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local pos, n = 1, 0
local function field()
  local nl = string.find(data, '\\n', pos, true)
  local v = string.sub(data, pos, nl - 1)
  pos = nl + 1
  return v
end
while pos <= #data do
  local sat, at, seq, interval, len = field(), tonumber(field()), tonumber(field()), field(), tonumber(field())
  local heartbeat = string.sub(data, pos, pos + len - 1)
  pos = pos + len
  local key = prefix .. sat
  local cur = redis.call('HMGET', key, 'at', 'seq')
  local curAt, curSeq = tonumber(cur[1]), tonumber(cur[2]) or -1
  if (not curAt) or curAt < at or (curAt == at and curSeq < seq) then
    redis.call('HSET', key, 'at', at, 'seq', seq, 'interval', interval, 'heartbeat', heartbeat)
    redis.call('PEXPIRE', key, ttl)
    n = n + 1
  end
end
return n`;

const CHUNK = 1_000;

interface StatusCommands {
  uplinkStatus(prefix: string, ttlMs: number, entries: string): Promise<number>;
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
    this.redis.defineCommand('uplinkStatus', { lua: UPDATE_SCRIPT, numberOfKeys: 0 });
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
        let data = '';
        for (let j = i; j < Math.min(i + CHUNK, entries.length); j++) {
          const e = entries[j]!;
          // Lua counts bytes, not UTF-16 units
          data += `${e.satellite}\n${e.atMs}\n${e.heartbeat.seq}\n${e.intervalSeconds}\n${Buffer.byteLength(e.raw)}\n${e.raw}`;
        }
        void pipeline.uplinkStatus(`${this.opts.prefix}status:`, this.opts.ttlMs, data);
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
