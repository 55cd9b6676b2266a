// Watches the leaf's link to the hub through the leaf's monitoring endpoint (/leafz): the only way an
// edge process learns, without asking across the WAN, that the link came back.
import { sleep } from '@uplink/bus';
import type { Logger } from '@uplink/observability';

export interface LinkMonitor {
  readonly linked: boolean | undefined;
  stop(): Promise<void>;
}

export function startLinkMonitor(opts: { monitorUrl: string; logger: Logger; onChange: (linked: boolean) => void; intervalMs?: number }): LinkMonitor {
  const interval = opts.intervalMs ?? 1_000;
  const url = `${opts.monitorUrl.replace(/\/+$/, '')}/leafz`;
  const abort = new AbortController();
  let linked: boolean | undefined;
  let warned = false;

  async function observe(): Promise<boolean> {
    try {
      const res = await fetch(url, { signal: AbortSignal.any([abort.signal, AbortSignal.timeout(Math.max(interval, 1_000))]) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { leafnodes?: unknown };
      warned = false;
      return typeof body.leafnodes === 'number' && body.leafnodes > 0;
    } catch (err) {
      if (!warned && !abort.signal.aborted) opts.logger.warn({ url, err: (err as Error).message }, 'leaf monitoring endpoint not reachable; treating the link as down');
      warned = true;
      return false;
    }
  }

  const done = (async () => {
    while (!abort.signal.aborted) {
      const now = await observe();
      if (abort.signal.aborted) break;
      if (now !== linked) {
        linked = now;
        opts.logger.info({ linked: now }, now ? 'link to hub up' : 'link to hub down');
        try {
          opts.onChange(now);
        } catch (err) {
          opts.logger.error({ err }, 'link observer failed');
        }
      }
      await sleep(interval, abort.signal);
    }
  })();

  return {
    get linked() {
      return linked;
    },
    async stop() {
      abort.abort();
      await done;
    },
  };
}
