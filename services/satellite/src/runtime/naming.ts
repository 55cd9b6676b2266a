// How images keep their upstream names on the satellite (the naming rule).
//
// The content store keeps an artifact under its upstream repository path, as the desired state names
// it (`library/nginx`), so `127.0.0.1:5050/library/nginx:alpine` works for every client, including
// those that send no registry hint (skopeo, Docker, CRI-O). Only when two registries of the same
// desired state hold the same path is each stored as `<host-key>/<path>` (`harbor.example.com/library/nginx`,
// `127.0.0.1-5000/library/nginx`): then only clients that say which registry they mean (containerd's
// `?ns=<host>`) reach them, and never the wrong one.
//
// A request `GET /v2/<name>/...?ns=<host>` resolves to:
//   1. the store repository of the desired artifact `<host>/<name>`, if there is one;
//   2. `<host-key>/<name>` when the desired state gives `<name>` to another registry (so a docker.io
//      request can never be answered with harbor's image of the same path);
//   3. `<name>` otherwise (also without `?ns=`).
// Pull-through stores what it fetches under the same resolved name.
import type { DesiredArtifact, DesiredState } from '@uplink/contracts';
import { normalizeRegistryHost, registryHostOf } from './registry-host.js';

/** `harbor.example.com:8443` -> `harbor.example.com-8443`: a valid repository path component */
export function hostKey(host: string): string {
  return normalizeRegistryHost(host)
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '');
}

export interface NamedArtifact {
  artifact: DesiredArtifact;
  /** normalized registry host, e.g. `docker.io` */
  host: string;
  /** the repository in the content store */
  storeRepository: string;
  /** the name runtimes know the image by: `<host>/<repository>:<tag>` or `<host>/<repository>@<digest>` */
  imageName: string;
}

/** Every artifact of a desired state with its registry host and store repository (the rule above). */
export function nameArtifacts(state: Pick<DesiredState, 'registries' | 'artifacts'>): NamedArtifact[] {
  const hostByRegistry = new Map(state.registries.map((r) => [r.name, registryHostOf(r.url)]));
  const withHost = state.artifacts.map((artifact) => ({ artifact, host: hostByRegistry.get(artifact.registry) ?? normalizeRegistryHost(artifact.registry) }));
  const hostsByPath = new Map<string, Set<string>>();
  for (const { artifact, host } of withHost) {
    const hosts = hostsByPath.get(artifact.repository) ?? new Set<string>();
    hosts.add(host);
    hostsByPath.set(artifact.repository, hosts);
  }
  return withHost.map(({ artifact, host }) => {
    const shared = (hostsByPath.get(artifact.repository)?.size ?? 0) > 1;
    return {
      artifact,
      host,
      storeRepository: shared ? `${hostKey(host)}/${artifact.repository}` : artifact.repository,
      imageName: artifact.tag ? `${host}/${artifact.repository}:${artifact.tag}` : `${host}/${artifact.repository}@${artifact.digest}`,
    };
  });
}

/** The store repository replication must use for `artifact` of `state`. */
export function storeRepositoryOf(state: Pick<DesiredState, 'registries' | 'artifacts'>, artifact: DesiredArtifact): string {
  const hit = nameArtifacts(state).find((n) => n.artifact === artifact || (n.artifact.registry === artifact.registry && n.artifact.repository === artifact.repository));
  return hit?.storeRepository ?? artifact.repository;
}

/** `(name, ns) -> store repository` for the registry handler's `resolveRepository` option. */
export type RepositoryResolver = (name: string, ns: string | undefined) => string;

export function createRepositoryResolver(state: Pick<DesiredState, 'registries' | 'artifacts'> | null | undefined): RepositoryResolver {
  const byHostPath = new Map<string, string>();
  const hostsOfPath = new Map<string, Set<string>>();
  for (const n of state ? nameArtifacts(state) : []) {
    byHostPath.set(`${n.host}/${n.artifact.repository}`, n.storeRepository);
    const hosts = hostsOfPath.get(n.artifact.repository) ?? new Set<string>();
    hosts.add(n.host);
    hostsOfPath.set(n.artifact.repository, hosts);
  }
  return (name, ns) => {
    if (ns === undefined || ns === '') return name;
    const host = normalizeRegistryHost(ns);
    const desired = byHostPath.get(`${host}/${name}`);
    if (desired !== undefined) return desired;
    const claimed = hostsOfPath.get(name);
    if (claimed && !claimed.has(host)) return `${hostKey(host)}/${name}`;
    return name;
  };
}
