// `uplink dev`: the whole system on one machine: hub nats-server (operator mode: decentralized JWT
// auth with a full resolver), Postgres, Redis, every cloud service, an upstream registry with a demo
// image, and N edge sites, each an `uplink edge` process that joins through zero-touch registration
// exactly as a real site does. Everything it starts is a child process stopped by PID on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { startHub, freePort, waitFor, startUpstreamRegistry, pushTestImage } from '@uplink/testkit';
import { ensureDatabase } from '@uplink/db';
import { CliError } from '../errors.js';
import { DEFAULT_DEV_DIR } from '../api.js';
import { startPostgres, startRedis } from '../local-servers.js';
import { loadDevNats, registrationZtrEnv } from '../dev-nats.js';
import { defaultRuntimeDir } from '../edge/edge.js';
import { createCommandSigningKey } from '@uplink/command';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const tsx = createRequire(import.meta.url).resolve('tsx');

export interface DevOptions {
  data: string;
  sites: string;
  upstream?: string;
  httpPort: string;
  mirrors?: string;
  logLevel: string;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// ports that fetch() refuses to connect to (the Fetch standard's "bad ports" in this range)
const FETCH_BAD_PORTS = new Set([5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6697, 10080]);

/** The preferred port when it is free, otherwise one the OS picks. */
async function pickPort(preferred: number, taken: Set<number>): Promise<number> {
  const usable = (p: number) => !taken.has(p) && !FETCH_BAD_PORTS.has(p);
  let port = usable(preferred) && (await portFree(preferred)) ? preferred : await freePort();
  while (!usable(port)) port = await freePort();
  taken.add(port);
  return port;
}

interface Child {
  name: string;
  proc: ChildProcess;
}

/** One database per data directory, so two checkouts (or data dirs) never share a fleet. */
function devDatabaseName(data: string): string {
  return `uplink_dev_${createHash('sha256').update(data).digest('hex').slice(0, 10)}`;
}

export function devCommand(program: Command): void {
  program
    .command('dev')
    .description('run the whole system locally: hub, Postgres, Redis, cloud services, upstream registry and N edge sites')
    .option('--sites <n>', 'number of edge sites', '2')
    .option('--upstream <url>', 'upstream registry to use instead of a local one')
    .option('--http-port <port>', 'gateway port (a free one when taken)', '8080')
    .option('--mirrors <list>', 'runtime mirror configs each site writes (containerd,k3s,…)')
    .option('--log-level <level>', 'log level of the services', 'info')
    // --data is the program's global option (the other commands read dev.json from it)
    .action(async (o: Omit<DevOptions, 'data'>) => runDev({ ...o, data: program.opts<{ data?: string }>().data ?? DEFAULT_DEV_DIR }));
}

async function runDev(o: DevOptions): Promise<void> {
  const sites = Number(o.sites);
  if (!Number.isInteger(sites) || sites < 0 || sites > 50) throw new CliError('--sites must be a whole number from 0 to 50');
  const data = resolve(o.data);
  await mkdir(join(data, 'logs'), { recursive: true });
  const taken = new Set<number>();
  const children: Child[] = [];
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;

  const say = (line: string) => process.stdout.write(line + '\n');
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    say('uplink dev: stopping');
    for (const c of [...children].reverse()) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGTERM');
        await Promise.race([new Promise((r) => c.proc.once('exit', r)), new Promise((r) => setTimeout(r, 8_000))]);
        if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      }
    }
    for (const stop of [...stops].reverse()) await stop().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));
  process.once('exit', () => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  });

  const spawnService = (name: string, entry: string, env: Record<string, string>, args: string[] = []) => {
    const log = createWriteStream(join(data, 'logs', `${name}.log`), { flags: 'a' });
    const proc = spawn(process.execPath, ['--conditions=uplink-source', '--import', tsx, join(repoRoot, entry), ...args], {
      env: { ...process.env, LOG_LEVEL: o.logLevel, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.pipe(log);
    proc.stderr?.pipe(log);
    proc.once('exit', (code, signal) => {
      if (!stopping) say(`uplink dev: ${name} exited (${code ?? signal}); see ${join(data, 'logs', `${name}.log`)}`);
    });
    children.push({ name, proc });
    return proc;
  };

  try {
    // hub, in operator mode: the operator and its system and application accounts come from the data dir
    const nats = await loadDevNats(join(data, 'nats'));
    const hub = await startHub({
      operator: {
        jwt: nats.setup.operator.jwt,
        systemAccount: nats.setup.system.publicKey,
        preload: { [nats.setup.system.publicKey]: nats.setup.system.jwt, [nats.setup.app.publicKey]: nats.setup.app.jwt },
      },
      dir: join(data, 'hub'),
      port: await pickPort(4222, taken),
      leafPort: await pickPort(7422, taken),
      monitorPort: await pickPort(8222, taken),
    });
    stops.push(() => hub.stop());
    say(`hub nats-server ${hub.url} (leaf ${hub.leafUrl})`);

    // Postgres and Redis: the given URLs, else the local servers, else private ones in the data dir
    const pgUrl = process.env.DATABASE_URL ?? (await startPostgres({ dir: join(data, 'postgres'), database: devDatabaseName(data), taken, onStop: (f) => stops.push(f) }));
    await ensureDatabase(pgUrl);
    const redisUrl = process.env.REDIS_URL ?? (await startRedis({ dir: join(data, 'redis'), taken, onStop: (f) => stops.push(f) }));
    say(`postgres ${pgUrl.replace(/\/\/[^@]*@/, '//')}, redis ${redisUrl}`);

    // upstream registry with a demo image
    let upstream = o.upstream;
    if (!upstream) {
      const reg = await startUpstreamRegistry({ dir: join(data, 'upstream'), port: await pickPort(5000, taken) });
      stops.push(async () => reg[Symbol.asyncDispose]());
      upstream = reg.url;
      // seed the demo image once: a rerun on the same data dir keeps its digest
      const head = await fetch(`${reg.url}/v2/demo/hello/manifests/1.0`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
      });
      const digest = head.ok ? head.headers.get('docker-content-digest') : (await pushTestImage({ registry: reg, repository: 'demo/hello', tag: '1.0' })).digest;
      say(`upstream registry ${upstream} with demo/hello:1.0 (${digest})`);
    }

    // cloud services
    const tokenFile = join(data, 'admin-token');
    const adminToken = existsSync(tokenFile) ? (await readFile(tokenFile, 'utf8')).trim() : randomBytes(24).toString('hex');
    await writeFile(tokenFile, adminToken + '\n', { mode: 0o600 });
    const common = { NATS_URL: hub.url, NATS_CREDS: nats.servicesCreds, DATABASE_URL: pgUrl, REDIS_URL: redisUrl };
    const keyFile = join(data, 'command-signing-key.json');
    const signing = existsSync(keyFile)
      ? (JSON.parse(await readFile(keyFile, 'utf8')) as { seed: string; publicKey: string })
      : createCommandSigningKey();
    await writeFile(keyFile, JSON.stringify(signing) + '\n', { mode: 0o600 });
    spawnService('registration', 'services/registration/src/main.ts', {
      ...common,
      ...registrationZtrEnv(nats, { hubLeafUrl: hub.leafUrl, commandSigningKey: signing.publicKey }),
    });
    spawnService('state-publisher', 'services/state-publisher/src/main.ts', common);
    // a larger young generation: garbage collection is a good part of ingest's CPU per heartbeat
    spawnService('telemetry-ingest', 'services/telemetry-ingest/src/main.ts', { ...common, NODE_OPTIONS: [process.env.NODE_OPTIONS, '--max-semi-space-size=32'].filter(Boolean).join(' ') });
    spawnService('command', 'services/command/src/main.ts', { ...common, COMMAND_SIGNING_SEED: signing.seed });
    const httpPort = await pickPort(Number(o.httpPort), taken);
    spawnService('gateway', 'services/gateway/src/main.ts', { ...common, HTTP_PORT: String(httpPort), ADMIN_TOKEN: adminToken });
    const gateway = `http://127.0.0.1:${httpPort}`;
    await waitFor(async () => (await fetch(`${gateway}/readyz`)).ok, { timeoutMs: 90_000, what: `gateway ${gateway}/readyz (logs in ${join(data, 'logs')})` });

    // edge sites: create the satellite, take its join token, run `uplink edge` with it
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${gateway}${path}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const siteInfo: { name: string; registry: string; status: string; leaf: string; runtimeRoot: string; logs: string }[] = [];
    for (let i = 1; i <= sites; i++) {
      const name = `edge-${String(i).padStart(2, '0')}`;
      const dir = join(data, 'sites', name);
      const runtimeRoot = join(dir, 'root');
      await mkdir(runtimeRoot, { recursive: true });
      const leafPort = await pickPort(4300 + i, taken);
      const leafMonitorPort = await pickPort(8300 + i, taken);
      const registryPort = await pickPort(5050 + 100 * (i - 1), taken);
      const statusPort = await pickPort(5051 + 100 * (i - 1), taken);
      const forwarderPort = await pickPort(5052 + 100 * (i - 1), taken);
      // a site registered by an earlier run keeps its encrypted credentials; a new one needs a token
      let token: string | undefined;
      if (!existsSync(join(dir, 'credentials.enc'))) {
        let res = await api('POST', '/v1/satellites', { name, labels: { site: name } });
        if (res.status === 409) res = await api('POST', `/v1/satellites/${name}/token`);
        if (!res.ok) throw new CliError(`creating ${name} failed: HTTP ${res.status} ${await res.text()}`);
        token = ((await res.json()) as { joinToken: string }).joinToken;
      }
      spawnService(name, 'packages/cli/src/main.ts', {}, [
        '--data', dir,
        'edge',
        '--ground-control', gateway,
        ...(token ? ['--token', token] : []),
        // decrypted site creds on a tmpfs, apart from other dev data dirs
        '--runtime-dir', join(defaultRuntimeDir(), `dev-${createHash('sha256').update(data).digest('hex').slice(0, 8)}`),
        '--leaf-port', String(leafPort),
        '--leaf-monitor-port', String(leafMonitorPort),
        '--registry-port', String(registryPort),
        '--status-port', String(statusPort),
        '--forwarder-port', String(forwarderPort),
        '--runtime-root', runtimeRoot,
        '--log-level', o.logLevel,
        ...(o.mirrors ? ['--mirrors', o.mirrors] : []),
      ]);
      siteInfo.push({
        name,
        registry: `127.0.0.1:${registryPort}`,
        status: `http://127.0.0.1:${statusPort}`,
        leaf: `nats://127.0.0.1:${leafPort}`,
        runtimeRoot,
        logs: join(data, 'logs', `${name}.log`),
      });
    }
    for (const s of siteInfo) await waitFor(async () => (await fetch(`${s.status}/healthz`)).ok, { timeoutMs: 60_000, what: `${s.name} ${s.status}/healthz` });

    const devJson = {
      gateway,
      adminToken,
      hub: { url: hub.url, monitor: hub.monitorUrl, leaf: hub.leafUrl },
      upstream,
      database: pgUrl,
      redis: redisUrl,
      logs: join(data, 'logs'),
      sites: siteInfo,
    };
    await writeFile(join(data, 'dev.json.tmp'), JSON.stringify(devJson, null, 2) + '\n', { mode: 0o600 });
    await rename(join(data, 'dev.json.tmp'), join(data, 'dev.json'));
    say(`uplink dev ready: ${gateway}`);
    await new Promise(() => undefined);
  } catch (err) {
    await stopAll();
    throw err instanceof CliError ? err : new CliError(`uplink dev could not start: ${(err as Error).message}`, { cause: err });
  }
}
