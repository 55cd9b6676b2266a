// `uplink sat …`: the edge sites.
import type { Command } from 'commander';
import type { Satellite, SatelliteStateView } from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';

function parseLabels(pairs: string[] = []): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new CliError(`--label ${JSON.stringify(p)}: write it as key=value`);
    labels[p.slice(0, i)] = p.slice(i + 1);
  }
  return labels;
}

export function satCommand(program: Command, flags: () => TargetFlags): void {
  const sat = program.command('sat').description('edge sites (satellites)');

  sat
    .command('create <name>')
    .description('register a satellite')
    .option('--label <key=value...>', 'label (repeatable)')
    .option('--group <group...>', 'group to assign it to (repeatable)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { label?: string[]; group?: string[]; json?: boolean }) => {
      const s = await api<Satellite & { joinToken?: string }>(resolveTarget(flags()), 'POST', '/v1/satellites', {
        name,
        ...(o.label ? { labels: parseLabels(o.label) } : {}),
        ...(o.group ? { groups: o.group } : {}),
      });
      if (o.json) return printJson(s);
      process.stdout.write(`satellite ${s.name} created\n`);
      if (s.joinToken) process.stdout.write(`join token (shown once): ${s.joinToken}\n`);
    });

  sat
    .command('list')
    .description('list satellites')
    .option('--group <group>', 'only those in this group')
    .option('--json', 'print JSON')
    .action(async (o: { group?: string; json?: boolean }) => {
      const list = await api<Satellite[]>(resolveTarget(flags()), 'GET', `/v1/satellites${o.group ? `?group=${encodeURIComponent(o.group)}` : ''}`);
      if (o.json) printJson(list);
      else printTable(list, ['name', 'status', 'groups', 'labels', 'createdAt']);
    });

  sat
    .command('show <name>')
    .description('show a satellite')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const s = await api<Satellite>(resolveTarget(flags()), 'GET', `/v1/satellites/${encodeURIComponent(name)}`);
      if (o.json) printJson(s);
      else printTable([s], ['name', 'status', 'groups', 'labels', 'createdAt']);
    });

  sat
    .command('state <name>')
    .description('desired and applied state of a satellite')
    .option('--wait', 'wait until the satellite has applied its desired state')
    .option('--timeout <seconds>', 'how long --wait waits', '60')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { wait?: boolean; timeout: string; json?: boolean }) => {
      const target = resolveTarget(flags());
      const path = `/v1/satellites/${encodeURIComponent(name)}/state`;
      let view = await api<SatelliteStateView>(target, 'GET', path);
      const deadline = Date.now() + Number(o.timeout) * 1000;
      while (o.wait && (!view.desired || view.applied?.revision !== view.desired.revision)) {
        if (Date.now() > deadline) throw new CliError(`satellite ${name} has not applied revision ${view.desired?.revision ?? '?'} after ${o.timeout}s (applied: ${view.applied?.revision ?? 'none'})`);
        await new Promise((r) => setTimeout(r, 500));
        view = await api<SatelliteStateView>(target, 'GET', path);
      }
      if (o.json) return printJson(view);
      process.stdout.write(
        `desired: ${view.desired ? `revision ${view.desired.revision} ${view.desired.digest}` : 'none'}\n` +
          `applied: ${view.applied ? `revision ${view.applied.revision} at ${view.applied.at}` : 'none'}\n`,
      );
      printTable(view.artifacts, ['repository', 'digest', 'status', 'error']);
    });

  sat
    .command('token <name>')
    .description('issue a new one-time join token (earlier unused ones stop working)')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const t = await api<{ joinToken: string; joinTokenExpiresAt: string }>(resolveTarget(flags()), 'POST', `/v1/satellites/${encodeURIComponent(name)}/token`);
      if (o.json) return printJson(t);
      process.stdout.write(`join token for ${name} (shown once, expires ${t.joinTokenExpiresAt}): ${t.joinToken}\n`);
    });

  sat
    .command('delete <name>')
    .description('revoke a satellite (its credentials stop working at once); deleting a revoked one removes it')
    .action(async (name: string) => {
      const target = resolveTarget(flags());
      const path = `/v1/satellites/${encodeURIComponent(name)}`;
      const before = await api<Satellite>(target, 'GET', path);
      await api(target, 'DELETE', path);
      process.stdout.write(`satellite ${name} ${before.status === 'revoked' ? 'deleted' : 'revoked'}\n`);
    });
}
