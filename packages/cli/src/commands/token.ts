// `uplink token …`: API tokens for scripts and CI, with an expiry (admin only).
import type { Command } from 'commander';
import { Role, type CreatedToken, type TokenView } from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';
import { parseDeadline } from './cmd.js';

/** "90d", "12h", "30m" or an ISO time -> seconds from now. */
export function parseExpiry(text: string, now = Date.now()): number {
  let at: number;
  try {
    at = Date.parse(parseDeadline(text, now));
  } catch {
    throw new CliError(`--expires ${JSON.stringify(text)}: give a duration such as 90d, 12h, 30m or an ISO time`);
  }
  const seconds = Math.round((at - now) / 1000);
  if (seconds < 60) throw new CliError(`--expires ${JSON.stringify(text)}: at least one minute from now`);
  return seconds;
}

export function tokenCommand(program: Command, flags: () => TargetFlags): void {
  const token = program.command('token').description('API tokens for scripts and CI (admin only)');

  token
    .command('create')
    .description('create an API token; it is printed once, on the last line')
    .requiredOption('--name <name>', 'what the token is for, e.g. ci')
    .option('--user <name>', 'the user it acts as (default: you)')
    .option('--role <role>', 'the most it grants (default and at most: the user\'s role)')
    .option('--expires <when>', 'duration (90d, 12h) or ISO time; default 90 days')
    .option('--json', 'print JSON (with the token)')
    .action(async (o: { name: string; user?: string; role?: string; expires?: string; json?: boolean }) => {
      if (o.role !== undefined && !Role.safeParse(o.role).success) throw new CliError(`--role ${JSON.stringify(o.role)}: give one of ${Role.options.join(', ')}`);
      const body = {
        name: o.name,
        ...(o.user ? { user: o.user } : {}),
        ...(o.role ? { role: o.role } : {}),
        ...(o.expires ? { expiresInSeconds: parseExpiry(o.expires) } : {}),
      };
      const t = await api<CreatedToken>(resolveTarget(flags()), 'POST', '/v1/tokens', body);
      if (o.json) return printJson(t);
      process.stdout.write(`token ${t.id} for ${t.user} (${t.role}), expires ${t.expiresAt}; it is not shown again:\n${t.token}\n`);
    });

  token
    .command('list')
    .description('list tokens (sessions and API tokens) and whether they still work')
    .option('--user <name>', 'only the tokens of this user')
    .option('--json', 'print JSON')
    .action(async (o: { user?: string; json?: boolean }) => {
      const ts = await api<TokenView[]>(resolveTarget(flags()), 'GET', `/v1/tokens${o.user ? `?user=${encodeURIComponent(o.user)}` : ''}`);
      if (o.json) return printJson(ts);
      const now = Date.now();
      const state = (t: TokenView) => (t.revokedAt ? 'revoked' : Date.parse(t.expiresAt) <= now ? 'expired' : 'active');
      printTable(ts.map((t) => ({ ...t, state: state(t) })), ['id', 'name', 'user', 'role', 'kind', 'state', 'expiresAt', 'lastUsedAt']);
    });

  token
    .command('revoke <id>')
    .description('revoke a token at once')
    .action(async (id: string) => {
      await api(resolveTarget(flags()), 'DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
      process.stdout.write(`token ${id} revoked\n`);
    });
}
