// Which satellites get a new revision: those whose content digest differs from their last one.
import { createHash } from 'node:crypto';
import { canonicalJson, contentDigest, type DesiredState, type DesiredStateContent } from '@uplink/contracts';
import { artifactKey } from './desired-state.js';

export interface CurrentRevision {
  /** last revision written for the satellite; 0 when none ever was */
  revision: number;
  /** content digest of that revision; undefined when there is no current state */
  digest: string | undefined;
}

export interface PlannedRevision {
  satellite: string;
  revision: number;
  digest: string;
  content: DesiredStateContent;
}

/** A computed content and, when already known, its content digest. */
export interface ComputedContent {
  content: DesiredStateContent;
  digest?: string;
}

/** New revisions (old + 1) for the satellites whose content changed; unchanged ones are left out. */
export function planRevisions(computed: readonly ComputedContent[], current: ReadonlyMap<string, CurrentRevision>): PlannedRevision[] {
  const out: PlannedRevision[] = [];
  for (const { content, digest: known } of computed) {
    const digest = known ?? contentDigest(content);
    const cur = current.get(content.satellite);
    if (cur?.digest === digest) continue;
    out.push({ satellite: content.satellite, revision: (cur?.revision ?? 0) + 1, digest, content });
  }
  return out;
}

/**
 * `contentDigest` of this content for any satellite name, serialising the shared part once: many
 * satellites with the same groups and config differ only in their name. Equal to
 * `contentDigest({ ...content, satellite })` (tested).
 */
export function satelliteDigester(content: DesiredStateContent): (satellite: string) => string {
  const marker = JSON.stringify('\u0000');
  const canonical = canonicalJson({ ...content, satellite: '\u0000' });
  const at = canonical.indexOf(marker);
  const prefix = canonical.slice(0, at);
  const suffix = canonical.slice(at + marker.length);
  return (satellite) => 'sha256:' + createHash('sha256').update(prefix + JSON.stringify(satellite) + suffix).digest('hex');
}

/** The part of a content its satellites share (all but the name), with its id and artifact keys. */
export function sharedContent(content: DesiredStateContent): { id: string; content: Omit<DesiredStateContent, 'satellite'>; keys: string[] } {
  const { satellite: _satellite, ...shared } = content;
  return { id: 'sha256:' + createHash('sha256').update(canonicalJson(shared)).digest('hex'), content: shared, keys: artifactKeys(content) };
}

/** The document published for a planned revision. */
export function desiredStateDocument(p: PlannedRevision, issuedAt: Date): DesiredState {
  return { ...p.content, revision: p.revision, digest: p.digest, issuedAt: issuedAt.toISOString() };
}

/**
 * Encodes documents for the wire, serialising the shared part of a content once (documents of one
 * change share their registries, artifacts and config objects) instead of once per satellite.
 */
export function desiredStateEncoder(): (d: DesiredState) => Uint8Array {
  // the shared part as UTF-8 bytes without its opening brace, ready to be appended to each head
  const sharedBytes = new WeakMap<object, { registries: object; config: object; bytes: Buffer }>();
  return (d) => {
    let shared = sharedBytes.get(d.artifacts);
    if (!shared || shared.registries !== d.registries || shared.config !== d.config) {
      const json = JSON.stringify({ registries: d.registries, artifacts: d.artifacts, config: d.config });
      shared = { registries: d.registries, config: d.config, bytes: Buffer.from(json.slice(1), 'utf8') };
      sharedBytes.set(d.artifacts, shared);
    }
    const head = JSON.stringify({ satellite: d.satellite, revision: d.revision, digest: d.digest, issuedAt: d.issuedAt });
    return Buffer.concat([Buffer.from(`${head.slice(0, -1)},`, 'utf8'), shared.bytes]);
  };
}

/** Keys of the artifacts of a document, for per-artifact "since revision" bookkeeping. */
export function artifactKeys(content: DesiredStateContent): string[] {
  return [...new Set(content.artifacts.map(artifactKey))];
}

/** `applied`/`pending` from revisions alone; `ready`/`syncing`/`failed` as the satellite reported them */
export type ArtifactStatus = 'applied' | 'pending' | 'ready' | 'syncing' | 'failed';

export interface ReportedArtifact {
  repository: string;
  digest: string;
  status: string;
  error?: string;
}

/**
 * Status of each desired artifact: applied once the satellite applied the desired revision, or any
 * revision at or after the one that introduced the artifact; pending otherwise.
 */
export function artifactStatuses(
  desired: { revision: number; digest: string; artifacts: readonly { registry: string; repository: string; digest: string }[] },
  since: Readonly<Record<string, number>>,
  applied: { revision: number; digest: string } | null,
  /** per-artifact status the satellite reported with its applied revision, if it did */
  reported?: readonly ReportedArtifact[] | null,
): { repository: string; digest: string; status: ArtifactStatus; error?: string }[] {
  const seen = new Set<string>();
  const out: { repository: string; digest: string; status: ArtifactStatus; error?: string }[] = [];
  // a report speaks for the revision it came with; an older one says nothing about newer artifacts
  const current = applied !== null && reported && applied.revision === desired.revision ? new Map(reported.map((r) => [`${r.repository}@${r.digest}`, r])) : undefined;
  const all = applied !== null && (applied.revision >= desired.revision || applied.digest === desired.digest);
  for (const a of desired.artifacts) {
    const key = artifactKey(a);
    if (seen.has(key)) continue;
    seen.add(key);
    const introduced = since[key] ?? desired.revision;
    const r = current?.get(`${a.repository}@${a.digest}`);
    if (r && (r.status === 'ready' || r.status === 'syncing' || r.status === 'failed' || r.status === 'pending')) {
      out.push({ repository: a.repository, digest: a.digest, status: r.status, ...(r.error ? { error: r.error } : {}) });
      continue;
    }
    const status: ArtifactStatus = all || (applied !== null && applied.revision >= introduced) ? 'applied' : 'pending';
    out.push({ repository: a.repository, digest: a.digest, status });
  }
  return out;
}
