// The gateway's REST API as the CLI sees it. Target and token come from flags, then
// UPLINK_GATEWAY/UPLINK_TOKEN, then the login `uplink login` stored, then the dev.json that `uplink dev` wrote.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { storedLogin } from './credentials.js';
import { CliError } from './errors.js';

export interface ApiTarget {
  gateway: string;
  token: string;
}

export interface TargetFlags {
  gateway?: string;
  token?: string;
  data?: string;
}

export const DEFAULT_DEV_DIR = '.uplink/dev';

export function resolveTarget(flags: TargetFlags): ApiTarget {
  let gateway = flags.gateway ?? process.env.UPLINK_GATEWAY;
  let token = flags.token ?? process.env.UPLINK_TOKEN;
  if (!gateway || !token) {
    const stored = storedLogin(gateway);
    gateway ??= stored?.gateway;
    token ??= stored?.login.token;
  }
  if (!gateway || !token) {
    const devJson = join(flags.data ?? process.env.UPLINK_DEV_DIR ?? DEFAULT_DEV_DIR, 'dev.json');
    if (existsSync(devJson)) {
      const dev = JSON.parse(readFileSync(devJson, 'utf8')) as { gateway?: string; adminToken?: string };
      gateway ??= dev.gateway;
      token ??= dev.adminToken;
    }
  }
  if (!gateway) throw new CliError('no gateway to talk to: log in with `uplink login --gateway URL`, start one with `uplink dev`, or pass --gateway URL (or set UPLINK_GATEWAY)');
  if (!token) throw new CliError('no API token: run `uplink login`, or pass --token (or set UPLINK_TOKEN)');
  return { gateway: gateway.replace(/\/$/, ''), token };
}

export async function api<T>(target: ApiTarget, method: 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let res;
  try {
    res = await request(target.gateway + path, {
      method,
      headers: {
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  } catch (err) {
    throw new CliError(`cannot reach the gateway at ${target.gateway}: ${(err as Error).message}. Is \`uplink dev\` running?`, { cause: err });
  }
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (res.statusCode >= 400) {
    const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new CliError(`${e?.code ?? `HTTP ${res.statusCode}`}: ${e?.message ?? text.slice(0, 200)}`, { code: e?.code, exitCode: 2 });
  }
  return json as T;
}
