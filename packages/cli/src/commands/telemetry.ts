// `uplink telemetry …`: what the sites report. `tail` follows the live feed (SSE, resuming after a
// dropped connection from the last event id), `show` lists what is stored for one site.
import type { Command } from 'commander';
import { request } from 'undici';
import { backoffDelay, sleep } from '@uplink/bus';
import type { Heartbeat, SyncEvent, TelemetryPage, TelemetryStreamEvent } from '@uplink/contracts';
import { api, resolveTarget, type ApiTarget, type TargetFlags } from '../api.js';
import { CliError } from '../errors.js';
import { printJson, printTable } from '../output.js';

const UNITS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An ISO time, or how long ago: 90s, 15m, 2h, 1d. */
export function parseSince(text: string, flag: string, now = Date.now()): string {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (m) return new Date(now - Number(m[1]) * UNITS[m[2] as keyof typeof UNITS]).toISOString();
  if (Number.isNaN(Date.parse(text))) throw new CliError(`${flag} ${JSON.stringify(text)}: give an ISO time or how long ago, such as 30m, 2h, 1d`);
  return new Date(Date.parse(text)).toISOString();
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)}${units[i]}`;
}

/** One line about a heartbeat or sync event, for people. */
export function summarize(kind: string, body: unknown): string {
  if (kind === 'heartbeat') {
    const h = body as Heartbeat;
    return [
      `seq=${h.seq}`,
      `cpu=${h.cpuPercent.toFixed(0)}%`,
      `mem=${bytes(h.memory.usedBytes)}/${bytes(h.memory.totalBytes)}`,
      `disk-free=${bytes(h.disk.freeBytes)}`,
      `applied=${h.applied ? h.applied.revision : '-'}`,
      `sync=${h.sync.status} ${h.sync.ready}/${h.sync.total}${h.sync.failed ? ` failed=${h.sync.failed}` : ''}`,
      `link=${h.link.connected ? 'up' : 'down'}`,
      `outbox=${h.outbox.messages}${h.outbox.dropped ? ` dropped=${h.outbox.dropped}` : ''}`,
    ].join(' ');
  }
  if (kind === 'sync') {
    const e = body as SyncEvent;
    return [
      e.event,
      `revision=${e.revision}`,
      ...(e.artifact ? [`${e.artifact.repository}@${e.artifact.digest.slice(0, 19)}`] : []),
      ...(e.error ? [`error=${JSON.stringify(e.error)}`] : []),
    ].join(' ');
  }
  return JSON.stringify(body);
}

function atOf(body: unknown): string {
  const at = (body as { at?: unknown } | null)?.at;
  return typeof at === 'string' ? at : '-';
}

/** Split an SSE byte stream into events; keeps the tail of an unfinished event in `state`. */
export function parseSse(state: { buf: string }, chunk: string): { id?: string; event?: string; data?: string }[] {
  state.buf += chunk.replace(/\r\n/g, '\n');
  const out: { id?: string; event?: string; data?: string }[] = [];
  let i: number;
  while ((i = state.buf.indexOf('\n\n')) >= 0) {
    const block = state.buf.slice(0, i);
    state.buf = state.buf.slice(i + 2);
    const e: { id?: string; event?: string; data?: string } = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (field === 'id') e.id = value;
      else if (field === 'event') e.event = value;
      else if (field === 'data') e.data = e.data === undefined ? value : `${e.data}\n${value}`;
    }
    if (e.data !== undefined) out.push(e);
  }
  return out;
}

interface TailOptions {
  satellite?: string;
  kind?: string;
  json?: boolean;
  count?: string;
  from?: string;
}

/** Follow the feed until `count` events were printed (or forever), reconnecting with Last-Event-ID. */
async function tail(target: ApiTarget, o: TailOptions): Promise<void> {
  const limit = o.count === undefined ? Infinity : Number(o.count);
  if (!(limit > 0)) throw new CliError(`--count ${JSON.stringify(o.count)}: give a positive number`);
  const params = new URLSearchParams();
  if (o.satellite) params.set('satellite', o.satellite);
  if (o.kind) params.set('kind', o.kind);
  let lastId = o.from;
  let printed = 0;
  for (let attempt = 1; printed < limit; attempt++) {
    let res;
    try {
      res = await request(`${target.gateway}/v1/stream/telemetry?${params}`, {
        headers: { authorization: `Bearer ${target.token}`, accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
        headersTimeout: 30_000,
        bodyTimeout: 0,
      });
    } catch (err) {
      process.stderr.write(`uplink: telemetry feed unreachable (${(err as Error).message}); retrying\n`);
      await sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 10_000 }));
      continue;
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text();
      let e: { code?: string; message?: string } | undefined;
      try {
        e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      } catch {
        e = undefined;
      }
      // a refused request is final, an unavailable service is worth waiting for
      if (res.statusCode !== 503) throw new CliError(`${e?.code ?? `HTTP ${res.statusCode}`}: ${e?.message ?? text.slice(0, 200)}`, { exitCode: 2 });
      process.stderr.write(`uplink: ${e?.message ?? 'telemetry feed unavailable'}; retrying\n`);
      await sleep(backoffDelay(attempt, { initialMs: 500, maxMs: 10_000 }));
      continue;
    }
    attempt = 0;
    const state = { buf: '' };
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        for (const e of parseSse(state, decoder.decode(chunk as Uint8Array, { stream: true }))) {
          if (e.id) lastId = e.id;
          const ev = JSON.parse(e.data!) as TelemetryStreamEvent;
          if (o.json) process.stdout.write(JSON.stringify(ev) + '\n');
          else process.stdout.write(`${atOf(ev.body)}  ${ev.satellite}  ${ev.kind}  ${summarize(ev.kind, ev.body)}\n`);
          if (++printed >= limit) {
            res.body.destroy();
            return;
          }
        }
      }
    } catch (err) {
      if (printed >= limit) return;
      process.stderr.write(`uplink: telemetry feed interrupted (${(err as Error).message}); resuming\n`);
    }
    await sleep(500);
  }
}

export function telemetryCommand(program: Command, flags: () => TargetFlags): void {
  const telemetry = program.command('telemetry').description('heartbeats and events the sites report');

  telemetry
    .command('tail')
    .description('follow live telemetry; resumes where it left off when the connection drops')
    .option('--satellite <name>', 'only this satellite')
    .option('--kind <kind>', 'only this kind (heartbeat, sync, …)')
    .option('--from <event-id>', 'start right after this event id instead of now')
    .option('--count <n>', 'stop after this many events')
    .option('--json', 'one JSON event per line')
    .action((o: TailOptions) => tail(resolveTarget(flags()), o));

  telemetry
    .command('show <name>')
    .description("a satellite's stored telemetry, oldest first")
    .option('--from <time>', 'ISO time or how long ago (30m, 2h, 1d); default one hour before --to')
    .option('--to <time>', 'ISO time or how long ago; default now')
    .option('--kind <kind>', 'only this kind (heartbeat, sync, …)')
    .option('--limit <n>', 'most records (1-1000)', '100')
    .option('--json', 'print JSON')
    .action(async (name: string, o: { from?: string; to?: string; kind?: string; limit: string; json?: boolean }) => {
      const params = new URLSearchParams({ limit: o.limit });
      if (o.from) params.set('from', parseSince(o.from, '--from'));
      if (o.to) params.set('to', parseSince(o.to, '--to'));
      if (o.kind) params.set('kind', o.kind);
      const page = await api<TelemetryPage>(resolveTarget(flags()), 'GET', `/v1/telemetry/${encodeURIComponent(name)}?${params}`);
      if (o.json) return printJson(page);
      printTable(
        page.items.map((i) => ({ at: i.at, kind: i.kind, summary: summarize(i.kind, i.body) })),
        ['at', 'kind', 'summary'],
      );
      if (page.truncated) process.stdout.write(`(more: --from ${page.items.at(-1)?.at ?? page.to})\n`);
    });
}
