// The desired-state document (ARCHITECTURE §4): one per satellite, every artifact pinned by digest.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Digest, Repository, SatelliteName, Tag } from './names.js';

export const Platform = z.string().regex(/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/, 'must be os/arch[/variant], e.g. linux/arm64');

export const RegistryRef = z.strictObject({
  name: z.string().min(1).max(63),
  url: z.url({ protocol: /^https?$/ }),
});

export const DesiredArtifact = z.strictObject({
  registry: z.string().min(1).max(63),
  repository: Repository,
  tag: Tag.optional(),
  digest: Digest,
  platforms: z.array(Platform).optional(),
});

export const SyncWindow = z.strictObject({
  /** cron-like "HH:MM-HH:MM" in UTC */
  window: z.string().regex(/^\d{2}:\d{2}-\d{2}:\d{2}$/),
});

export const SatelliteConfig = z.strictObject({
  heartbeatSeconds: z.number().int().min(1).max(86_400).default(30),
  mirrors: z.array(z.enum(['containerd', 'k3s', 'rke2', 'crio', 'docker'])).default([]),
  directDelivery: z.boolean().default(false),
  /** bytes per second shared by all transfers, 0 = unlimited */
  bandwidthLimit: z.number().int().min(0).default(0),
  syncWindows: z.array(SyncWindow).default([]),
});

export const DesiredStateContent = z.strictObject({
  satellite: SatelliteName,
  registries: z.array(RegistryRef),
  artifacts: z.array(DesiredArtifact),
  config: SatelliteConfig,
});

export const DesiredState = DesiredStateContent.extend({
  revision: z.number().int().positive(),
  digest: Digest,
  issuedAt: z.iso.datetime(),
});

export type DesiredArtifact = z.infer<typeof DesiredArtifact>;
export type SatelliteConfig = z.infer<typeof SatelliteConfig>;
export type DesiredStateContent = z.infer<typeof DesiredStateContent>;
export type DesiredState = z.infer<typeof DesiredState>;
export type RegistryRef = z.infer<typeof RegistryRef>;

/** JSON with object keys sorted, so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** sha256 of the canonical content: what decides whether a new revision is published. */
export function contentDigest(content: DesiredStateContent): string {
  return 'sha256:' + createHash('sha256').update(canonicalJson(content)).digest('hex');
}
