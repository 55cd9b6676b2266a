// Fixture of the telemetry suites: a hub, a Postgres schema, telemetry-ingest and the gateway, with the
// test playing the sites' forwarders (publishing to the hub's TELEMETRY with Nats-Msg-Id = the outbox
// message id).
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { publishMessage } from '@uplink/bus';
import { GatewayEnv, loadEnv, subjects, TelemetryIngestEnv, type Heartbeat, type SyncEvent } from '@uplink/contracts';
import { createGatewayApp, type GatewayApp } from '@uplink/gateway';
import { createLogger } from '@uplink/observability';
import { startTelemetryIngest, type TelemetryIngestService } from '@uplink/telemetry-ingest';
import { createPgSchema, startHub, waitFor, type Hub, type PgSchema } from '@uplink/testkit';

export const TOKEN = 'telemetry-e2e-token-0123456789';
const logger = createLogger({ service: 'e2e', level: 'silent' });

export function heartbeat(satellite: string, seq: number, extra: Partial<Heartbeat> = {}): Heartbeat {
  return {
    satellite,
    at: new Date().toISOString(),
    seq,
    bootId: 'boot-1',
    intervalSeconds: 30,
    uptimeSeconds: seq * 30,
    cpuPercent: 3,
    memory: { usedBytes: 100, totalBytes: 1000 },
    disk: { usedBytes: 10, freeBytes: 90 },
    versions: { satellite: '0.1.0' },
    applied: null,
    inventory: { hash: 'none' },
    sync: { status: 'idle', ready: 0, total: 0, failed: 0, lastSyncAt: null },
    link: { connected: true, lastContactAt: null },
    outbox: { messages: 0, bytes: 0, dropped: 0 },
    ...extra,
  };
}

export function syncEvent(satellite: string, revision: number, event: SyncEvent['event'] = 'sync.started'): SyncEvent {
  return { satellite, at: new Date().toISOString(), event, revision };
}

export interface TelemetrySystem extends AsyncDisposable {
  hub: Hub;
  schema: PgSchema;
  nc: NatsConnection;
  db: pg.Pool;
  gateway: GatewayApp;
  ingest: TelemetryIngestService;
  /** GET with the admin token; the body parsed as JSON */
  get<T = unknown>(path: string): Promise<{ status: number; body: T }>;
  register(...names: string[]): Promise<void>;
  /** publish like the forwarder does; returns the stream sequence */
  forward(kind: 'heartbeat', body: Heartbeat, msgId: string): Promise<number>;
  forward(kind: 'sync', body: SyncEvent, msgId: string): Promise<number>;
  /** wait until telemetry-ingest stored this many rows of a satellite */
  stored(satellite: string, n: number): Promise<void>;
}

/** `ingestEnv`: extra telemetry-ingest variables (e.g. short status intervals) */
export async function startTelemetrySystem(ingestEnv: Record<string, string> = {}): Promise<TelemetrySystem> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    const hub = await startHub();
    cleanups.push(async () => hub[Symbol.asyncDispose]());
    const schema = await createPgSchema('tel');
    cleanups.push(async () => schema[Symbol.asyncDispose]());
    const prefix = `e2e${randomBytes(4).toString('hex')}:`;
    const ingest = await startTelemetryIngest(
      loadEnv(TelemetryIngestEnv, { NATS_URL: hub.url, DATABASE_URL: schema.url, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'silent', INGEST_BATCH_WAIT_MS: '5', ...ingestEnv }),
      { logger },
    );
    cleanups.push(async () => {
      await ingest.close();
      const redis = new Redis();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    });
    const gateway = await createGatewayApp(loadEnv(GatewayEnv, { NATS_URL: hub.url, HTTP_PORT: '0', ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'silent' }), { logger });
    cleanups.push(() => gateway.close());
    const nc = await connect({ servers: hub.url });
    cleanups.push(() => nc.close());
    const db = new pg.Pool({ connectionString: schema.url, max: 2 });
    cleanups.push(() => db.end());

    const system: TelemetrySystem = {
      hub,
      schema,
      nc,
      db,
      gateway,
      ingest,
      async get<T>(path: string) {
        const res = await fetch(gateway.url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
      },
      async register(...names) {
        await db.query('INSERT INTO satellites (name) SELECT unnest($1::text[])', [names]);
      },
      async forward(kind: 'heartbeat' | 'sync', body: Heartbeat | SyncEvent, msgId: string) {
        const ack =
          kind === 'heartbeat'
            ? await publishMessage(nc, subjects.telemetry(body.satellite, kind), 'heartbeat', body as Heartbeat, { msgId })
            : await publishMessage(nc, subjects.telemetry(body.satellite, kind), 'sync-event', body as SyncEvent, { msgId });
        return ack.seq;
      },
      async stored(satellite, n) {
        await waitFor(
          async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM telemetry WHERE satellite = $1', [satellite])).rows[0]?.n) >= n,
          { what: `${n} telemetry rows of ${satellite}` },
        );
      },
      [Symbol.asyncDispose]: dispose,
    };
    return system;
  } catch (err) {
    await dispose();
    throw err;
  }
}
