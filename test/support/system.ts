// The whole system for end-to-end suites: a hub, a Postgres schema, the cloud services in-process,
// and edge sites, each a leaf nats-server behind its own cuttable link with a satellite.
import { join } from 'node:path';
import { GatewayEnv, loadEnv, RegistrationEnv, SatelliteEnv, StatePublisherEnv } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { createGatewayApp } from '@uplink/gateway';
import { startRegistration } from '@uplink/registration';
import { startStatePublisher } from '@uplink/state-publisher';
import { startSatellite } from '@uplink/satellite';
import {
  createPgSchema,
  leafConnected,
  startHub,
  startLeaf,
  startLinkProxy,
  tempDir,
  waitFor,
  type Hub,
  type LinkProxy,
  type NatsServer,
  type PgSchema,
  type TempDir,
} from '@uplink/testkit';

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
const logger = createLogger({ service: 'e2e', level: (process.env.E2E_LOG_LEVEL as 'info') ?? 'silent' });

type SatelliteHandle = Awaited<ReturnType<typeof startSatellite>>;

export interface Site {
  name: string;
  proxy: LinkProxy;
  leaf: NatsServer;
  dataDir: string;
  satellite: SatelliteHandle | undefined;
  /** start (or start again) the satellite on the same data dir */
  start(): Promise<SatelliteHandle>;
  stop(): Promise<void>;
  cut(): Promise<void>;
  restore(): Promise<void>;
}

export interface System extends AsyncDisposable {
  hub: Hub;
  pg: PgSchema;
  gateway: string;
  sites: Map<string, Site>;
  addSite(name: string): Promise<Site>;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export async function startSystem(opts: { catchupIntervalS?: number } = {}): Promise<System> {
  const cleanups: (() => PromiseLike<unknown>)[] = [];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const hub = await startHub();
    cleanups.push(() => hub[Symbol.asyncDispose]());
    const pg = await createPgSchema('e2e');
    cleanups.push(() => pg[Symbol.asyncDispose]());
    const common = { NATS_URL: hub.url, DATABASE_URL: pg.url, LOG_LEVEL: 'silent' };
    const statePublisher = await startStatePublisher(loadEnv(StatePublisherEnv, { ...common, REPUBLISH_INTERVAL_S: '1' }), { logger });
    cleanups.push(() => statePublisher.close());
    const registration = await startRegistration(loadEnv(RegistrationEnv, common), { logger });
    cleanups.push(() => registration.close());
    const gw = await createGatewayApp(loadEnv(GatewayEnv, { ...common, HTTP_PORT: '0', ADMIN_TOKEN }), { logger });
    cleanups.push(() => gw.close());
    const dirs: TempDir[] = [];
    cleanups.push(async () => {
      for (const d of dirs) await d[Symbol.asyncDispose]();
    });

    const api = async <T>(method: string, path: string, body?: unknown) => {
      const res = await fetch(gw.url + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    };

    const sites = new Map<string, Site>();
    const addSite = async (name: string): Promise<Site> => {
      const proxy = await startLinkProxy({ port: hub.leafPort });
      const leaf = await startLeaf({ name, hubLeafUrl: proxy.leafUrl });
      const dir = await tempDir(`uplink-site-${name}-`);
      dirs.push(dir);
      const site: Site = {
        name,
        proxy,
        leaf,
        dataDir: join(dir.path, 'data'),
        satellite: undefined,
        async start() {
          site.satellite = await startSatellite(
            loadEnv(SatelliteEnv, {
              SATELLITE_NAME: name,
              NATS_URL: leaf.url,
              LEAF_MONITOR_URL: leaf.monitorUrl,
              DATA_DIR: site.dataDir,
              STATUS_PORT: '0',
              REGISTRY_PORT: '0',
              CATCHUP_INTERVAL_S: String(opts.catchupIntervalS ?? 30),
              RUNTIME_ROOT: join(dir.path, 'root'),
              LOG_LEVEL: 'silent',
            }),
            { logger: logger.child({ satellite: name }) },
          );
          return site.satellite;
        },
        async stop() {
          await site.satellite?.close();
          site.satellite = undefined;
        },
        async cut() {
          proxy.cut();
          await waitFor(async () => !(await leafConnected(leaf.monitorUrl)), { what: `${name} link down` });
        },
        async restore() {
          proxy.restore();
          await waitFor(() => leafConnected(leaf.monitorUrl), { what: `${name} link up` });
        },
      };
      cleanups.push(() => site.stop(), () => leaf[Symbol.asyncDispose](), () => proxy.close());
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: `${name} leaf linked` });
      sites.set(name, site);
      return site;
    };

    return { hub, pg, gateway: gw.url, sites, addSite, api, [Symbol.asyncDispose]: dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
