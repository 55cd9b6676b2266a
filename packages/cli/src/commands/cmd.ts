// `uplink cmd …`: remote commands to a site, a group or a label selection, and their results.
import type { Command } from 'commander';
import {
  CreateCommandBody,
  TERMINAL_TARGET_STATUSES,
  commandActions,
  type CommandList,
  type CommandSummary,
  type CommandTarget,
  type CommandView,
  type CreatedCommand,
  type TargetStatus,
} from '@uplink/contracts';
import { api, resolveTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';

/** `sat:<name>`, `group:<name>`, `label:k=v[,k=v]`, `fleet` (every site) or a bare satellite name. */
export function parseCommandTarget(text: string): CommandTarget {
  if (text === 'fleet') return { selector: {} };
  const [kind, rest] = text.includes(':') ? [text.slice(0, text.indexOf(':')), text.slice(text.indexOf(':') + 1)] : ['sat', text];
  switch (kind) {
    case 'sat':
      return { satellite: rest };
    case 'group':
      return { group: rest };
    case 'label': {
      const selector: Record<string, string> = {};
      for (const pair of rest.split(',').filter(Boolean)) {
        const i = pair.indexOf('=');
        if (i <= 0) throw new CliError(`target ${JSON.stringify(text)}: write labels as label:key=value[,key=value]`);
        selector[pair.slice(0, i)] = pair.slice(i + 1);
      }
      return { selector };
    }
    default:
      throw new CliError(`target ${JSON.stringify(text)}: use sat:<name>, group:<name>, label:key=value or fleet`);
  }
}

/** `key=value` arguments; values that read as JSON (numbers, true/false, objects) become those. */
export function parseCommandArgs(pairs: string[], json?: string): Record<string, unknown> {
  let args: Record<string, unknown> = {};
  if (json !== undefined) {
    try {
      args = JSON.parse(json) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`--args is not JSON: ${(err as Error).message}`);
    }
    if (!args || typeof args !== 'object' || Array.isArray(args)) throw new CliError('--args must be a JSON object, e.g. --args \'{"level":"debug"}\'');
  }
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new CliError(`argument ${JSON.stringify(pair)}: write it as key=value`);
    const raw = pair.slice(i + 1);
    let value: unknown = raw;
    if (/^(true|false|null|-?\d+(\.\d+)?|[[{].*)$/s.test(raw)) {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    }
    args[pair.slice(0, i)] = value;
  }
  return args;
}

/** An ISO time, or a duration from now such as 90s, 15m, 2h, 1d. */
export function parseDeadline(text: string, now = Date.now()): string {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (m) return new Date(now + Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd']).toISOString();
  if (Number.isNaN(Date.parse(text))) throw new CliError(`--deadline ${JSON.stringify(text)}: give an ISO time or a duration such as 30m, 2h, 1d`);
  return new Date(Date.parse(text)).toISOString();
}

const OPEN: TargetStatus[] = ['queued', 'delivered', 'running'];

function countsText(counts: Partial<Record<TargetStatus, number>>): string {
  return Object.entries(counts)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
}

function targetText(t: CommandTarget): string {
  if ('satellite' in t) return `sat:${t.satellite}`;
  if ('group' in t) return `group:${t.group}`;
  const labels = Object.entries(t.selector).map(([k, v]) => `${k}=${v}`);
  return labels.length ? `label:${labels.join(',')}` : 'fleet';
}

function firstLine(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  // JSON reports on one line, other output by its first line
  const line = /^\s*[[{]/.test(text) ? text.replace(/\s*\n\s*/g, ' ') : text.split('\n')[0]!;
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

function printView(v: CommandView): void {
  process.stdout.write(`command ${v.id}: ${v.action} -> ${targetText(v.target)}, ${v.status}${v.abortReason ? ` (${v.abortReason})` : ''}\n`);
  printTable(
    v.targets.map((t) => ({
      satellite: t.satellite,
      status: t.status,
      exit: t.exitCode,
      started: t.startedAt,
      finished: t.finishedAt,
      detail: firstLine(t.error ?? t.output),
    })),
    ['satellite', 'status', 'exit', 'started', 'finished', 'detail'],
  );
  // the whole output when there is one target
  const only = v.targets.length === 1 ? v.targets[0] : undefined;
  if (only?.output && only.output.includes('\n')) process.stdout.write(`\n${only.output}\n`);
}

function settled(v: CommandView): boolean {
  return v.status !== 'in_progress' && !v.targets.some((t) => t.status === 'delivered' || t.status === 'running');
}

async function waitFor(get: () => Promise<CommandView>, quiet: boolean): Promise<CommandView> {
  const tty = process.stderr.isTTY === true;
  let last = '';
  for (;;) {
    const v = await get();
    const done = v.targets.filter((t) => TERMINAL_TARGET_STATUSES.includes(t.status)).length;
    const line = `${done}/${v.targets.length} finished: ${countsText(v.counts)}`;
    if (!quiet && line !== last) {
      process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
      last = line;
    }
    if (settled(v)) {
      if (!quiet && tty) process.stderr.write('\n');
      return v;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function cmdCommand(program: Command, flags: () => TargetFlags): void {
  const cmd = program.command('cmd').description('remote commands to sites and their results');
  const actions = Object.keys(commandActions).join(', ');

  cmd
    .command('run <target> <action> [args...]')
    .description(`run an allow-listed action (${actions}) on sat:<name>, group:<name>, label:key=value or fleet`)
    .option('--args <json>', 'arguments as a JSON object (key=value arguments are merged in)')
    .option('--timeout <seconds>', 'how long the action may run on a site', '300')
    .option('--deadline <when>', 'not run after this: ISO time or duration (30m, 2h, 1d); default 1 day')
    .option('--batch-size <n>', 'roll out in batches of n sites, each after the previous one finished')
    .option('--max-per-minute <n>', 'roll out to at most n sites a minute')
    .option('--abort-failure-percent <p>', 'stop the rollout when more than p% of executed sites failed')
    .option('--min-executed <n>', 'judge the failure rate only after n sites executed', '1')
    .option('--wait', 'show progress until every site finished; exit 3 unless all succeeded')
    .option('--json', 'print JSON')
    .action(
      async (
        target: string,
        action: string,
        pairs: string[],
        o: { args?: string; timeout: string; deadline?: string; batchSize?: string; maxPerMinute?: string; abortFailurePercent?: string; minExecuted: string; wait?: boolean; json?: boolean },
      ) => {
        const rollout =
          o.batchSize !== undefined || o.maxPerMinute !== undefined || o.abortFailurePercent !== undefined
            ? {
                ...(o.batchSize !== undefined ? { batchSize: Number(o.batchSize) } : {}),
                ...(o.maxPerMinute !== undefined ? { maxPerMinute: Number(o.maxPerMinute) } : {}),
                ...(o.abortFailurePercent !== undefined ? { abortFailurePercent: Number(o.abortFailurePercent) } : {}),
                minExecuted: Number(o.minExecuted),
              }
            : undefined;
        const body = {
          target: parseCommandTarget(target),
          action,
          args: parseCommandArgs(pairs, o.args),
          timeoutSeconds: Number(o.timeout),
          ...(o.deadline ? { deadline: parseDeadline(o.deadline) } : {}),
          ...(rollout ? { rollout } : {}),
        };
        const parsed = CreateCommandBody.safeParse(body);
        if (!parsed.success) throw new CliError(parsed.error.issues.map((i) => `${i.path.join('.') || 'command'}: ${i.message}`).join('; '));
        const t = resolveTarget(flags());
        const created = await api<CreatedCommand>(t, 'POST', '/v1/commands', parsed.data);
        if (!o.wait) {
          if (o.json) printJson(created);
          else process.stdout.write(`command ${created.id} issued to ${created.targets} satellite(s); see \`uplink cmd show ${created.id}\`\n`);
          return;
        }
        if (!o.json) process.stderr.write(`command ${created.id} issued to ${created.targets} satellite(s)\n`);
        const v = await waitFor(() => api<CommandView>(t, 'GET', `/v1/commands/${created.id}`), o.json === true);
        if (o.json) printJson(v);
        else printView(v);
        if (v.status !== 'succeeded') process.exitCode = 3;
      },
    );

  cmd
    .command('show <id>')
    .description('a command and the result of every site')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const v = await api<CommandView>(resolveTarget(flags()), 'GET', `/v1/commands/${encodeURIComponent(id)}`);
      if (o.json) printJson(v);
      else printView(v);
    });

  cmd
    .command('list')
    .description('recent commands, newest first')
    .option('--status <status>', 'in_progress, succeeded, failed, aborted or cancelled')
    .option('--target <target>', 'only commands for this satellite (name or sat:<name>) or group (group:<name>)')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .action(async (o: { status?: string; target?: string; limit: string; json?: boolean }) => {
      const q = new URLSearchParams({ limit: o.limit, ...(o.status ? { status: o.status } : {}), ...(o.target ? { target: o.target } : {}) });
      const list = await api<CommandList>(resolveTarget(flags()), 'GET', `/v1/commands?${q}`);
      if (o.json) return printJson(list);
      printTable(
        list.commands.map((c: CommandSummary) => ({
          id: c.id,
          action: c.action,
          target: targetText(c.target),
          status: c.status,
          created: c.createdAt,
          sites: countsText(c.counts),
          open: OPEN.reduce((n, s) => n + (c.counts[s] ?? 0), 0),
        })),
        ['id', 'action', 'target', 'status', 'created', 'open', 'sites'],
      );
    });

  cmd
    .command('cancel <id>')
    .description('cancel the sites that have not received the command yet')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const v = await api<CommandView>(resolveTarget(flags()), 'POST', `/v1/commands/${encodeURIComponent(id)}/cancel`);
      if (o.json) printJson(v);
      else printView(v);
    });
}
