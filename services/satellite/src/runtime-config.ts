// The satellite's side of runtime integration: when to apply mirror config and direct delivery
// (`applyRuntimeConfig`), one apply at a time, and what the last ones did for /status, /metrics and
// the heartbeat. Applies never throw: a bad file on the device is reported, the registry serves on.
import type { DesiredState, HeartbeatRuntime } from '@uplink/contracts';
import type { ContentStore } from '@uplink/oci';
import type { Logger } from '@uplink/observability';
import type { SatelliteMetrics } from './metrics.js';
import { applyRuntimeConfig, MIRROR_RUNTIMES, RuntimeErrorCode, type DeliveryRecord, type MirrorRuntime, type RuntimeConfigReport, type SkippedFile } from './runtime/index.js';

export type RuntimeApplyReason = 'start' | 'state' | 'content' | 'manual';

/** Runtime integration as /status shows it. */
export interface RuntimeStatus {
  /** RUNTIME_ROOT */
  root: string;
  /** the registry URL written into mirror config */
  mirrorUrl: string;
  /** MIRRORS, when set */
  mirrorsSpec?: string;
  /** when the config was last applied, and why; null before the first apply */
  at: string | null;
  reason: RuntimeApplyReason | null;
  /** runtimes whose mirror config points at the satellite, with the registries each mirrors */
  runtimes: { runtime: MirrorRuntime; registries: string[] }[];
  mirrors: {
    /** mirror config files in place (written now or already right) */
    files: string[];
    /** files the last apply wrote */
    written: string[];
    backups: string[];
    /** files left alone because they could not be parsed or contradict the change */
    skipped: SkippedFile[];
    notes: string[];
    /** runtimes to restart for the change to apply */
    restart: MirrorRuntime[];
  } | null;
  delivery: {
    /** the state asks for direct delivery */
    enabled: boolean;
    dir: string;
    /** image tarballs in place */
    images: DeliveryRecord[];
    /** files the last apply wrote and removed */
    written: string[];
    removed: string[];
    /** images not delivered yet because the store does not hold them completely (delivered once synced) */
    waiting: string[];
    failed: { name: string; digest: string; code: string; message: string }[];
  } | null;
  /** errors of the last apply */
  errors: { code: string; message: string; path?: string }[];
  /** errors since start */
  errorsTotal: number;
  lastError: { code: string; message: string; at: string } | null;
}

export interface RuntimeIntegrationOptions {
  /** RUNTIME_ROOT */
  root: string;
  /** MIRRORS @default none (only the desired state's config.mirrors) */
  mirrors?: string;
  /** DIRECT_DELIVERY_DIR @default `<root>/var/lib/rancher/k3s/agent/images` */
  directDeliveryDir?: string;
  /** the local registry as runtimes reach it (see `mirrorUrlOf`); a function is read at each apply */
  mirrorUrl: string | (() => string);
  store: ContentStore;
  /** the applied desired state, read at each apply */
  state: () => DesiredState | null;
  metrics: SatelliteMetrics;
  logger: Logger;
}

export interface RuntimeIntegration {
  /** apply now; a request while one runs is applied once after it (requests in between merge) */
  apply(reason: RuntimeApplyReason): Promise<RuntimeConfigReport>;
  /** content became ready: apply again when direct delivery waits for some */
  contentChanged(): void;
  status(): RuntimeStatus;
  /** the heartbeat's `runtime`, undefined before the first apply */
  heartbeat(): HeartbeatRuntime | undefined;
  /** waits for the apply in progress */
  close(): Promise<void>;
}

const MESSAGE_MAX = 1_000;

/** The registry URL a runtime on this machine uses: a wildcard listen address is reached on loopback. */
export function mirrorUrlOf(host: string, port: number): string {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === '' || h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0') return `http://127.0.0.1:${port}`;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** The errors of one apply worth counting: whole failures, skipped files, images that could not be written. */
export function runtimeErrorsOf(report: RuntimeConfigReport): { code: string; message: string; path?: string }[] {
  return [
    ...report.errors,
    ...(report.mirrors?.skipped ?? []).map((s) => ({ code: s.code, message: s.message, path: s.path })),
    ...(report.delivery?.failed ?? []).filter((f) => f.code !== RuntimeErrorCode.DELIVERY_CONTENT_MISSING).map((f) => ({ code: f.code, message: f.message })),
  ];
}

export function createRuntimeIntegration(opts: RuntimeIntegrationOptions): RuntimeIntegration {
  const log = opts.logger.child({ component: 'runtime' });
  const { metrics } = opts;
  let last: { report: RuntimeConfigReport; reason: RuntimeApplyReason; enabled: boolean } | undefined;
  let errorsTotal = 0;
  let lastError: RuntimeStatus['lastError'] = null;
  let chain: Promise<unknown> = Promise.resolve();
  let queued: Promise<RuntimeConfigReport> | undefined;
  let closed = false;
  const mirrorUrl = typeof opts.mirrorUrl === 'function' ? opts.mirrorUrl : () => opts.mirrorUrl as string;

  async function run(reason: RuntimeApplyReason): Promise<RuntimeConfigReport> {
    const state = opts.state();
    const report = await applyRuntimeConfig({
      root: opts.root,
      mirrorUrl: mirrorUrl(),
      ...(opts.mirrors ? { mirrors: opts.mirrors } : {}),
      state,
      store: opts.store,
      ...(opts.directDeliveryDir ? { directDeliveryDir: opts.directDeliveryDir } : {}),
      logger: log,
    });
    last = { report, reason, enabled: state?.config.directDelivery === true };
    const errors = runtimeErrorsOf(report);
    errorsTotal += errors.length;
    for (const e of errors) metrics.runtimeErrors.inc({ code: e.code });
    const first = errors[0];
    if (first) lastError = { code: first.code, message: first.message.slice(0, MESSAGE_MAX), at: report.at };
    metrics.runtimeApplies.inc({ outcome: errors.length > 0 ? 'error' : 'ok' });
    metrics.runtimeLastApply.set(Date.parse(report.at) / 1_000);
    const configured = new Set(report.runtimes.map((r) => r.runtime));
    for (const r of MIRROR_RUNTIMES) metrics.runtimeConfigured.set({ runtime: r }, configured.has(r) ? 1 : 0);
    if (report.delivery) {
      metrics.deliveryImages.set(report.delivery.kept.length + report.delivery.written.length);
      metrics.deliveryWritten.inc(report.delivery.written.length);
      metrics.deliveryRemoved.inc(report.delivery.removed.length);
    } else metrics.deliveryImages.set(0);
    log.debug({ reason, runtimes: [...configured], errors: errors.length, revision: state?.revision }, 'runtime config applied');
    return report;
  }

  function apply(reason: RuntimeApplyReason): Promise<RuntimeConfigReport> {
    if (queued) return queued;
    const p = chain.then(() => {
      queued = undefined;
      return run(reason);
    });
    queued = p;
    chain = p.catch((err: unknown) => log.error({ err }, 'runtime config apply failed'));
    return p;
  }

  function waitingForContent(): boolean {
    return (last?.report.delivery?.failed ?? []).some((f) => f.code === RuntimeErrorCode.DELIVERY_CONTENT_MISSING);
  }

  return {
    apply,
    contentChanged() {
      if (!closed && waitingForContent()) void apply('content');
    },
    status() {
      const r = last?.report;
      const d = r?.delivery;
      return {
        root: opts.root,
        mirrorUrl: mirrorUrl(),
        ...(opts.mirrors ? { mirrorsSpec: opts.mirrors } : {}),
        at: r?.at ?? null,
        reason: last?.reason ?? null,
        runtimes: r?.runtimes ?? [],
        mirrors: r?.mirrors
          ? {
              files: [...r.mirrors.written, ...r.mirrors.unchanged].sort(),
              written: r.mirrors.written,
              backups: r.mirrors.backups,
              skipped: r.mirrors.skipped,
              notes: r.mirrors.notes,
              restart: r.mirrors.restart,
            }
          : null,
        delivery: d
          ? {
              enabled: last?.enabled ?? false,
              dir: d.dir,
              images: [...d.kept, ...d.written].sort((a, b) => (a.file < b.file ? -1 : 1)),
              written: d.written.map((w) => w.file),
              removed: d.removed,
              waiting: d.failed.filter((f) => f.code === RuntimeErrorCode.DELIVERY_CONTENT_MISSING).map((f) => f.name),
              failed: d.failed.filter((f) => f.code !== RuntimeErrorCode.DELIVERY_CONTENT_MISSING),
            }
          : null,
        errors: r ? runtimeErrorsOf(r) : [],
        errorsTotal,
        lastError,
      };
    },
    heartbeat() {
      const r = last?.report;
      if (!r) return undefined;
      return {
        at: r.at,
        runtimes: r.runtimes.map((x) => x.runtime),
        delivered: r.delivery ? r.delivery.kept.length + r.delivery.written.length : 0,
        errors: runtimeErrorsOf(r).length,
        lastError: lastError ? { ...lastError, code: lastError.code.slice(0, 64) } : null,
      };
    },
    async close() {
      closed = true;
      await chain;
    },
  };
}
