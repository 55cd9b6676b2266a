// Watches the leaf's link to the hub through the leaf's monitoring endpoint (/leafz): the only way an
// edge process learns, without asking across the WAN, that the link came back.
import { sleep } from './backoff.js';
import type { Logger } from '@uplink/observability';

export interface LinkMonitor {
  /** the last observation, undefined before the first one */
  readonly linked: boolean | undefined;
  stop(): Promise<void>;
}

export interface LinkMonitorOptions {
  /** monitoring URL of the leaf server, e.g. http://127.0.0.1:8222 */
  monitorUrl: string;
  /** called on every observation; `changed` is true when it differs from the previous one */
  onObserve: (linked: boolean, changed: boolean) => void;
  logger: Logger;
  /** @default 1_000 */
  intervalMs?: number;
}

export function startLinkMonitor(opts: LinkMonitorOptions): LinkMonitor {
  const interval = opts.intervalMs ?? 1_000;
  const url = `${opts.monitorUrl.replace(/\/+$/, '')}/leafz`;
  const abort = new AbortController();
  let linked: boolean | undefined;
  let unreachableLogged = false;

  async function observe(): Promise<boolean> {
    try {
      const res = await fetch(url, { signal: AbortSignal.any([abort.signal, AbortSignal.timeout(Math.max(interval, 1_000))]) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const body = (await res.json()) as { leafnodes?: unknown };
      unreachableLogged = false;
      return typeof body.leafnodes === 'number' && body.leafnodes > 0;
    } catch (err) {
      if (!unreachableLogged && !abort.signal.aborted) {
        opts.logger.warn({ url, err: (err as Error).message }, 'leaf monitoring endpoint not reachable; treating the link as down');
        unreachableLogged = true;
      }
      return false;
    }
  }

  const done = (async () => {
    while (!abort.signal.aborted) {
      const now = await observe();
      if (abort.signal.aborted) break;
      const changed = now !== linked;
      linked = now;
      try {
        opts.onObserve(now, changed);
      } catch (err) {
        opts.logger.error({ err }, 'link observer failed');
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
