// The command path end to end, for the commands-* suites: a hub, a Postgres schema, the command service
// and the gateway in-process, and edge sites, each a leaf nats-server behind its own cuttable link with
// an executor (in-process, or as its own process to be killed) and the forwarder.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pg from 'pg';
import { CommandEnv, ExecutorEnv, ForwarderEnv, GatewayEnv, loadEnv, type CommandView } from '@uplink/contracts';
import { createLogger } from '@uplink/observability';
import { createGatewayApp } from '@uplink/gateway';
import { createCommandSigningKey, startCommandService, type CommandServiceHandle } from '@uplink/command';
import { startExecutor, type ExecutorHandle, type ExecutorHost } from '@uplink/executor';
import { startForwarder, type ForwarderHandle } from '@uplink/forwarder';
import {
  createPgSchema,
  leafConnected,
  startHub,
  startLeaf,
  startLinkProxy,
  startProcess,
  tempDir,
  waitFor,
  type Hub,
  type LinkProxy,
  type NatsServer,
  type PgSchema,
  type Proc,
  type TempDir,
} from '@uplink/testkit';

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
const logger = createLogger({ service: 'e2e', level: (process.env.E2E_LOG_LEVEL as 'info') ?? 'silent' });
const repoRoot = join(import.meta.dirname, '..', '..');

export interface CommandSite {
  name: string;
  leaf: NatsServer;
  proxy: LinkProxy;
  dataDir: string;
  executor: ExecutorHandle | undefined;
  forwarder: ForwarderHandle | undefined;
  /** the executor as its own process (startExecutorProcess) */
  executorProc: Proc | undefined;
  startExecutor(opts?: { host?: ExecutorHost }): Promise<ExecutorHandle>;
  stopExecutor(): Promise<void>;
  /** run services/executor/src/main.ts as a child process on the same data dir */
  startExecutorProcess(): Proc;
  startForwarder(): Promise<ForwarderHandle>;
  cut(): Promise<void>;
  restore(): Promise<void>;
}

export interface CommandSystem extends AsyncDisposable {
  hub: Hub;
  pg: PgSchema;
  gateway: string;
  command: CommandServiceHandle;
  /** the command service's signing seed (tests forge with it) and public key */
  signing: { seed: string; publicKey: string };
  sql<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** register satellites (and optionally a group of them) directly in Postgres */
  addSatellites(names: string[], opts?: { group?: string; labels?: Record<string, string> }): Promise<void>;
  addSite(name: string, opts?: { executor?: boolean; forwarder?: boolean; host?: ExecutorHost; ackWaitS?: number }): Promise<CommandSite>;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** GET /v1/commands/{id} */
  view(id: string): Promise<CommandView>;
  /** wait until the command's target on `satellite` has `status` */
  waitForTarget(id: string, satellite: string, status: string | string[], timeoutMs?: number): Promise<CommandView['targets'][number]>;
}

export async function startCommandSystem(opts: { sweepIntervalMs?: number } = {}): Promise<CommandSystem> {
  const cleanups: (() => PromiseLike<unknown>)[] = [];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const hub = await startHub();
    cleanups.push(() => hub[Symbol.asyncDispose]());
    const schema = await createPgSchema('cmd');
    cleanups.push(() => schema[Symbol.asyncDispose]());
    const signing = createCommandSigningKey();
    const command = await startCommandService(
      loadEnv(CommandEnv, {
        NATS_URL: hub.url,
        DATABASE_URL: schema.url,
        COMMAND_SIGNING_SEED: signing.seed,
        SWEEP_INTERVAL_MS: String(opts.sweepIntervalMs ?? 200),
        LOG_LEVEL: 'silent',
      }),
      { logger: logger.child({ service: 'command' }) },
    );
    cleanups.push(() => command.close());
    const gw = await createGatewayApp(loadEnv(GatewayEnv, { NATS_URL: hub.url, HTTP_PORT: '0', ADMIN_TOKEN, LOG_LEVEL: 'silent' }), { logger });
    cleanups.push(() => gw.close());
    const db = new pg.Pool({ connectionString: schema.url, max: 2 });
    cleanups.push(() => db.end());
    const dirs: TempDir[] = [];
    cleanups.push(async () => {
      for (const d of dirs) await d[Symbol.asyncDispose]();
    });

    const sql = async <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) => (await db.query<R>(text, params)).rows;

    const api = async <T>(method: string, path: string, body?: unknown) => {
      const res = await fetch(gw.url + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    };

    const view = async (id: string) => {
      const r = await api<CommandView>('GET', `/v1/commands/${id}`);
      if (r.status !== 200) throw new Error(`GET /v1/commands/${id}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };

    const waitForTarget = async (id: string, satellite: string, status: string | string[], timeoutMs = 20_000) => {
      const want = Array.isArray(status) ? status : [status];
      let last: string | undefined;
      try {
        return await waitFor(
          async () => {
            const t = (await view(id)).targets.find((x) => x.satellite === satellite);
            last = t?.status;
            return t && want.includes(t.status) ? t : undefined;
          },
          { timeoutMs, intervalMs: 50, what: `${satellite} ${want.join('|')}` },
        );
      } catch (err) {
        throw new Error(`${(err as Error).message} (last status: ${last})`, { cause: err });
      }
    };

    const addSatellites = async (names: string[], o: { group?: string; labels?: Record<string, string> } = {}) => {
      await sql('INSERT INTO satellites (name, labels) SELECT unnest($1::text[]), $2::jsonb ON CONFLICT DO NOTHING', [names, JSON.stringify(o.labels ?? {})]);
      if (o.group) {
        await sql(`INSERT INTO groups (name, registry) VALUES ($1, 'http://127.0.0.1:1') ON CONFLICT DO NOTHING`, [o.group]);
        await sql('INSERT INTO group_satellites (group_name, satellite) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [o.group, names]);
      }
    };

    const addSite = async (name: string, o: { executor?: boolean; forwarder?: boolean; host?: ExecutorHost; ackWaitS?: number } = {}): Promise<CommandSite> => {
      const proxy = await startLinkProxy({ port: hub.leafPort });
      cleanups.push(() => proxy.close());
      const leaf = await startLeaf({ name, hubLeafUrl: proxy.leafUrl });
      cleanups.push(() => leaf[Symbol.asyncDispose]());
      const dir = await tempDir(`uplink-cmd-${name}-`);
      dirs.push(dir);
      const executorEnv = {
        SATELLITE_NAME: name,
        NATS_URL: leaf.url,
        LEAF_MONITOR_URL: leaf.monitorUrl,
        DATA_DIR: join(dir.path, 'data'),
        COMMAND_SIGNING_KEY: signing.publicKey,
        // catch-up runs at start and when the link comes back; the interval is only a backstop
        CATCHUP_INTERVAL_S: '60',
        ACK_WAIT_S: String(o.ackWaitS ?? 30),
        SATELLITE_STATUS_URL: 'http://127.0.0.1:1',
        LOG_LEVEL: 'silent',
      };
      const site: CommandSite = {
        name,
        leaf,
        proxy,
        dataDir: executorEnv.DATA_DIR,
        executor: undefined,
        forwarder: undefined,
        executorProc: undefined,
        async startExecutor(so = {}) {
          site.executor = await startExecutor(loadEnv(ExecutorEnv, executorEnv), {
            logger: logger.child({ service: 'executor' }),
            ...(so.host ?? o.host ? { host: (so.host ?? o.host)! } : {}),
          });
          await site.executor.ready;
          const ex = site.executor;
          // the first catch-up went through the link after the live subscription: the hub has its interest
          await waitFor(() => ex.catchUps > 0, { what: `${name} executor caught up` });
          return ex;
        },
        async stopExecutor() {
          await site.executor?.close();
          site.executor = undefined;
          await site.executorProc?.stop('SIGKILL');
          site.executorProc = undefined;
        },
        startExecutorProcess() {
          const tsx = createRequire(import.meta.url).resolve('tsx');
          site.executorProc = startProcess(process.execPath, ['--conditions=uplink-source', '--import', tsx, join(repoRoot, 'services/executor/src/main.ts')], {
            env: { ...process.env, ...executorEnv, LOG_LEVEL: 'info' },
            cwd: repoRoot,
          });
          return site.executorProc;
        },
        async startForwarder() {
          site.forwarder = await startForwarder(
            loadEnv(ForwarderEnv, { SATELLITE_NAME: name, NATS_URL: leaf.url, LEAF_MONITOR_URL: leaf.monitorUrl, STATUS_PORT: '0', LOG_LEVEL: 'silent' }),
            { logger: logger.child({ service: 'forwarder' }) },
          );
          await site.forwarder.ready;
          return site.forwarder;
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
      cleanups.push(async () => {
        await site.stopExecutor();
        await site.forwarder?.close();
      });
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: `${name} leaf linked` });
      await addSatellites([name]);
      if (o.forwarder !== false) await site.startForwarder();
      if (o.executor !== false) await site.startExecutor();
      return site;
    };

    return {
      hub,
      pg: schema,
      gateway: gw.url,
      command,
      signing,
      sql,
      addSatellites,
      addSite,
      api,
      view,
      waitForTarget,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
