// Mirror config for the container runtimes on the device, under a root (`/` on a device, a
// directory per site under `uplink dev`): read what is there, render, write the changes as one set.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { RuntimeError } from './errors.js';
import { applyFileChanges, type FileChange } from './files.js';
import type { MirrorRuntime, MirrorTarget } from './mirror-spec.js';
import { DOCKER_HUB } from './registry-host.js';
import { renderContainerdConfig, renderContainerdHosts, renderDaemonJson, renderRegistriesConf, renderRegistriesYaml } from './render.js';

/** where each runtime's files live, relative to the root */
export const RUNTIME_PATHS = {
  containerdConfig: 'etc/containerd/config.toml',
  containerdCertsDir: 'etc/containerd/certs.d',
  k3s: 'etc/rancher/k3s/registries.yaml',
  rke2: 'etc/rancher/rke2/registries.yaml',
  crio: 'etc/containers/registries.conf',
  docker: 'etc/docker/daemon.json',
} as const;

export interface MirrorPlanOptions {
  /** `/` on a device */
  root: string;
  /** the satellite's registry as runtimes reach it, e.g. `http://127.0.0.1:5050` */
  mirrorUrl: string;
  targets: MirrorTarget[];
}

export interface SkippedFile {
  path: string;
  runtime: MirrorRuntime;
  code: string;
  message: string;
}

export interface MirrorPlan {
  changes: FileChange[];
  /** files left alone because they could not be parsed or contradict the change */
  skipped: SkippedFile[];
  /** what a person should know (e.g. Docker mirrors only docker.io) */
  notes: string[];
  /** runtimes whose main config changes and that read it only at start */
  restart: MirrorRuntime[];
}

export interface MirrorApplyResult {
  written: string[];
  unchanged: string[];
  backups: string[];
  skipped: SkippedFile[];
  notes: string[];
  restart: MirrorRuntime[];
}

async function readMaybe(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    // a directory or an unreadable file where the config should be: the write will fail and roll back
    if (code === 'EISDIR') return undefined;
    throw err;
  }
}

/** a config path as written on the device, mapped under `root` (unless it is already there) */
function underRoot(root: string, p: string): string {
  const abs = resolve(root);
  if (!isAbsolute(p)) return join(abs, p);
  const rel = relative(abs, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)) ? p : join(abs, p);
}

/** Render every target's files against what is on disk now. Files that cannot be parsed are skipped, never overwritten. */
export async function planMirrorFiles(opts: MirrorPlanOptions): Promise<MirrorPlan> {
  const root = resolve(opts.root);
  const plan: MirrorPlan = { changes: [], skipped: [], notes: [], restart: [] };
  const guard = async (runtime: MirrorRuntime, path: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof RuntimeError)) throw err;
      plan.skipped.push({ path, runtime, code: err.code, message: err.message });
    }
  };
  for (const target of opts.targets) {
    const hosts = target.registries.map((r) => r.host);
    switch (target.runtime) {
      case 'containerd': {
        const configPath = join(root, RUNTIME_PATHS.containerdConfig);
        let certsDir = join(root, RUNTIME_PATHS.containerdCertsDir);
        await guard('containerd', configPath, async () => {
          // config_path is written as the real path of certs.d, so a containerd started with this
          // config (under `uplink dev`, a test) reads the hosts.toml files written here
          const r = renderContainerdConfig(await readMaybe(configPath), certsDir, configPath);
          certsDir = underRoot(root, r.certsDir);
          if (r.changed) {
            plan.changes.push({ path: configPath, content: r.content });
            plan.restart.push('containerd');
          }
        });
        for (const registry of target.registries) {
          const hostsPath = join(certsDir, registry.host, 'hosts.toml');
          await guard('containerd', hostsPath, async () => {
            const r = renderContainerdHosts(await readMaybe(hostsPath), registry, opts.mirrorUrl, hostsPath);
            if (r.changed) plan.changes.push({ path: hostsPath, content: r.content });
          });
        }
        break;
      }
      case 'k3s':
      case 'rke2': {
        if (hosts.length === 0) break;
        const path = join(root, RUNTIME_PATHS[target.runtime]);
        await guard(target.runtime, path, async () => {
          const r = renderRegistriesYaml(await readMaybe(path), hosts, opts.mirrorUrl, path);
          if (r.changed) {
            plan.changes.push({ path, content: r.content });
            plan.restart.push(target.runtime);
          }
        });
        break;
      }
      case 'crio': {
        if (hosts.length === 0) break;
        const path = join(root, RUNTIME_PATHS.crio);
        await guard('crio', path, async () => {
          const r = renderRegistriesConf(await readMaybe(path), target.registries, new URL(opts.mirrorUrl).host, path);
          if (r.changed) plan.changes.push({ path, content: r.content });
        });
        break;
      }
      case 'docker': {
        const others = hosts.filter((h) => h !== DOCKER_HUB);
        if (others.length > 0) plan.notes.push(`docker: registry-mirrors apply to docker.io only; ${others.join(', ')} are pulled from upstream by Docker`);
        if (!hosts.includes(DOCKER_HUB)) break;
        const path = join(root, RUNTIME_PATHS.docker);
        await guard('docker', path, async () => {
          const r = renderDaemonJson(await readMaybe(path), opts.mirrorUrl, path);
          if (r.changed) {
            plan.changes.push({ path, content: r.content });
            plan.restart.push('docker');
          }
        });
        break;
      }
    }
  }
  return plan;
}

/** Plan and write; all files of one call are written or none (RUNTIME_CONFIG_WRITE_FAILED). */
export async function applyMirrors(opts: MirrorPlanOptions): Promise<MirrorApplyResult> {
  const plan = await planMirrorFiles(opts);
  const r = await applyFileChanges(plan.changes);
  return { ...r, skipped: plan.skipped, notes: plan.notes, restart: r.written.length > 0 ? plan.restart : [] };
}
