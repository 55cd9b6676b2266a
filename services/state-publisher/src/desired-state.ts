// The desired state of one satellite, computed from its groups and config. Pure: the same inputs give
// the same document (and so the same content digest) on every run and every process.
import { createHash } from 'node:crypto';
import type { DesiredArtifact, DesiredStateContent, RegistryRef, SatelliteConfig } from '@uplink/contracts';

/** An artifact of a group with its tag pinned; `digest` undefined = the tag was never resolved. */
export interface PinnedArtifact {
  repository: string;
  tag?: string;
  digest?: string;
  platforms?: string[];
}

export interface GroupInput {
  name: string;
  /** upstream registry base URL */
  registry: string;
  resolved: readonly PinnedArtifact[];
}

export interface DesiredStateInput {
  satellite: string;
  groups: readonly GroupInput[];
  config: SatelliteConfig;
}

/** The registry URL as documents carry it: origin plus path, no trailing slash. */
export function normalizeRegistryUrl(url: string): string {
  const u = new URL(url);
  return (u.origin + u.pathname).replace(/\/+$/, '');
}

function shortHash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 8);
}

/**
 * A readable, deterministic name for a registry URL: host, port and path, e.g.
 * `http://127.0.0.1:5000` -> `127.0.0.1-5000`, `https://ghcr.io/acme` -> `ghcr.io-acme`.
 */
export function registryName(url: string): string {
  const u = new URL(normalizeRegistryUrl(url));
  const base = (u.host + u.pathname)
    .toLowerCase()
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (base.length <= 63 && base.length > 0) return base;
  return `${base.slice(0, 54).replace(/-+$/, '')}-${shortHash(normalizeRegistryUrl(url))}`;
}

/** Identity of an artifact's bytes on a satellite (tags aside). */
export function artifactKey(a: Pick<DesiredArtifact, 'registry' | 'repository' | 'digest'>): string {
  return `${a.registry}/${a.repository}@${a.digest}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Desired-state content of a satellite. Artifacts are deduplicated by registry, repository and digest:
 * one entry per tag pointing at those bytes (a digest-only entry when no tag does), platforms merged
 * (no platform list anywhere = every platform). An artifact without a digest is left out: nothing is
 * ever published unpinned. Registries are every assigned group's, named from their URLs.
 */
export function computeDesiredState(input: DesiredStateInput): DesiredStateContent {
  const urls = [...new Set(input.groups.map((g) => normalizeRegistryUrl(g.registry)))].sort(compare);
  const names = new Map(urls.map((u) => [u, registryName(u)]));
  // two URLs with one readable name (http and https of a host, say): disambiguate both
  const byName = new Map<string, string[]>();
  for (const [u, n] of names) byName.set(n, [...(byName.get(n) ?? []), u]);
  for (const [n, us] of byName) if (us.length > 1) for (const u of us) names.set(u, `${n.slice(0, 54)}-${shortHash(u)}`);

  interface Entry {
    registry: string;
    repository: string;
    digest: string;
    tags: Set<string>;
    /** undefined = every platform */
    platforms: Set<string> | undefined;
  }
  const entries = new Map<string, Entry>();
  for (const g of input.groups) {
    const registry = names.get(normalizeRegistryUrl(g.registry))!;
    for (const a of g.resolved) {
      if (!a.digest) continue;
      const key = artifactKey({ registry, repository: a.repository, digest: a.digest });
      let e = entries.get(key);
      if (!e) {
        e = { registry, repository: a.repository, digest: a.digest, tags: new Set(), platforms: a.platforms ? new Set() : undefined };
        entries.set(key, e);
      }
      if (a.tag) e.tags.add(a.tag);
      if (!a.platforms) e.platforms = undefined;
      else if (e.platforms) for (const p of a.platforms) e.platforms.add(p);
    }
  }

  const artifacts: DesiredArtifact[] = [];
  for (const e of entries.values()) {
    const platforms = e.platforms && e.platforms.size > 0 ? { platforms: [...e.platforms].sort(compare) } : {};
    const tags = [...e.tags].sort(compare);
    if (tags.length === 0) artifacts.push({ registry: e.registry, repository: e.repository, digest: e.digest, ...platforms });
    for (const tag of tags) artifacts.push({ registry: e.registry, repository: e.repository, tag, digest: e.digest, ...platforms });
  }
  artifacts.sort(
    (a, b) =>
      compare(a.registry, b.registry) || compare(a.repository, b.repository) || compare(a.tag ?? '', b.tag ?? '') || compare(a.digest, b.digest),
  );

  const registries: RegistryRef[] = urls.map((url) => ({ name: names.get(url)!, url })).sort((a, b) => compare(a.name, b.name));
  return { satellite: input.satellite, registries, artifacts, config: input.config };
}
