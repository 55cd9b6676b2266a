// `uplink login`, `uplink user`, `uplink token` and `uplink audit` as a user runs them: the login is
// stored in the config dir (mode 0600) and later commands act as that user.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditPage, CreatedToken } from '@uplink/contracts';
import { tempDir, waitFor, type TempDir } from '@uplink/testkit';
import { ROOT_PASSWORD, startOperatorsSystem, type OperatorsSystem } from './support/operators-system.js';

const repoRoot = join(fileURLToPath(import.meta.url), '..', '..');
const tsx = createRequire(import.meta.url).resolve('tsx');
const cliArgs = ['--conditions=uplink-source', '--import', tsx, join(repoRoot, 'packages/cli/src/main.ts')];
const digest = `sha256:${'b'.repeat(64)}`;

let sys: OperatorsSystem;
let home: TempDir;
let credentials: string;

function uplink(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: join(home.path, 'config'), UPLINK_DEV_DIR: join(home.path, 'no-dev') };
  delete env.UPLINK_GATEWAY;
  delete env.UPLINK_TOKEN;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...cliArgs, ...args], { env, cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(input ?? '');
  });
}

beforeAll(async () => {
  home = await tempDir('uplink-cli-home-');
  mkdirSync(join(home.path, 'no-dev'));
  credentials = join(home.path, 'config', 'uplink', 'credentials.json');
  sys = await startOperatorsSystem();
});

afterAll(async () => {
  await sys?.[Symbol.asyncDispose]();
  await home?.[Symbol.asyncDispose]();
});

// each run of the CLI compiles it with tsx: seconds on a busy machine
describe('uplink login and the operator commands', { timeout: 180_000 }, () => {
  it('refuses a wrong password and stores nothing', async () => {
    const r = await uplink(['login', '--gateway', sys.gateway.url, '--username', 'root', '--password-stdin'], 'not the password\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('UNAUTHORIZED: invalid user name or password');
    expect(() => statSync(credentials)).toThrow();
  });

  it('stores the login with mode 0600, and later commands act as the logged-in user', async () => {
    const r = await uplink(['login', '--gateway', sys.gateway.url, '--username', 'root', '--password-stdin'], `${ROOT_PASSWORD}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^logged in to ${sys.gateway.url} as root \\(admin\\) until .+; token stored in ${credentials}\\n$`));
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    expect(statSync(join(home.path, 'config', 'uplink')).mode & 0o777).toBe(0o700);
    const stored = JSON.parse(readFileSync(credentials, 'utf8'));
    expect(stored).toEqual({ current: sys.gateway.url, gateways: { [sys.gateway.url]: { token: expect.stringMatching(/^upl_/), username: 'root', role: 'admin', expiresAt: expect.any(String) } } });

    // no --gateway, no --token, no dev.json: the stored login
    const [put, create] = await Promise.all([
      uplink(['group', 'put', 'line-1', '--registry', 'http://127.0.0.1:1', '--image', `app/web@${digest}`]),
      uplink(['user', 'create', 'vera', '--role', 'viewer', '--password-stdin'], 'vera-password-123\n'),
    ]);
    expect(put.stderr).toBe('');
    expect(put.code).toBe(0);
    expect(create.stdout).toBe('user vera created (viewer)\n');
    await waitFor(async () => (await sys.db.query(`SELECT 1 FROM audit_events WHERE action = 'group.put' AND actor = 'root'`)).rowCount === 1, {
      what: 'group.put audited as root',
    });

  });

  it('creates an API token that works until it is revoked', async () => {
    const created = await uplink(['token', 'create', '--name', 'ci', '--user', 'vera', '--expires', '1d', '--json']);
    expect(created.code).toBe(0);
    const t = JSON.parse(created.stdout) as CreatedToken;
    expect(t).toMatchObject({ user: 'vera', role: 'viewer', kind: 'api' });
    expect(Math.abs(Date.parse(t.expiresAt) - Date.now() - 86_400_000)).toBeLessThan(120_000);

    const [asVera, veraWrites] = await Promise.all([uplink(['--token', t.token, 'group', 'list', '--json']), uplink(['--token', t.token, 'group', 'delete', 'line-1'])]);
    expect(asVera.code).toBe(0);
    expect(JSON.parse(asVera.stdout).map((g: { name: string }) => g.name)).toEqual(['line-1']);
    expect(veraWrites.code).toBe(2);
    expect(veraWrites.stderr).toContain('FORBIDDEN');

    expect((await uplink(['token', 'revoke', t.id])).stdout).toBe(`token ${t.id} revoked\n`);
    const [after, table] = await Promise.all([uplink(['--token', t.token, 'group', 'list']), uplink(['audit', '--actor', 'root', '--from', '1h'])]);
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/UNAUTHORIZED: .*revoked/);
    expect(table.stdout).toMatch(/^AT +ACTOR +ACTION +ID +OUTCOME +IP\n/);
    expect(table.stdout).toContain('user.create');
  });

  it('shows the audit trail, and forgets the login on logout', async () => {
    const audit = await uplink(['audit', '--entity', 'group', '--json']);
    expect(audit.code).toBe(0);
    const page = JSON.parse(audit.stdout) as AuditPage;
    expect(page.events.map((e) => `${e.actor} ${e.action} ${e.entityId} ${e.outcome}`)).toEqual(['vera group.delete line-1 denied', 'root group.put line-1 ok']);

    expect((await uplink(['logout'])).stdout).toBe(`logged out of ${sys.gateway.url}\n`);
    expect(JSON.parse(readFileSync(credentials, 'utf8'))).toEqual({ gateways: {} });
    const none = await uplink(['group', 'list']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('uplink login');
  });
});
