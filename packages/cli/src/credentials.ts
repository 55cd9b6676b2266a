// Where `uplink login` keeps its session tokens: $XDG_CONFIG_HOME/uplink/credentials.json (default
// ~/.config/uplink), one login per gateway plus the gateway logged in to last, readable by the user only
// (file 0600, directory 0700).
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './errors.js';

export interface StoredLogin {
  token: string;
  username: string;
  role: string;
  expiresAt: string;
}

export interface Credentials {
  /** the gateway of the last login, used when no gateway is given */
  current?: string;
  gateways: Record<string, StoredLogin>;
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'uplink', 'credentials.json');
}

const normalize = (gateway: string) => gateway.replace(/\/+$/, '');

export function readCredentials(path = credentialsPath()): Credentials {
  if (!existsSync(path)) return { gateways: {} };
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as Credentials;
    if (!c || typeof c !== 'object' || typeof c.gateways !== 'object' || c.gateways === null) throw new Error('not a credentials file');
    return c;
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}; delete it and run \`uplink login\` again`, { cause: err });
  }
}

function write(path: string, c: Credentials): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(c, null, 2) + '\n', { mode: 0o600 });
  // an older file may have been created with a wider mode
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Store a login for a gateway and make it the current one; returns the file's path. */
export function saveLogin(gateway: string, login: StoredLogin, path = credentialsPath()): string {
  const c = readCredentials(path);
  const g = normalize(gateway);
  c.gateways[g] = login;
  c.current = g;
  write(path, c);
  return path;
}

/** Forget the login for a gateway; false when there was none. */
export function forgetLogin(gateway: string, path = credentialsPath()): boolean {
  const c = readCredentials(path);
  const g = normalize(gateway);
  if (!c.gateways[g]) return false;
  delete c.gateways[g];
  if (c.current === g) delete c.current;
  write(path, c);
  return true;
}

/** The unexpired login for `gateway` (default: the current one), if any. */
export function storedLogin(gateway?: string, path = credentialsPath()): { gateway: string; login: StoredLogin } | undefined {
  const c = readCredentials(path);
  const g = gateway === undefined ? c.current : normalize(gateway);
  const login = g === undefined ? undefined : c.gateways[g];
  if (!g || !login || !(Date.parse(login.expiresAt) > Date.now())) return undefined;
  return { gateway: g, login };
}
