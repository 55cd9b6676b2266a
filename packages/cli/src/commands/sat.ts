// `uplink sat …`: the edge sites.
import type { Command } from 'commander';
import {
  FLEET_PAGE_MAX,
  SatelliteLiveness,
  SatelliteNamePrefix,
  type FleetSatellite,
  type FleetSatellitesPage,
  type Satellite,
  type SatelliteStateView,
} from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';
import { fetchAllPages } from '../pages.js';
import { ago } from './sat-status.js';

function parseLabels(pairs: string[] = []): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new CliError(`--label ${JSON.stringify(p)}: write it as key=value`);
    labels[p.slice(0, i)] = p.slice(i + 1);
  }
  return labels;
}

interface ListOptions {
  group?: string;
  status?: string;
  prefix?: string;
  limit?: string;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

/** The fleet-list query of `sat list`'s flags, checked before anything is asked. */
export function fleetListQuery(o: ListOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (o.limit !== undefined) {
    const n = Number(o.limit);
    if (!Number.isInteger(n) || n < 1 || n > FLEET_PAGE_MAX) throw new CliError(`--limit: give a number of satellites from 1 to ${FLEET_PAGE_MAX}`);
    q.set('limit', String(n));
  }
  if (o.status !== undefined) {
    if (!SatelliteLiveness.safeParse(o.status).success) throw new CliError(`--status: give one of ${SatelliteLiveness.options.join(', ')}`);
    q.set('status', o.status);
  }
  if (o.prefix !== undefined) {
    if (!SatelliteNamePrefix.safeParse(o.prefix).success) throw new CliError('--prefix: give the start of a satellite name (lower case letters, digits, "-" and "_")');
    q.set('q', o.prefix);
  }
  return q;
}

/** One line of the fleet list for people. */
export function fleetRow(s: FleetSatellite, now = Date.now()): Record<string, unknown> {
  const rev = (r: number | null) => (r === null ? '-' : `r${r}`);
  return {
    name: s.name,
    liveness: s.liveness,
    lifecycle: s.lifecycle,
    heartbeat: s.lastHeartbeatAt ? ago(s.lastHeartbeatAt, now) : 'never',
    'applied/desired': `${rev(s.appliedRevision)}/${rev(s.desiredRevision)}`,
    sync: s.syncStatus,
    version: s.version,
    groups: s.groups,
  };
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
    .description('list satellites: liveness, lifecycle, last heartbeat, revisions, sync, version and groups, a page at a time')
    .option('--status <liveness>', `only those of this liveness (${SatelliteLiveness.options.join(', ')})`)
    .option('--prefix <start>', 'only those whose name starts with this')
    .option('--limit <n>', `satellites per page (1..${FLEET_PAGE_MAX}; the gateway's default is 100)`)
    .option('--cursor <cursor>', 'start at this page (the cursor printed after the previous one)')
    .option('--all', 'fetch every page')
    .option('--group <group>', 'only those in this group, with labels and creation time (registration\'s list, in one piece)')
    .option('--json', 'print JSON: the page ({satellites, nextCursor?}); with --all every satellite; with --group the array')
    .action(async (o: ListOptions) => {
      const target = resolveTarget(flags());
      if (o.group !== undefined) {
        const paged = (['status', 'prefix', 'limit', 'cursor', 'all'] as const).filter((k) => o[k] !== undefined);
        if (paged.length > 0) throw new CliError(`--group lists a group's satellites in one piece: leave out ${paged.map((k) => `--${k}`).join(', ')}`);
        const list = await api<Satellite[]>(target, 'GET', `/v1/satellites?group=${encodeURIComponent(o.group)}`);
        if (o.json) printJson(list);
        else printTable(list, ['name', 'status', 'groups', 'labels', 'createdAt']);
        return;
      }
      const query = fleetListQuery(o);
      const fetchPage = (cursor: string | undefined) => {
        const q = new URLSearchParams(query);
        if (cursor !== undefined) q.set('cursor', cursor);
        const qs = q.toString();
        return api<FleetSatellitesPage>(target, 'GET', `/v1/fleet/satellites${qs ? `?${qs}` : ''}`);
      };
      const page: FleetSatellitesPage = o.all
        ? { satellites: (await fetchAllPages(fetchPage, o.cursor)).flatMap((p) => p.satellites) }
        : await fetchPage(o.cursor);
      if (o.json) return printJson(page);
      const now = Date.now();
      printTable(page.satellites.map((s) => fleetRow(s, now)), ['name', 'liveness', 'lifecycle', 'heartbeat', 'applied/desired', 'sync', 'version', 'groups']);
      if (page.nextCursor !== undefined) {
        const again = [...query].filter(([k]) => k !== 'q').map(([k, v]) => ` --${k} ${v}`).join('') + (o.prefix ? ` --prefix ${o.prefix}` : '');
        process.stdout.write(`${page.satellites.length} shown, more follow; next page: uplink sat list --cursor ${page.nextCursor}${again} (or --all for every one)\n`);
      }
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
