// `uplink audit`: who changed what, newest first (admin only).
import type { Command } from 'commander';
import type { AuditEvent, AuditPage } from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';
import { parseSince } from './telemetry.js';

export function auditCommand(program: Command, flags: () => TargetFlags): void {
  program
    .command('audit')
    .description('the audit trail: every change made through the API, newest first')
    .option('--entity <entity>', 'user, token, group, satellite, command, …')
    .option('--id <id>', 'only this entity (with --entity)')
    .option('--actor <user>', 'only changes by this user')
    .option('--action <action>', 'e.g. group.put, user.login')
    .option('--outcome <outcome>', 'ok, failed or denied')
    .option('--from <when>', 'ISO time or how long ago (30m, 2h, 1d)')
    .option('--to <when>', 'ISO time or how long ago')
    .option('--limit <n>', 'most events shown', '50')
    .option('--json', 'print JSON')
    .action(async (o: { entity?: string; id?: string; actor?: string; action?: string; outcome?: string; from?: string; to?: string; limit: string; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit: give a number from 1 to 1000');
      const q = new URLSearchParams({ limit: String(limit) });
      for (const [k, v] of [['entity', o.entity], ['entityId', o.id], ['actor', o.actor], ['action', o.action], ['outcome', o.outcome]] as const) if (v) q.set(k, v);
      if (o.from) q.set('from', parseSince(o.from, '--from'));
      if (o.to) q.set('to', parseSince(o.to, '--to'));
      const page = await api<AuditPage>(resolveTarget(flags()), 'GET', `/v1/audit?${q}`);
      if (o.json) return printJson(page);
      const row = (e: AuditEvent) => ({ at: e.at, actor: e.actor, action: e.action, id: e.entityId, outcome: e.code ? `${e.outcome} (${e.code})` : e.outcome, ip: e.ip });
      printTable(page.events.map(row), ['at', 'actor', 'action', 'id', 'outcome', 'ip']);
    });
}
