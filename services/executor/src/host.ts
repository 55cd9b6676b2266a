// What the executor asks of the site: the satellite's store, sync and configuration. `uplink edge`
// runs the satellite in the same process and passes its implementation; a standalone executor uses
// `createStandaloneHost`, which reaches the satellite only through its status API and answers
// "not available in this process" for the rest — it never pretends to have done something.
import type { CommandArgs } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { notAvailable } from './errors.js';

export interface HostContext {
  /** aborted when the command times out: stop the work */
  signal: AbortSignal;
  log: Logger;
}

export interface DiagnosticsBundle {
  status?: unknown;
  /** recent log lines or events, newest last */
  logs?: unknown[];
  config?: Record<string, unknown>;
  [part: string]: unknown;
}

/**
 * The site operations behind the allow-listed actions. Each resolves with a JSON-able report (sent as
 * the command output) or throws (the command fails with the error's message).
 */
export interface ExecutorHost {
  /** reconcile the current desired state now */
  syncNow(ctx: HostContext): Promise<unknown>;
  /** remove images no longer in the desired state */
  prune(args: CommandArgs<'prune'>, ctx: HostContext): Promise<unknown>;
  /** delete unreferenced blobs from the content store */
  gc(args: CommandArgs<'gc'>, ctx: HostContext): Promise<unknown>;
  /** re-hash every blob; `corrupt` lists the bad ones (removed when `args.remove`) */
  verifyStore(args: CommandArgs<'verify-store'>, ctx: HostContext): Promise<{ checked: number; corrupt: string[] }>;
  listImages(ctx: HostContext): Promise<unknown>;
  /** status, recent logs and configuration; the executor redacts secrets and bounds the size */
  diagnostics(args: CommandArgs<'diagnostics'>, ctx: HostContext): Promise<DiagnosticsBundle>;
  setLogLevel(args: CommandArgs<'set-log-level'>, ctx: HostContext): Promise<unknown>;
  /** renew the site's credentials now */
  rotateCredentials(ctx: HostContext): Promise<unknown>;
  /** write the container runtime mirror configuration again */
  applyRuntimeConfig(ctx: HostContext): Promise<unknown>;
}

export interface StandaloneHostOptions {
  /** base URL of the satellite's status API (`/status`) */
  statusUrl: string;
  /** the executor's own logger: `set-log-level` changes its level */
  logger: Logger;
  /** the executor's configuration, for diagnostics (redacted by the executor) */
  config: Record<string, unknown>;
  /** the executor's recent activity, for diagnostics */
  recent: () => unknown[];
  /** @default 3_000 */
  timeoutMs?: number;
}

const WHY = 'the executor runs apart from the satellite and cannot reach its content store or sync; run the site with `uplink edge`';

export function createStandaloneHost(opts: StandaloneHostOptions): ExecutorHost {
  const base = opts.statusUrl.replace(/\/+$/, '');

  async function satelliteStatus(signal: AbortSignal): Promise<Record<string, unknown>> {
    let res: Response;
    try {
      res = await fetch(`${base}/status`, { signal: AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs ?? 3_000)]) });
    } catch (err) {
      throw new Error(`the satellite status API at ${base} is not reachable: ${(err as Error).message}`, { cause: err });
    }
    if (!res.ok) throw new Error(`the satellite status API at ${base} answered HTTP ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  }

  return {
    syncNow: async () => {
      throw notAvailable('sync-now', WHY);
    },
    prune: async () => {
      throw notAvailable('prune', WHY);
    },
    gc: async () => {
      throw notAvailable('gc', WHY);
    },
    verifyStore: async () => {
      throw notAvailable('verify-store', WHY);
    },
    rotateCredentials: async () => {
      throw notAvailable('rotate-credentials', WHY);
    },
    applyRuntimeConfig: async () => {
      throw notAvailable('apply-runtime-config', WHY);
    },
    async listImages(ctx) {
      const status = await satelliteStatus(ctx.signal);
      return { source: `${base}/status`, applied: status.applied ?? null, artifacts: status.artifacts ?? [] };
    },
    async diagnostics(args, ctx) {
      let status: unknown;
      try {
        status = await satelliteStatus(ctx.signal);
      } catch (err) {
        status = { error: (err as Error).message };
      }
      const lines = args.logLines ?? 100;
      return {
        status,
        logs: opts.recent().slice(-lines),
        logsNote: 'recent executor activity; the satellite runs in another process and keeps its own logs',
        config: opts.config,
        process: { pid: process.pid, node: process.version, uptimeSeconds: Math.round(process.uptime()), rssBytes: process.memoryUsage().rss },
      };
    },
    async setLogLevel(args) {
      const before = opts.logger.level;
      opts.logger.level = args.level;
      return { executor: { before, after: args.level }, satellite: 'unchanged: it runs in another process' };
    },
  };
}
