// Tests wait on conditions with a deadline, never on sleeps.

export interface WaitOptions {
  /** @default 20_000 */
  timeoutMs?: number;
  /** @default 50 */
  intervalMs?: number;
  /** what is awaited, for the error message */
  what?: string;
}

/** Poll `check` until it returns a value other than undefined/false, or fail at the deadline. */
export async function waitFor<T>(check: () => T | Promise<T>, opts: WaitOptions = {}): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false && v !== null) return v as Exclude<T, false | undefined | null>;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: last error ${last.message}` : '';
      throw new Error(`timed out after ${opts.timeoutMs ?? 20_000} ms waiting for ${opts.what ?? 'condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
