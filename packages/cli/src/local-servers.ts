// Postgres and Redis for `uplink dev`: the machine's servers when they answer on their standard
// ports, otherwise private ones started from the installed binaries inside the data directory.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir } from 'node:fs/promises';
import net from 'node:net';
import pg from 'pg';
import { freePort, waitForPort, startProcess } from '@uplink/testkit';
import { CliError } from './errors.js';

interface LocalOptions {
  dir: string;
  /** database name (Postgres) @default 'uplink_dev' */
  database?: string;
  taken: Set<number>;
  onStop: (stop: () => Promise<void>) => void;
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function pgAccepts(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

export async function startPostgres(o: LocalOptions): Promise<string> {
  const database = o.database ?? 'uplink_dev';
  if (await pgAccepts('postgres://postgres@127.0.0.1:5432/postgres')) return `postgres://postgres@127.0.0.1:5432/${database}`;
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort().pop() : undefined;
  if (!version) throw new CliError('no Postgres answers on 127.0.0.1:5432 and none is installed: set DATABASE_URL, or install postgresql');
  const bin = `${root}/${version}/bin`;
  await mkdir(o.dir, { recursive: true });
  // Postgres refuses to run as root: run it as the postgres user then
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]) as [string, string[]];
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    await chown(o.dir, uid, gid);
  }
  if (!existsSync(`${o.dir}/PG_VERSION`)) execFileSync(...run(`${bin}/initdb`, ['-D', o.dir, '-U', 'postgres', '--auth=trust']), { stdio: 'ignore' });
  const port = await freePort();
  o.taken.add(port);
  const proc = startProcess(...run(`${bin}/postgres`, ['-D', o.dir, '-p', String(port), '-k', o.dir, '-c', 'listen_addresses=127.0.0.1']));
  await waitForPort(port, 30_000);
  o.onStop(() => proc.stop('SIGINT'));
  return `postgres://postgres@127.0.0.1:${port}/${database}`;
}

export async function startRedis(o: LocalOptions): Promise<string> {
  if (await answers(6379)) return 'redis://127.0.0.1:6379';
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new CliError('no Redis answers on 127.0.0.1:6379 and redis-server is not installed: set REDIS_URL, or install redis-server');
  }
  await mkdir(o.dir, { recursive: true });
  const port = await freePort();
  o.taken.add(port);
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', o.dir], { stdio: 'ignore' });
  await waitForPort(port);
  o.onStop(async () => {
    child.kill('SIGTERM');
  });
  return `redis://127.0.0.1:${port}`;
}
