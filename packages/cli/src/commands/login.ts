// `uplink login` / `uplink logout`: a session token for a user, kept in the user's config dir
// (credentials.json, mode 0600) and used by every later command that gets no --token/UPLINK_TOKEN.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { LoginResult } from '@uplink/contracts';
import { DEFAULT_DEV_DIR, api, type TargetFlags } from '../api.js';
import { forgetLogin, readCredentials, saveLogin } from '../credentials.js';
import { CliError } from '../errors.js';
import { askLine, isInteractive, readPassword } from '../prompt.js';

/** --gateway, UPLINK_GATEWAY, the gateway of the last login, then the one of `uplink dev`. */
function loginGateway(flags: TargetFlags): string {
  const fromDev = () => {
    const devJson = join(flags.data ?? process.env.UPLINK_DEV_DIR ?? DEFAULT_DEV_DIR, 'dev.json');
    return existsSync(devJson) ? (JSON.parse(readFileSync(devJson, 'utf8')) as { gateway?: string }).gateway : undefined;
  };
  const gateway = flags.gateway ?? process.env.UPLINK_GATEWAY ?? readCredentials().current ?? fromDev();
  if (!gateway) throw new CliError('which gateway? pass --gateway URL (or set UPLINK_GATEWAY)');
  return gateway.replace(/\/+$/, '');
}

export function loginCommand(program: Command, flags: () => TargetFlags): void {
  program
    .command('login')
    .description('log in to a gateway; the session token is stored in your config dir for later commands')
    .option('--gateway <url>', 'gateway URL (default: UPLINK_GATEWAY, the last login, then dev.json)')
    .option('--username <name>', 'user name (asked when on a terminal)')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .option('--json', 'print the login (without the token) as JSON')
    .action(async (o: { gateway?: string; username?: string; passwordStdin?: boolean; json?: boolean }) => {
      const gateway = loginGateway({ ...flags(), ...(o.gateway ? { gateway: o.gateway } : {}) });
      let username = o.username;
      if (!username) {
        if (!isInteractive() || o.passwordStdin) throw new CliError('give --username');
        username = (await askLine('username: ')).trim();
      }
      const password = await readPassword({ fromStdin: o.passwordStdin ?? false });
      const login = await api<LoginResult>({ gateway, token: '' }, 'POST', '/v1/login', { username, password });
      const path = saveLogin(gateway, { token: login.token, username: login.username, role: login.role, expiresAt: login.expiresAt });
      if (o.json) process.stdout.write(JSON.stringify({ gateway, username: login.username, role: login.role, expiresAt: login.expiresAt, credentials: path }) + '\n');
      else process.stdout.write(`logged in to ${gateway} as ${login.username} (${login.role}) until ${login.expiresAt}; token stored in ${path}\n`);
    });

  program
    .command('logout')
    .description('forget the stored login for a gateway')
    .option('--gateway <url>', 'gateway URL (default: UPLINK_GATEWAY, then the last login)')
    .action((o: { gateway?: string }) => {
      const gateway = o.gateway ?? flags().gateway ?? process.env.UPLINK_GATEWAY ?? readCredentials().current;
      if (!gateway) throw new CliError('not logged in anywhere');
      const forgot = forgetLogin(gateway);
      process.stdout.write(forgot ? `logged out of ${gateway.replace(/\/+$/, '')}\n` : `no stored login for ${gateway}\n`);
    });
}
