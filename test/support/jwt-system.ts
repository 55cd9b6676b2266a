// The cloud side in decentralized JWT mode for security suites: a hub in operator mode with a full
// resolver, registration (minting site accounts), state-publisher and the gateway, all connected as
// users of the application account; sites join through POST /v1/ztr.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { CommandEnv, GatewayEnv, RegistrationEnv, StatePublisherEnv, loadEnv, type SiteCredentials } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { createGatewayApp } from '@uplink/gateway';
import { startRegistration, type RegistrationHandle } from '@uplink/registration';
import { startStatePublisher } from '@uplink/state-publisher';
import { createCommandSigningKey, startCommandService } from '@uplink/command';
import { createNKey, createOperatorSetup, registrationNatsEnv, renderCreds, type NKey, type OperatorSetup } from '@uplink/nats-auth';
import { createPgSchema, startHub, tempDir, type Hub, type PgSchema, type TempDir } from '@uplink/testkit';

export const ADMIN_TOKEN = 'security-admin-token-0123456789';
export const logger = createLogger({ service: 'security-e2e', level: (process.env.E2E_LOG_LEVEL as 'info') ?? 'silent' });

export interface JoinedSite {
  name: string;
  device: NKey;
  credentials: SiteCredentials;
  /** the device's creds file text (JWT + its own seed) */
  creds: string;
}

export interface JwtSystem extends AsyncDisposable {
  setup: OperatorSetup;
  hub: Hub;
  pg: PgSchema;
  dir: TempDir;
  gateway: string;
  commandSigningKey: string;
  /** a services user of the application account */
  app: NatsConnection;
  registration: RegistrationHandle;
  /** registration's environment, to start another instance */
  registrationEnv: Record<string, string>;
  api<T = any>(method: string, path: string, body?: unknown, opts?: { bearer?: boolean }): Promise<{ status: number; body: T }>;
  /** create the satellite, register a fresh device key with its join token */
  join(name: string): Promise<JoinedSite>;
}

export interface JwtSystemOptions {
  siteJwtTtlS?: number;
  withCommands?: boolean;
  /** the hub serves leafnodes over TLS only; registration hands sites `caFile` (LEAF_CA_FILE) */
  leafTls?: { certFile: string; keyFile: string; caFile: string };
}

export async function startJwtSystem(opts: JwtSystemOptions = {}): Promise<JwtSystem> {
  const cleanups: (() => PromiseLike<unknown>)[] = [];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const setup = await createOperatorSetup();
    const dir = await tempDir('uplink-jwt-system-');
    cleanups.push(() => dir[Symbol.asyncDispose]());
    const hub = await startHub({
      operator: {
        jwt: setup.operator.jwt,
        systemAccount: setup.system.publicKey,
        preload: { [setup.system.publicKey]: setup.system.jwt, [setup.app.publicKey]: setup.app.jwt },
      },
      ...(opts.leafTls ? { leafTls: { certFile: opts.leafTls.certFile, keyFile: opts.leafTls.keyFile } } : {}),
    });
    cleanups.push(() => hub[Symbol.asyncDispose]());
    const pg = await createPgSchema('sec');
    cleanups.push(() => pg[Symbol.asyncDispose]());
    const appCreds = join(dir.path, 'services.creds');
    const sysCreds = join(dir.path, 'sys.creds');
    await writeFile(appCreds, setup.app.servicesCreds, { mode: 0o600 });
    await writeFile(sysCreds, setup.system.userCreds, { mode: 0o600 });
    const signing = createCommandSigningKey();
    const common = { NATS_URL: hub.url, NATS_CREDS: appCreds, DATABASE_URL: pg.url, LOG_LEVEL: 'silent' };

    const statePublisher = await startStatePublisher(loadEnv(StatePublisherEnv, { ...common, REPUBLISH_INTERVAL_S: '1' }), { logger });
    cleanups.push(() => statePublisher.close());
    const registrationEnv: Record<string, string> = {
      ...common,
      REDIS_KEY_PREFIX: `sec-${process.pid}-${Date.now()}:`,
      ...registrationNatsEnv(setup, { systemCredsFile: sysCreds, hubLeafUrl: hub.leafUrl, commandSigningKey: signing.publicKey }),
      SITE_JWT_TTL_S: String(opts.siteJwtTtlS ?? 3_600),
      ...(opts.leafTls ? { LEAF_CA_FILE: opts.leafTls.caFile } : {}),
    };
    const registration = await startRegistration(loadEnv(RegistrationEnv, registrationEnv), { logger });
    cleanups.push(() => registration.close());
    if (opts.withCommands) {
      const command = await startCommandService(
        loadEnv(CommandEnv, { ...common, COMMAND_SIGNING_SEED: signing.seed, SWEEP_INTERVAL_MS: '200' }),
        { logger },
      );
      cleanups.push(() => command.close());
    }
    const gw = await createGatewayApp(loadEnv(GatewayEnv, { ...common, HTTP_PORT: '0', ADMIN_TOKEN }), { logger });
    cleanups.push(() => gw.close());
    const app = await connect({ servers: hub.url, authenticator: credsAuthenticator(new TextEncoder().encode(setup.app.servicesCreds)) });
    cleanups.push(() => app.close());

    const api = async <T>(method: string, path: string, body?: unknown, o: { bearer?: boolean } = {}) => {
      const res = await fetch(gw.url + path, {
        method,
        headers: {
          ...(o.bearer === false ? {} : { authorization: `Bearer ${ADMIN_TOKEN}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    };

    const join_ = async (name: string): Promise<JoinedSite> => {
      const created = await api<{ joinToken: string }>('POST', '/v1/satellites', { name });
      if (created.status !== 201) throw new Error(`creating ${name}: HTTP ${created.status} ${JSON.stringify(created.body)}`);
      const device = createNKey('user');
      const r = await api<SiteCredentials>('POST', '/v1/ztr', { token: created.body.joinToken, publicKey: device.publicKey, fingerprint: `test-${name}` }, { bearer: false });
      if (r.status !== 200) throw new Error(`registering ${name}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return { name, device, credentials: r.body, creds: renderCreds(r.body.jwt, device.seed) };
    };

    return {
      setup,
      hub,
      pg,
      dir,
      gateway: gw.url,
      commandSigningKey: signing.publicKey,
      app,
      registration,
      registrationEnv,
      api,
      join: join_,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
