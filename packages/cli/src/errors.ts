// What the CLI tells a user when something is wrong: a message naming what to fix, an exit code.

export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  readonly code: string | undefined;
  constructor(message: string, opts: { exitCode?: number; code?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.exitCode = opts.exitCode ?? 1;
    this.code = opts.code;
  }
}
