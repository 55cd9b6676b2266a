// Runtime integration of the satellite: mirror config for containerd/K3s/RKE2/CRI-O/Docker, direct
// delivery tarballs, and the naming rule that maps what runtimes ask for to what the store holds.
// `applyRuntimeConfig` is what the satellite runs at start and after every applied desired state.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredState } from '@uplink/contracts';
import type { ContentStore } from '@uplink/oci';
import type { Logger } from '@uplink/observability';
import { DELIVERY_RECORD, K3S_IMAGES_DIR, deliverImages, type DeliveryResult } from './direct-delivery.js';
import { RuntimeError } from './errors.js';
import { applyMirrors, type MirrorApplyResult } from './mirrors.js';
import { parseMirrorSpec, planMirrors, type MirrorRuntime, type MirrorSelection } from './mirror-spec.js';
import { nameArtifacts } from './naming.js';
import { DOCKER_HUB, registriesOf } from './registry-host.js';

export { applyMirrors, planMirrorFiles, RUNTIME_PATHS } from './mirrors.js';
export { parseMirrorSpec, planMirrors, MIRROR_RUNTIMES } from './mirror-spec.js';
export { renderContainerdConfig, renderContainerdHosts, renderRegistriesYaml, renderRegistriesConf, renderDaemonJson } from './render.js';
export { applyFileChanges, writeFileAtomic, BACKUP_SUFFIX } from './files.js';
export { deliverImages, writeOciArchive, deliveryFileName, K3S_IMAGES_DIR, RKE2_IMAGES_DIR, DELIVERY_RECORD } from './direct-delivery.js';
export { nameArtifacts, storeRepositoryOf, createRepositoryResolver, hostKey } from './naming.js';
export { normalizeRegistryHost, registryHostOf, registriesOf, defaultServerOf, DOCKER_HUB, DOCKER_HUB_SERVER } from './registry-host.js';
export { RuntimeError, RuntimeErrorCode } from './errors.js';

export type { MirrorApplyResult, MirrorPlan, MirrorPlanOptions, SkippedFile } from './mirrors.js';
export type { MirrorRuntime, MirrorSelection, MirrorTarget, PlanMirrorsInput } from './mirror-spec.js';
export type { FileChange, FileChangeResult } from './files.js';
export type { DeliveryImage, DeliveryRecord, DeliveryResult, DeliverImagesOptions } from './direct-delivery.js';
export type { NamedArtifact, RepositoryResolver } from './naming.js';
export type { RegistryEndpoint } from './registry-host.js';

export interface RuntimeConfigOptions {
  /** RUNTIME_ROOT: `/` on a device */
  root: string;
  /** the local registry as runtimes reach it, e.g. `http://127.0.0.1:5050` */
  mirrorUrl: string;
  /** MIRRORS / `--mirrors` (a spec string, or already parsed) */
  mirrors?: string | MirrorSelection[];
  /** the applied desired state; null before the first one */
  state: Pick<DesiredState, 'registries' | 'artifacts' | 'config'> | null;
  /** needed for direct delivery */
  store?: ContentStore;
  /** DIRECT_DELIVERY_DIR @default `<root>/var/lib/rancher/k3s/agent/images` */
  directDeliveryDir?: string;
  logger: Logger;
}

export interface RuntimeConfigReport {
  at: string;
  /** runtimes whose mirror config is in place after this apply, with the registries each mirrors to the satellite */
  runtimes: { runtime: MirrorRuntime; registries: string[] }[];
  mirrors: MirrorApplyResult | null;
  delivery: DeliveryResult | null;
  /** what failed as a whole (a bad MIRRORS spec, a write rolled back); the satellite keeps running */
  errors: { code: string; message: string; path?: string }[];
}

/**
 * Write mirror config for the selected runtimes and deliver tarballs when the state asks for it.
 * Never throws: failures are logged and returned in `errors`, so a bad file on the device never stops
 * the satellite (the local registry serves regardless).
 */
export async function applyRuntimeConfig(opts: RuntimeConfigOptions): Promise<RuntimeConfigReport> {
  const log = opts.logger;
  const report: RuntimeConfigReport = { at: new Date().toISOString(), runtimes: [], mirrors: null, delivery: null, errors: [] };
  const fail = (err: unknown, what: string) => {
    const e = err as { code?: string; message?: string; path?: string };
    const code = err instanceof RuntimeError ? err.code : (e.code ?? 'UNKNOWN');
    report.errors.push({ code, message: e.message ?? String(err), ...(e.path ? { path: e.path } : {}) });
    log.warn({ code, err: e.message, path: e.path }, what);
  };

  try {
    const selections = typeof opts.mirrors === 'string' ? parseMirrorSpec(opts.mirrors) : (opts.mirrors ?? []);
    const targets = planMirrors({ selections, stateRuntimes: opts.state?.config.mirrors ?? [], registries: registriesOf(opts.state) });
    if (targets.length > 0) {
      const r = await applyMirrors({ root: opts.root, mirrorUrl: opts.mirrorUrl, targets });
      report.mirrors = r;
      // a runtime counts as configured when none of its files was skipped and it mirrors something
      // (Docker's registry-mirrors apply to docker.io only)
      report.runtimes = targets
        .filter((t) => !r.skipped.some((s) => s.runtime === t.runtime))
        .map((t) => ({ runtime: t.runtime, registries: t.registries.map((e) => e.host).filter((h) => t.runtime !== 'docker' || h === DOCKER_HUB) }))
        .filter((t) => t.registries.length > 0);
      for (const s of r.skipped) log.warn({ path: s.path, runtime: s.runtime, code: s.code }, s.message);
      for (const n of r.notes) log.info({ runtimes: targets.map((t) => t.runtime) }, n);
      if (r.written.length > 0) log.info({ written: r.written, backups: r.backups.length, restart: r.restart }, 'runtime mirror config written');
      if (r.restart.length > 0) log.warn({ runtimes: r.restart }, 'restart these runtimes for the mirror config to take effect (containerd hosts.toml changes apply without one)');
    }
  } catch (err) {
    fail(err, 'runtime mirror config not applied');
  }

  const dir = opts.directDeliveryDir ?? join(opts.root, K3S_IMAGES_DIR);
  const wanted = opts.state?.config.directDelivery === true;
  // turned off: remove only what was delivered before
  if (opts.store && (wanted || existsSync(join(dir, DELIVERY_RECORD)))) {
    try {
      const images = wanted && opts.state ? nameArtifacts(opts.state).map((n) => ({ name: n.imageName, repository: n.storeRepository, digest: n.artifact.digest })) : [];
      const r = await deliverImages({ store: opts.store, dir, images });
      report.delivery = r;
      if (r.written.length > 0 || r.removed.length > 0) log.info({ dir, written: r.written.map((w) => w.file), removed: r.removed }, 'direct delivery updated');
      for (const f of r.failed) log.warn({ image: f.name, digest: f.digest, code: f.code }, f.message);
    } catch (err) {
      fail(err, 'direct delivery not applied');
    }
  }
  return report;
}
