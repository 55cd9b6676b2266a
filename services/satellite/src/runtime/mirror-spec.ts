// Which runtimes get mirror config for which registries: the `--mirrors` / MIRRORS spec
// (`containerd:docker.io,ghcr.io;k3s` or simply `containerd,k3s`) and the desired state's
// `config.mirrors`, over the registries of the desired state.
import { RuntimeError } from './errors.js';
import { defaultServerOf, isRegistryHost, normalizeRegistryHost, type RegistryEndpoint } from './registry-host.js';

export const MIRROR_RUNTIMES = ['containerd', 'k3s', 'rke2', 'crio', 'docker'] as const;
export type MirrorRuntime = (typeof MIRROR_RUNTIMES)[number];
/** other names accepted in a spec */
const ALIASES: Record<string, MirrorRuntime> = { podman: 'crio', 'cri-o': 'crio', containers: 'crio' };

export interface MirrorSelection {
  runtime: MirrorRuntime;
  /** normalized hosts; undefined = every registry of the desired state */
  hosts: string[] | undefined;
}

export interface MirrorTarget {
  runtime: MirrorRuntime;
  registries: RegistryEndpoint[];
}

function runtimeOf(token: string, spec: string): MirrorRuntime {
  const t = token.trim().toLowerCase();
  const r = (MIRROR_RUNTIMES as readonly string[]).includes(t) ? (t as MirrorRuntime) : ALIASES[t];
  if (!r) {
    throw new RuntimeError(
      'MIRROR_SPEC_INVALID',
      `mirror spec "${spec}": unknown runtime "${token.trim()}"; use ${MIRROR_RUNTIMES.join(', ')} (podman = crio), e.g. "containerd:docker.io,ghcr.io;k3s"`,
    );
  }
  return r;
}

/**
 * `containerd:docker.io,ghcr.io;k3s:harbor.example.com` -> per runtime, the registries it mirrors.
 * A runtime without `:hosts` mirrors every registry of the desired state; `containerd,k3s` (no colon)
 * lists runtimes. Empty or blank = nothing. Throws MIRROR_SPEC_INVALID with what is wrong.
 */
export function parseMirrorSpec(spec: string): MirrorSelection[] {
  const out: MirrorSelection[] = [];
  for (const raw of spec.split(';')) {
    const item = raw.trim();
    if (item === '') continue;
    const colon = item.indexOf(':');
    if (colon < 0) {
      for (const token of item.split(',')) {
        if (token.trim() === '') continue;
        out.push({ runtime: runtimeOf(token, spec), hosts: undefined });
      }
      continue;
    }
    const runtime = runtimeOf(item.slice(0, colon), spec);
    const hosts = item
      .slice(colon + 1)
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
    if (hosts.length === 0) throw new RuntimeError('MIRROR_SPEC_INVALID', `mirror spec "${spec}": "${item}" names no registry after the colon; drop the colon to mirror every registry`);
    for (const h of hosts) {
      if (!isRegistryHost(h.toLowerCase())) throw new RuntimeError('MIRROR_SPEC_INVALID', `mirror spec "${spec}": "${h}" is not a registry host (host or host:port, e.g. docker.io, 127.0.0.1:5000)`);
    }
    out.push({ runtime, hosts: [...new Set(hosts.map(normalizeRegistryHost))] });
  }
  return out;
}

export interface PlanMirrorsInput {
  /** from `--mirrors` / MIRRORS */
  selections?: MirrorSelection[];
  /** the desired state's `config.mirrors` */
  stateRuntimes?: readonly MirrorRuntime[];
  /** the registries of the desired state */
  registries: RegistryEndpoint[];
}

/** One target per runtime, with the registries it mirrors, sorted; runtimes with no registry left are kept (containerd's config_path still matters). */
export function planMirrors(input: PlanMirrorsInput): MirrorTarget[] {
  const known = new Map(input.registries.map((r) => [r.host, r]));
  const byRuntime = new Map<MirrorRuntime, Map<string, RegistryEndpoint>>();
  const add = (runtime: MirrorRuntime, hosts: string[] | undefined) => {
    const set = byRuntime.get(runtime) ?? new Map<string, RegistryEndpoint>();
    byRuntime.set(runtime, set);
    for (const host of hosts ?? [...known.keys()]) set.set(host, known.get(host) ?? { host, server: defaultServerOf(host) });
  };
  for (const s of input.selections ?? []) add(s.runtime, s.hosts);
  for (const r of input.stateRuntimes ?? []) add(r, undefined);
  return MIRROR_RUNTIMES.filter((r) => byRuntime.has(r)).map((runtime) => ({
    runtime,
    registries: [...byRuntime.get(runtime)!.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)),
  }));
}
