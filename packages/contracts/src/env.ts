// Environment of every service, validated at start. scripts/config-docs.ts renders these into the
// README's configuration reference, so the documentation cannot drift from the code.
import { z } from 'zod';
import { SatelliteName } from './names.js';
import { ZtrEnv } from './ztr.js';
import { Username } from './operators.js';

const port = z.coerce.number().int().min(0).max(65_535);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const CommonEnv = z.object({
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('pino log level'),
  NATS_URL: z.string().default('nats://127.0.0.1:4222').describe('NATS server(s), comma separated'),
  NATS_CREDS: z.string().optional().describe('path of a NATS credentials file'),
});

export const GatewayEnv = CommonEnv.extend({
  HTTP_HOST: z.string().default('127.0.0.1').describe('address the REST API listens on'),
  HTTP_PORT: port.default(8080).describe('port of the REST API'),
  ADMIN_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe('bootstrap admin bearer token, valid while set (`uplink dev` sets it); unset = only user tokens'),
  BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1_048_576).describe('largest accepted request body'),
  RPC_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000).describe('how long the gateway waits for a service'),
  AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000).describe('how long a verified bearer token is trusted before registration is asked again (revocations through this gateway apply at once)'),
  TLS_CERT_FILE: z.string().optional().describe('PEM certificate (chain) of the REST API; with TLS_KEY_FILE the gateway serves https'),
  TLS_KEY_FILE: z.string().optional().describe('PEM private key of TLS_CERT_FILE'),
});

export const DbEnv = z.object({
  DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/uplink').describe('Postgres URL; `?options=-c%20search_path%3D<schema>` selects a schema'),
  DB_POOL_MAX: z.coerce.number().int().positive().default(10).describe('Postgres pool size'),
});

const seconds = (def: number) => z.coerce.number().int().positive().default(def);

export const RegistrationEnv = CommonEnv.extend(DbEnv.shape).extend({
  ADMIN_USERNAME: Username.optional().describe('first admin, created at start when no user of that name exists (with ADMIN_PASSWORD)'),
  ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional().describe('password of ADMIN_USERNAME'),
  SESSION_TTL_S: seconds(43_200).describe('lifetime of the token a login returns'),
  LOGIN_MAX_FAILURES: z.coerce.number().int().positive().default(5).describe('failed logins within LOGIN_FAILURE_WINDOW_S that lock an account'),
  LOGIN_FAILURE_WINDOW_S: seconds(900).describe('window in which failed logins are counted'),
  LOGIN_LOCKOUT_S: seconds(900).describe('how long a locked account stays locked'),
  LOGIN_IP_LIMIT: z.coerce.number().int().positive().default(30).describe('login attempts one client address may make per LOGIN_IP_WINDOW_S'),
  LOGIN_IP_WINDOW_S: seconds(60).describe('window of LOGIN_IP_LIMIT'),
  METRICS_HOST: z.string().default('127.0.0.1').describe('address of the Prometheus /metrics endpoint'),
  METRICS_PORT: port.optional().describe('port of the Prometheus /metrics endpoint; unset = no endpoint'),
}).extend(ZtrEnv.shape);

export const StatePublisherEnv = CommonEnv.extend(DbEnv.shape).extend({
  TAG_RESOLVE_INTERVAL_S: z.coerce.number().int().positive().default(60).describe('how often tags are re-resolved against the upstream'),
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000).describe('timeout of one upstream registry request'),
  UPSTREAM_USERNAME: z.string().optional().describe('upstream registry user for tag resolution'),
  UPSTREAM_PASSWORD: z.string().optional().describe('upstream registry password'),
  UPSTREAM_INSECURE: bool.default(false).describe('accept any TLS certificate from the upstream'),
  REPUBLISH_INTERVAL_S: z.coerce.number().int().positive().default(5).describe('how often unpublished revisions are retried'),
  CLEANUP_INTERVAL_S: z.coerce.number().positive().default(600).describe('how often unused desired-state contents and old publication records are removed'),
  PUBLISHED_HISTORY_DAYS: z.coerce.number().int().positive().default(30).describe('days the record of each published revision (published_states) is kept'),
  METRICS_HOST: z.string().default('127.0.0.1').describe('address of the Prometheus /metrics endpoint'),
  METRICS_PORT: port.optional().describe('port of the Prometheus /metrics endpoint; unset = no endpoint'),
});

export const TelemetryIngestEnv = CommonEnv.extend(DbEnv.shape).extend({
  REDIS_URL: z.string().default('redis://127.0.0.1:6379').describe('Redis holding the latest status of every site'),
  REDIS_KEY_PREFIX: z.string().default('uplink:').describe('prefix of every Redis key telemetry-ingest writes'),
  METRICS_HOST: z.string().default('127.0.0.1').describe('address of the Prometheus /metrics endpoint'),
  METRICS_PORT: port.optional().describe('port of the Prometheus /metrics endpoint; unset = no endpoint'),
  INGEST_BATCH_MAX: z.coerce.number().int().min(1).max(6_000).default(1_000).describe('most messages written to Postgres in one batch'),
  INGEST_BATCH_WAIT_MS: z.coerce.number().int().min(0).default(20).describe('how long a message waits for its batch to fill'),
  INGEST_BATCHES_IN_FLIGHT: z.coerce.number().int().min(1).max(16).default(2).describe('batches being written at once per consumer; messages keep collecting meanwhile'),
  STALE_AFTER_INTERVALS: z.coerce.number().positive().default(3).describe('a site is stale after this many missed heartbeat intervals'),
  OFFLINE_AFTER_S: z.coerce.number().positive().default(600).describe('a site is offline after this many seconds without a heartbeat'),
  STATUS_SWEEP_INTERVAL_S: z.coerce.number().positive().default(10).describe('how often site statuses are re-evaluated and recorded'),
  RETENTION_DAYS: z.coerce.number().int().min(1).default(30).describe('days of telemetry kept; older daily partitions are dropped'),
  PARTITIONS_AHEAD_DAYS: z.coerce.number().int().min(1).max(60).default(3).describe('daily partitions created ahead of time'),
  MAINTENANCE_INTERVAL_S: z.coerce.number().positive().default(3_600).describe('how often partitions are created ahead and old ones dropped'),
  MAX_CLOCK_SKEW_S: z.coerce.number().positive().default(86_400).describe('telemetry dated further in the future than this is dead-lettered'),
  LAG_POLL_INTERVAL_S: z.coerce.number().positive().default(5).describe('how often consumer lag is read for the metrics'),
});

export const SatelliteEnv = CommonEnv.extend({
  SATELLITE_NAME: SatelliteName.describe('this site name (required)'),
  HUB_DOMAIN: z.string().default('hub').describe('JetStream domain of the hub'),
  LEAF_MONITOR_URL: z.string().optional().describe('monitoring URL of the site leaf server; used to notice a WAN link coming back'),
  DATA_DIR: z.string().default('/var/lib/uplink').describe('where the satellite keeps its state and content store'),
  STATUS_HOST: z.string().default('127.0.0.1').describe('address of /healthz, /status, /metrics'),
  STATUS_PORT: port.default(5051).describe('port of /healthz, /status, /metrics'),
  REGISTRY_HOST: z.string().default('127.0.0.1').describe('address of the local OCI registry'),
  REGISTRY_PORT: port.default(5050).describe('port of the local OCI registry'),
  CATCHUP_INTERVAL_S: z.coerce.number().positive().default(30).describe('how often the satellite checks the hub for a newer state'),
  RUNTIME_ROOT: z.string().default('/').describe('root under which runtime mirror config is written'),
  MIRRORS: z
    .string()
    .regex(
      /^\s*(?:(?:containerd|k3s|rke2|crio|cri-o|podman|docker)(?::[A-Za-z0-9.:[\]-]+(?:,[A-Za-z0-9.:[\]-]+)*)?\s*(?:[;,]\s*|$))*$/i,
      'must be runtimes with optional registries, e.g. "containerd:docker.io,ghcr.io;k3s" or "containerd,k3s" (runtimes: containerd, k3s, rke2, crio, docker)',
    )
    .optional()
    .describe('runtimes whose mirror config the satellite writes, beside the desired state\'s config.mirrors: `containerd:docker.io,ghcr.io;k3s` (no registries = every registry of the desired state)'),
  DIRECT_DELIVERY_DIR: z.string().optional().describe('where image tarballs go when the desired state asks for direct delivery; default RUNTIME_ROOT/var/lib/rancher/k3s/agent/images'),
  FORWARDER_STATUS_URL: z
    .string()
    .optional()
    .describe('status API of the site forwarder when it runs in another process; heartbeats report the OUTBOX depth and drop count it counts (unset = depth read from the OUTBOX streams, drops 0)'),
  PULL_THROUGH_ALLOW: z.string().default('').describe('comma-separated `<registry host>/<repository>` patterns (`*` one path segment, `**` any) pulled through from upstream on a miss; empty = off'),
  PULL_THROUGH_QUOTA_BYTES: z.coerce.number().int().min(0).default(0).describe('store size above which pull-through cached content is evicted, least recently used first (0 = no limit); desired content is never evicted'),
  PULL_THROUGH_TAG_TTL_S: z.coerce.number().min(0).default(300).describe('a pulled-through tag older than this is checked against its upstream when asked for, and followed when it moved (0 = never)'),
  DRIFT_CHECK_INTERVAL_S: z.coerce.number().min(0).default(300).describe('how often the content store is checked against the applied state and missing content repaired (0 = only on demand)'),
  VERIFY_INTERVAL_S: z.coerce.number().min(0).default(86_400).describe('how often every stored blob is re-hashed and corrupt ones fetched again (0 = only on demand)'),
  GC_GRACE_S: z.coerce.number().min(0).default(3_600).describe('content no longer desired is deleted only after this many seconds'),
  SYNC_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4).describe('blobs downloaded at once'),
  ARTIFACT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4).describe('artifacts synced at once'),
  SYNC_RETRY_MAX_S: z.coerce.number().positive().default(300).describe('longest wait between retries of a failing artifact'),
  REGISTRY_CREDENTIALS: z.string().optional().describe('upstream registry credentials as JSON `{"<registry url or host>": {"username": "…", "password": "…"}}`'),
});

export const ForwarderEnv = CommonEnv.extend({
  SATELLITE_NAME: SatelliteName.describe('this site name (required)'),
  HUB_DOMAIN: z.string().default('hub').describe('JetStream domain of the hub; a PubAck from another domain is refused'),
  LEAF_MONITOR_URL: z.string().optional().describe('monitoring URL of the site leaf server; forwarding resumes as soon as the WAN link is back'),
  DRAIN_RATE: z.coerce.number().int().min(1).default(2_000).describe('most messages forwarded per second (bounds the catch-up after an outage)'),
  BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500).describe('messages published at once before their PubAcks are awaited'),
  OUTBOX_MAX_BYTES: z.coerce.number().int().min(1).max(512 * 1024 ** 2).default(512 * 1024 ** 2).describe('bytes queued in OUTBOX and OUTBOX_RESULTS together (at most the streams\' 512 MiB hard cap); the oldest telemetry is dropped above it'),
  OUTBOX_MAX_AGE_S: z.coerce.number().min(0).default(7 * 86_400).describe('queued telemetry older than this is dropped (0 = no limit)'),
  OUTBOX_CHECK_INTERVAL_MS: z.coerce.number().int().min(10).default(1_000).describe('how often the OUTBOX limits are enforced and its depth read'),
  PUBLISH_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000).describe('how long a forwarded message waits for the hub PubAck'),
  BACKOFF_MAX_MS: z.coerce.number().int().positive().default(30_000).describe('longest wait between attempts while the hub is unreachable'),
  STATUS_HOST: z.string().default('127.0.0.1').describe('address of /healthz, /stats, /metrics'),
  STATUS_PORT: port.default(5052).describe('port of /healthz, /stats, /metrics'),
});

const nkeySeed = z.string().regex(/^S[A-Z][A-Z2-7]{56}$/, 'must be an nkey seed: "S", a role letter and 56 base32 characters');
const nkeyPublic = z.string().regex(/^[A-Z][A-Z2-7]{55}$/, 'must be an nkey public key: a role letter and 55 base32 characters');

export const CommandEnv = CommonEnv.extend(DbEnv.shape).extend({
  COMMAND_SIGNING_SEED: nkeySeed.describe('ed25519 nkey seed the command service signs commands with (required); executors get its public key'),
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).default(1_000).describe('how often deadlines, rollouts and unpublished commands are checked'),
  PUBLISH_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(256).describe('commands published to the hub at once during a fan-out'),
});

export const ExecutorEnv = CommonEnv.extend({
  SATELLITE_NAME: SatelliteName.describe('this site name (required)'),
  COMMAND_SIGNING_KEY: nkeyPublic.describe('public nkey of the command service; only commands signed by it run (required)'),
  LEAF_MONITOR_URL: z.string().optional().describe('monitoring URL of the site leaf server; pending commands are fetched again when the WAN link comes back'),
  DATA_DIR: z.string().default('/var/lib/uplink').describe('where the executor keeps the ids and results of the commands it ran'),
  SATELLITE_STATUS_URL: z.string().default('http://127.0.0.1:5051').describe('status API of the satellite, used by a standalone executor for diagnostics and list-images'),
  CATCHUP_INTERVAL_S: z.coerce.number().positive().default(60).describe('how often pending commands are fetched from the command service while nothing else asks'),
  OUTPUT_LIMIT_BYTES: z.coerce.number().int().min(256).max(65_536).default(16_384).describe('longest command output sent back; longer output is truncated'),
  COMMAND_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4).describe('commands run at once'),
  ACK_WAIT_S: z.coerce.number().int().min(1).max(3_600).default(30).describe('a command not acknowledged this long after a crash is delivered again (and then not run again)'),
});

export const envSchemas = {
  gateway: GatewayEnv,
  registration: RegistrationEnv,
  'state-publisher': StatePublisherEnv,
  'telemetry-ingest': TelemetryIngestEnv,
  satellite: SatelliteEnv,
  command: CommandEnv,
  executor: ExecutorEnv,
  forwarder: ForwarderEnv,
} as const;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validate the environment; the error names every bad variable and what it must be. */
export function loadEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined> = process.env): z.infer<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
}
