// Cloud services for the operator suites: a hub, a Postgres schema, state-publisher, registration (with
// a first admin from the environment) and the gateway, in-process; plus an HTTP helper that tags every
// request with its own x-request-id so a suite can find the audit row of each.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { GatewayEnv, loadEnv, RegistrationEnv, StatePublisherEnv } from '@uplink/contracts';
import { createGatewayApp, type GatewayApp } from '@uplink/gateway';
import { createLogger } from '@uplink/observability';
import { startRegistration, type RegistrationHandle } from '@uplink/registration';
import { startStatePublisher } from '@uplink/state-publisher';
import { createPgSchema, startHub, type Hub, type PgSchema } from '@uplink/testkit';

export const ADMIN_TOKEN = 'operators-admin-token-0123456789';
export const ROOT_PASSWORD = 'root-password-for-tests';
const logger = createLogger({ service: 'e2e', level: (process.env.E2E_LOG_LEVEL as 'info') ?? 'silent' });

export interface Sent {
  requestId: string;
  method: string;
  path: string;
  status: number;
}

export interface Res<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface OperatorsSystem extends AsyncDisposable {
  hub: Hub;
  pg: PgSchema;
  db: pg.Client;
  gateway: GatewayApp;
  registration: RegistrationHandle;
  /** every request sent with a method other than GET */
  sent: Sent[];
  request<T = any>(method: string, path: string, opts?: { token?: string | null; json?: unknown }): Promise<Res<T>>;
  /** log in and return the session token (fails the test when the login fails) */
  login(username: string, password: string): Promise<string>;
}

export async function startOperatorsSystem(opts: { registration?: Record<string, string>; gateway?: Record<string, string> } = {}): Promise<OperatorsSystem> {
  const cleanups: (() => PromiseLike<unknown>)[] = [];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const hub = await startHub();
    cleanups.push(() => hub[Symbol.asyncDispose]());
    const pgSchema = await createPgSchema('ops');
    cleanups.push(() => pgSchema[Symbol.asyncDispose]());
    const common = { NATS_URL: hub.url, DATABASE_URL: pgSchema.url, LOG_LEVEL: 'silent' };
    const statePublisher = await startStatePublisher(loadEnv(StatePublisherEnv, common), { logger });
    cleanups.push(() => statePublisher.close());
    const registration = await startRegistration(
      loadEnv(RegistrationEnv, {
        ...common,
        REDIS_KEY_PREFIX: `uplink-e2e-${randomUUID()}:`,
        ADMIN_USERNAME: 'root',
        ADMIN_PASSWORD: ROOT_PASSWORD,
        ...opts.registration,
      }),
      { logger },
    );
    cleanups.push(() => registration.close());
    const gateway = await createGatewayApp(loadEnv(GatewayEnv, { ...common, HTTP_PORT: '0', ADMIN_TOKEN, ...opts.gateway }), { logger });
    cleanups.push(() => gateway.close());
    const db = new pg.Client({ connectionString: pgSchema.url });
    await db.connect();
    cleanups.push(() => db.end());

    const sent: Sent[] = [];
    const request = async <T>(method: string, path: string, o: { token?: string | null; json?: unknown } = {}): Promise<Res<T>> => {
      const requestId = randomUUID();
      const token = o.token === undefined ? ADMIN_TOKEN : o.token;
      const res = await fetch(gateway.url + path, {
        method,
        headers: {
          'x-request-id': requestId,
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
          ...(o.json === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(o.json === undefined ? {} : { body: JSON.stringify(o.json) }),
      });
      const text = await res.text();
      if (method !== 'GET') sent.push({ requestId, method, path, status: res.status });
      return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
    };
    const login = async (username: string, password: string) => {
      const res = await request<{ token: string }>('POST', '/v1/login', { token: null, json: { username, password } });
      if (res.status !== 200) throw new Error(`login of ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.token;
    };
    return { hub, pg: pgSchema, db, gateway, registration, sent, request, login, [Symbol.asyncDispose]: dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
