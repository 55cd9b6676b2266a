// `uplink sat status <name>`: whether a site is online and what its latest heartbeat says.
import type { Command } from 'commander';
import type { SatelliteStatusView } from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { printJson } from '../output.js';
import { summarize } from './telemetry.js';

/** "12s ago", "3m ago", "2h ago", "4d ago" */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7_200) return `${Math.round(s / 60)}m ago`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}

/** Adds `status` to the `sat` command that sat.ts declares. */
export function satStatusCommand(program: Command, flags: () => TargetFlags): void {
  const sat = program.commands.find((c) => c.name() === 'sat') ?? program.command('sat').description('edge sites (satellites)');
  sat
    .command('status <name>')
    .description('online, stale, offline, pending or revoked, with the latest heartbeat')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { json?: boolean }) => {
      const v = await api<SatelliteStatusView>(resolveTarget(flags()), 'GET', `/v1/satellites/${encodeURIComponent(name)}/status`);
      if (o.json) return printJson(v);
      const lines = [`${v.name}: ${v.status}`];
      if (v.lastHeartbeatAt) lines.push(`last heartbeat: ${v.lastHeartbeatAt} (${ago(v.lastHeartbeatAt)})`);
      else lines.push('last heartbeat: never');
      if (v.heartbeat) {
        lines.push(summarize('heartbeat', v.heartbeat));
        const versions = Object.entries(v.heartbeat.versions).map(([k, ver]) => `${k} ${ver}`);
        if (versions.length > 0) lines.push(`versions: ${versions.join(', ')}`);
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
