// Operators inside the registration process: the Redis login rate limit, the first admin from the
// environment, and the durable EVENTS consumer that stores the audit trail in Postgres.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { provisionStreams, publishMessage, runConsumer } from '@uplink/bus';
import { ConfigError, auditVerb, hubDurables, hubStreams, subjects, type RegistrationEnv } from '@uplink/contracts';
import type { Pool } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import type { z } from 'zod';
import { createLoginRateLimiter } from './login-limiter.js';
import { Operators } from './operators.js';
import type { ScryptParams } from './passwords.js';

const AUDIT_DURABLE = 'registration-audit';
const PURGE_INTERVAL_MS = 3_600_000;

export interface StartOperatorsOptions {
  env: z.infer<typeof RegistrationEnv>;
  pool: Pool;
  nc: NatsConnection;
  logger: Logger;
  /** @default DEFAULT_SCRYPT */
  scrypt?: ScryptParams;
}

export interface OperatorsHandle {
  operators: Operators;
  close(): Promise<void>;
}

export async function startOperators(opts: StartOperatorsOptions): Promise<OperatorsHandle> {
  const { env, pool, nc } = opts;
  const log = opts.logger.child({ component: 'operators' });
  if ((env.ADMIN_USERNAME === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('invalid configuration:\n  ADMIN_USERNAME and ADMIN_PASSWORD: set both or neither');
  }
  // No offline queue: while Redis is away a limit check fails at once (and is skipped) instead of waiting.
  const redis = new Redis(env.REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
  redis.on('error', () => undefined); // reported by the limiter when it matters
  await redis.connect().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'Redis not reachable yet: login rate limits are skipped until it is'));

  const operators = new Operators({
    pool,
    logger: log,
    limiter: createLoginRateLimiter({ redis, logger: log, keyPrefix: env.REDIS_KEY_PREFIX, limit: env.LOGIN_IP_LIMIT, windowSeconds: env.LOGIN_IP_WINDOW_S }),
    policy: {
      sessionTtlSeconds: env.SESSION_TTL_S,
      maxFailures: env.LOGIN_MAX_FAILURES,
      failureWindowSeconds: env.LOGIN_FAILURE_WINDOW_S,
      lockoutSeconds: env.LOGIN_LOCKOUT_S,
    },
    publishAudit: async (event) => {
      await publishMessage(nc, subjects.events('audit', auditVerb(event.action)), 'audit-event', event, { msgId: event.id });
    },
    ...(opts.scrypt ? { scrypt: opts.scrypt } : {}),
  });

  try {
    await provisionStreams(await jetstreamManager(nc), hubStreams, log);
    const audit = runConsumer({
      nc,
      stream: hubDurables[AUDIT_DURABLE].stream,
      consumer: hubDurables[AUDIT_DURABLE].spec,
      type: hubDurables[AUDIT_DURABLE].type,
      logger: log,
      // one at a time: rows are numbered in stream order, which the audit query pages by
      concurrency: 1,
      handler: (event) => operators.recordAudit(event),
    });
    await audit.ready;
    if (env.ADMIN_USERNAME !== undefined && env.ADMIN_PASSWORD !== undefined) await operators.ensureAdmin(env.ADMIN_USERNAME, env.ADMIN_PASSWORD);
    const purge = () => operators.purgeExpiredTokens().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'expired tokens not purged'));
    void purge();
    const purging = setInterval(purge, PURGE_INTERVAL_MS);
    purging.unref();
    return {
      operators,
      close: async () => {
        clearInterval(purging);
        await audit.stop();
        redis.disconnect();
      },
    };
  } catch (err) {
    redis.disconnect();
    throw err;
  }
}
