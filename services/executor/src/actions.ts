// The allow-list in code: one small handler per action, its arguments already checked against the
// action's schema (contracts `commandActions`). A handler returns an exit code and output, or throws.
import type { CommandActionName, CommandArgs } from '@uplink/contracts';
import { sleep } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { ExecutorHost } from './host.js';
import { redact } from './output.js';

export interface ActionContext {
  host: ExecutorHost;
  signal: AbortSignal;
  log: Logger;
}

export interface ActionOutcome {
  exitCode: number;
  /** JSON-able report or text */
  output: unknown;
}

type Handlers = { [A in CommandActionName]: (args: CommandArgs<A>, ctx: ActionContext) => Promise<ActionOutcome> };

const ok = (output: unknown): ActionOutcome => ({ exitCode: 0, output });

export const actionHandlers: Handlers = {
  async ping(args, { signal }) {
    if (args.delayMs) {
      await sleep(args.delayMs, signal);
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    }
    return ok('pong');
  },
  'sync-now': async (_args, ctx) => ok(await ctx.host.syncNow(ctx)),
  prune: async (args, ctx) => ok(await ctx.host.prune(args, ctx)),
  gc: async (args, ctx) => ok(await ctx.host.gc(args, ctx)),
  async 'verify-store'(args, ctx) {
    const r = await ctx.host.verifyStore(args, ctx);
    // corrupt blobs left in place are a failure the operator must see
    return { exitCode: r.corrupt.length > 0 && !args.remove ? 1 : 0, output: { ...r, removed: r.corrupt.length > 0 && args.remove === true } };
  },
  'list-images': async (_args, ctx) => ok(await ctx.host.listImages(ctx)),
  diagnostics: async (args, ctx) => ok(redact(await ctx.host.diagnostics(args, ctx))),
  'set-log-level': async (args, ctx) => ok(await ctx.host.setLogLevel(args, ctx)),
  'rotate-credentials': async (_args, ctx) => ok(await ctx.host.rotateCredentials(ctx)),
  'apply-runtime-config': async (_args, ctx) => ok(await ctx.host.applyRuntimeConfig(ctx)),
};
