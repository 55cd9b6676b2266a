// `uplink user …`: operators and their roles (admin only).
import type { Command } from 'commander';
import { Role, type UserView } from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';
import { readPassword } from '../prompt.js';

function role(text: string): Role {
  const r = Role.safeParse(text);
  if (!r.success) throw new CliError(`role ${JSON.stringify(text)}: give one of ${Role.options.join(', ')}`);
  return r.data;
}

const path = (name: string) => `/v1/users/${encodeURIComponent(name)}`;

export function userCommand(program: Command, flags: () => TargetFlags): void {
  const user = program.command('user').description('operators: who may log in, with which role (admin only)');

  user
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const users = await api<UserView[]>(resolveTarget(flags()), 'GET', '/v1/users');
      if (o.json) return printJson(users);
      printTable(users.map((u) => ({ ...u, disabled: u.disabled ? 'yes' : '' })), ['name', 'role', 'disabled', 'lockedUntil', 'createdAt']);
    });

  user
    .command('create <name>')
    .description('create a user (the password is asked, or read with --password-stdin)')
    .requiredOption('--role <role>', 'viewer, operator or admin')
    .option('--password-stdin', 'read the password from stdin')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { role: string; passwordStdin?: boolean; json?: boolean }) => {
      const r = role(o.role);
      const password = await readPassword({ fromStdin: o.passwordStdin ?? false, question: `password for ${name}: `, confirm: true });
      const u = await api<UserView>(resolveTarget(flags()), 'POST', '/v1/users', { name, role: r, password });
      if (o.json) printJson(u);
      else process.stdout.write(`user ${u.name} created (${u.role})\n`);
    });

  user
    .command('role <name> <role>')
    .description('change the role of a user (applies to the tokens it already has)')
    .action(async (name: string, r: string) => {
      const u = await api<UserView>(resolveTarget(flags()), 'PATCH', path(name), { role: role(r) });
      process.stdout.write(`user ${u.name} is now ${u.role}\n`);
    });

  for (const [cmd, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(`${cmd} <name>`)
      .description(disabled ? 'stop a user from logging in; its tokens stop working' : 'let a disabled user log in again (also clears a lockout)')
      .action(async (name: string) => {
        const u = await api<UserView>(resolveTarget(flags()), 'PATCH', path(name), { disabled });
        process.stdout.write(`user ${u.name} ${u.disabled ? 'disabled' : 'enabled'}\n`);
      });
  }

  user
    .command('password <name>')
    .description('set a new password (ends the user\'s open sessions, clears a lockout)')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (name: string, o: { passwordStdin?: boolean }) => {
      const password = await readPassword({ fromStdin: o.passwordStdin ?? false, question: `new password for ${name}: `, confirm: true });
      await api<UserView>(resolveTarget(flags()), 'PATCH', path(name), { password });
      process.stdout.write(`password of ${name} changed\n`);
    });
}
