// A group's artifacts as the operator gave them, pinned with the tag resolutions known so far. Pure.
import type { DesiredArtifact, PutGroupBody } from '@uplink/contracts';
import { registryName } from './desired-state.js';

export type GroupArtifact = PutGroupBody['artifacts'][number];

export interface TagRef {
  repository: string;
  tag: string;
}

export interface UnresolvedArtifact extends TagRef {
  /** why the tag has no digest yet, when an attempt failed */
  reason?: string;
}

export interface PinResult {
  /** every artifact with a digest, tags expanded to one entry each */
  resolved: DesiredArtifact[];
  /** tags that never resolved: left out of every desired state */
  unresolved: UnresolvedArtifact[];
}

export function tagKey(repository: string, tag: string): string {
  return `${repository}:${tag}`;
}

/** Tags that need a lookup upstream (artifacts given with a digest need none). */
export function tagsToResolve(artifacts: readonly GroupArtifact[]): TagRef[] {
  const seen = new Map<string, TagRef>();
  for (const a of artifacts) {
    if (a.digest) continue;
    for (const tag of a.tags ?? []) seen.set(tagKey(a.repository, tag), { repository: a.repository, tag });
  }
  return [...seen.values()];
}

/**
 * Pin a group's artifacts. `known` maps `repository:tag` to the last known digest (or undefined) and
 * the last error; a digest given by the operator wins over any resolution.
 */
export function pinGroupArtifacts(
  registry: string,
  artifacts: readonly GroupArtifact[],
  known: ReadonlyMap<string, { digest: string | undefined; error?: string | undefined }>,
): PinResult {
  const name = registryName(registry);
  const resolved: DesiredArtifact[] = [];
  const unresolved: UnresolvedArtifact[] = [];
  for (const a of artifacts) {
    const platforms = a.platforms && a.platforms.length > 0 ? { platforms: a.platforms } : {};
    if (a.digest) {
      if (!a.tags || a.tags.length === 0) resolved.push({ registry: name, repository: a.repository, digest: a.digest, ...platforms });
      for (const tag of a.tags ?? []) resolved.push({ registry: name, repository: a.repository, tag, digest: a.digest, ...platforms });
      continue;
    }
    for (const tag of a.tags ?? []) {
      const k = known.get(tagKey(a.repository, tag));
      if (k?.digest) resolved.push({ registry: name, repository: a.repository, tag, digest: k.digest, ...platforms });
      else unresolved.push({ repository: a.repository, tag, ...(k?.error ? { reason: k.error } : {}) });
    }
  }
  return { resolved, unresolved };
}
