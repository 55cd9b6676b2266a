// Deciding whether a command may run (pure), and running an allow-listed action under its timeout.
import { parseCommandArgs, type Command, type CommandActionName } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { actionHandlers } from './actions.js';
import type { ExecutorHost } from './host.js';
import { boundOutput, redact, toOutput } from './output.js';

export type Verdict =
  | { run: true; action: CommandActionName; args: Record<string, unknown> }
  | { run: false; status: 'rejected' | 'expired'; reason: string };

/**
 * Whether this site may run `cmd`: signed by the command service, addressed to this site, before its
 * deadline, an allow-listed action with valid arguments. Checked in that order, so nothing in an
 * unsigned body decides anything.
 */
export function checkCommand(cmd: Command, opts: { satellite: string; signatureValid: boolean; now: number }): Verdict {
  if (!opts.signatureValid) return { run: false, status: 'rejected', reason: 'the signature does not verify with the command-signing key' };
  if (cmd.satellite !== opts.satellite) return { run: false, status: 'rejected', reason: `addressed to satellite "${cmd.satellite}", not to this site ("${opts.satellite}")` };
  if (Date.parse(cmd.deadline) <= opts.now) return { run: false, status: 'expired', reason: `the deadline ${cmd.deadline} passed before the command could run` };
  const parsed = parseCommandArgs(cmd.action, cmd.args);
  if (!parsed.ok) {
    const what = parsed.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
    return { run: false, status: 'rejected', reason: `not on the allow-list or invalid arguments: ${what}` };
  }
  return { run: true, action: cmd.action as CommandActionName, args: parsed.args };
}

export interface RunOutcome {
  status: 'succeeded' | 'failed' | 'timed_out';
  exitCode?: number;
  output?: string;
  error?: string;
}

export interface RunOptions {
  host: ExecutorHost;
  log: Logger;
  timeoutMs: number;
  outputLimitBytes: number;
}

class CommandTimeout extends Error {
  override name = 'CommandTimeout';
}

/** Run one action; never throws. On timeout the handler's signal aborts and the result is `timed_out`. */
export async function runAction(action: CommandActionName, args: Record<string, unknown>, opts: RunOptions): Promise<RunOutcome> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new CommandTimeout(`did not finish within ${Math.round(opts.timeoutMs / 1000)} s`);
      abort.abort(err);
      reject(err);
    }, opts.timeoutMs);
  });
  timedOut.catch(() => undefined);
  try {
    const handler = actionHandlers[action] as (a: Record<string, unknown>, ctx: { host: ExecutorHost; signal: AbortSignal; log: Logger }) => Promise<{ exitCode: number; output: unknown }>;
    const r = await Promise.race([handler(args, { host: opts.host, signal: abort.signal, log: opts.log }), timedOut]);
    return { status: r.exitCode === 0 ? 'succeeded' : 'failed', exitCode: r.exitCode, output: boundOutput(toOutput(r.output), opts.outputLimitBytes) };
  } catch (err) {
    if (err instanceof CommandTimeout || abort.signal.aborted) return { status: 'timed_out', error: (abort.signal.reason as Error | undefined)?.message ?? 'timed out' };
    const message = boundOutput(String(redact(err instanceof Error ? err.message : String(err))), 4_000);
    return { status: 'failed', exitCode: 1, error: message };
  } finally {
    clearTimeout(timer);
  }
}
