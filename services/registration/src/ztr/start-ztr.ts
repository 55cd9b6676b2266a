// Zero-touch registration from the validated environment: the NATS keys (ZTR is off when they are
// unset), a system account connection for pushing site accounts, Redis for the rate limits.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { connectNats } from '@uplink/bus';
import { ConfigError, RegistryCredential, type RegistrationEnv } from '@uplink/contracts';
import type { Pool } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import type { RegistrationMetrics } from '../metrics.js';
import { startAccountSync } from './account-sync.js';
import { ZeroTouchRegistration, type SiteAuthority } from './zero-touch.js';
import { createHarborRobots } from './harbor-robots.js';
import { createZtrLimiter } from './ztr-limiter.js';

type Env = z.infer<typeof RegistrationEnv>;

export interface ZtrHandle {
  ztr: ZeroTouchRegistration;
  close(): Promise<void>;
}

const NATS_KEYS = ['NATS_OPERATOR_SIGNING_SEED', 'NATS_APP_ACCOUNT', 'NATS_APP_SIGNING_SEED', 'NATS_SITE_SIGNING_SEED', 'NATS_SYSTEM_CREDS'] as const;

export async function startZtr(env: Env, deps: { pool: Pool; logger: Logger; metrics: RegistrationMetrics }): Promise<ZtrHandle> {
  const log = deps.logger;
  const closers: (() => Promise<unknown>)[] = [];
  const given = NATS_KEYS.filter((k) => env[k] !== undefined);
  if (given.length > 0 && given.length < NATS_KEYS.length) {
    throw new ConfigError(`invalid configuration:\n  zero-touch registration needs all of ${NATS_KEYS.join(', ')}; missing ${NATS_KEYS.filter((k) => env[k] === undefined).join(', ')}`);
  }
  const registryCredentials = parseRegistryCredentials(env.SITE_REGISTRY_CREDENTIALS);
  const caBundle = env.LEAF_CA_FILE ? readCaBundle(env.LEAF_CA_FILE) : undefined;
  if (env.HARBOR_URL && (!env.HARBOR_USERNAME || env.HARBOR_PASSWORD === undefined)) {
    throw new ConfigError('invalid configuration:\n  HARBOR_URL needs HARBOR_USERNAME and HARBOR_PASSWORD');
  }
  const harbor = env.HARBOR_URL
    ? createHarborRobots({
        url: env.HARBOR_URL,
        username: env.HARBOR_USERNAME!,
        password: env.HARBOR_PASSWORD!,
        projects: env.HARBOR_PROJECTS.split(',').map((p) => p.trim()).filter(Boolean),
        durationDays: env.HARBOR_ROBOT_DURATION_DAYS,
      })
    : undefined;

  let authority: SiteAuthority | undefined;
  if (given.length === NATS_KEYS.length) {
    const sys: NatsConnection = await connectNats({
      servers: env.NATS_URL,
      name: 'registration-sys',
      logger: log.child({ connection: 'system account' }),
      credsFile: env.NATS_SYSTEM_CREDS!,
      reconnectTimeWaitMs: 1_000,
    });
    closers.push(() => sys.close());
    authority = {
      operatorSigner: env.NATS_OPERATOR_SIGNING_SEED!,
      appAccount: env.NATS_APP_ACCOUNT!,
      appSigner: env.NATS_APP_SIGNING_SEED!,
      siteSigner: env.NATS_SITE_SIGNING_SEED!,
      sys,
    };
    const tlsScheme = /^(tls|wss):$/.test(new URL(env.HUB_LEAF_URL).protocol);
    const leafTls = caBundle ? 'ca-bundle' : tlsScheme ? 'system-cas' : 'off';
    log.info({ hubLeafUrl: env.HUB_LEAF_URL, leafTls }, {
      'ca-bundle': 'sites link over TLS, trusting only the CA bundle of LEAF_CA_FILE',
      'system-cas': 'sites link over TLS, trusting their system CAs',
      off: 'sites link without TLS (set a tls:// HUB_LEAF_URL and LEAF_CA_FILE for TLS)',
    }[leafTls]);
  } else {
    log.info('zero-touch registration off: no NATS operator keys configured');
  }

  const redis = new Redis(env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', () => undefined); // reported by the limiter when it matters
  redis.connect().catch(() => undefined);
  closers.push(async () => redis.disconnect());

  const ztr = new ZeroTouchRegistration({
    pool: deps.pool,
    logger: log,
    limiter: createZtrLimiter({
      redis,
      logger: log,
      keyPrefix: env.REDIS_KEY_PREFIX,
      ipLimit: env.ZTR_IP_LIMIT,
      satelliteLimit: env.ZTR_SATELLITE_LIMIT,
      windowSeconds: env.ZTR_WINDOW_S,
    }),
    ...(authority ? { authority } : {}),
    joinTokenTtlSeconds: env.JOIN_TOKEN_TTL_S,
    siteJwtTtlSeconds: env.SITE_JWT_TTL_S,
    hub: { leafUrl: env.HUB_LEAF_URL, domain: env.HUB_DOMAIN },
    ...(env.COMMAND_SIGNING_KEY ? { commandSigningKey: env.COMMAND_SIGNING_KEY } : {}),
    ...(caBundle ? { caBundle } : {}),
    registryCredentials,
    ...(harbor ? { harbor } : {}),
  });
  if (authority) {
    const sync = startAccountSync({ ztr, sys: authority.sys, logger: log, metrics: deps.metrics, intervalS: env.ACCOUNT_PUSH_INTERVAL_S });
    // stopped before the system connection closes (closers run in reverse)
    closers.push(() => sync.close());
  }
  return {
    ztr,
    close: async () => {
      for (const c of closers.reverse()) await c().catch(() => undefined);
    },
  };
}

/** The PEM bundle sites trust for the hub's leafnode certificate: every certificate in it must parse. */
function readCaBundle(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  LEAF_CA_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const bad = certs.findIndex((c) => {
    try {
      new X509Certificate(c);
      return false;
    } catch {
      return true;
    }
  });
  if (certs.length === 0 || bad >= 0) {
    throw new ConfigError(
      `invalid configuration:\n  LEAF_CA_FILE: ${file} ${certs.length === 0 ? 'holds no PEM certificate' : `has an unreadable certificate (number ${bad + 1})`}: give the PEM CA certificate(s) that signed the hub's leafnode certificate`,
    );
  }
  return pem;
}

function parseRegistryCredentials(json: string | undefined): Record<string, z.infer<typeof RegistryCredential>> {
  if (!json?.trim()) return {};
  const r = z.record(z.string().min(1), RegistryCredential).safeParse(safeJson(json));
  if (!r.success) throw new ConfigError('invalid configuration:\n  SITE_REGISTRY_CREDENTIALS: must be JSON {"<registry url or host>": {"username": "…", "password": "…"}}');
  return r.data;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
