// The site's operations for remote commands when the satellite runs in this process: the executor
// calls the satellite directly (sync, prune, GC, store checks, runtime config) and the edge's own
// renewal for rotate-credentials; diagnostics and log levels go through the standalone host.
import type { ExecutorHost } from '@uplink/executor';
import type { SatelliteHandle } from '@uplink/satellite';

export interface SiteHostOptions {
  satellite: SatelliteHandle;
  /** answers diagnostics and set-log-level */
  fallback: ExecutorHost;
  /** renew the site's credentials now */
  rotateCredentials: () => Promise<unknown>;
}

export function createSiteHost(o: SiteHostOptions): ExecutorHost {
  const s = o.satellite;
  return {
    syncNow: () => s.syncNow(),
    prune: (args) => s.prune(args.dryRun === undefined ? {} : { dryRun: args.dryRun }),
    gc: (args) => s.gc(args.graceSeconds === undefined ? {} : { graceSeconds: args.graceSeconds }),
    verifyStore: async (args) => {
      const r = await s.verifyStore(args.remove === undefined ? {} : { remove: args.remove });
      return { ...r, checked: r.checked, corrupt: r.corrupt };
    },
    listImages: () => s.listImages(),
    diagnostics: (args, ctx) => o.fallback.diagnostics(args, ctx),
    setLogLevel: (args, ctx) => o.fallback.setLogLevel(args, ctx),
    rotateCredentials: () => o.rotateCredentials(),
    applyRuntimeConfig: () => s.applyRuntimeConfig(),
  };
}
