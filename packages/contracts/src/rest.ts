// REST bodies of the gateway (ARCHITECTURE §7). Strict objects: unknown fields are an error.
import { z } from 'zod';
import { Digest, GroupName, Labels, Repository, SatelliteName, Tag } from './names.js';
import { DesiredArtifact, Platform, SatelliteConfig } from './desired-state.js';

export const GroupArtifactInput = z
  .strictObject({
    repository: Repository,
    tags: z.array(Tag).min(1).max(100).optional(),
    digest: Digest.optional(),
    platforms: z.array(Platform).optional(),
  })
  .refine((a) => a.tags !== undefined || a.digest !== undefined, { message: 'an artifact needs "tags" or "digest"' });

export const PutGroupBody = z.strictObject({
  registry: z.url({ protocol: /^https?$/ }).describe('upstream registry base URL, e.g. http://127.0.0.1:5000'),
  artifacts: z.array(GroupArtifactInput).max(1000),
});

export const Group = PutGroupBody.extend({
  name: GroupName,
  satellites: z.array(SatelliteName),
  /** tags resolved to digests; empty until the upstream answered */
  resolved: z.array(DesiredArtifact),
  updatedAt: z.iso.datetime(),
});

export const CreateSatelliteBody = z.strictObject({
  name: SatelliteName,
  labels: Labels.optional(),
  groups: z.array(GroupName).max(100).optional(),
});

/**
 * Registration's lifecycle of a site: pending (created, not registered yet), active (registered, its
 * credentials valid), stale (its credentials expired without renewal), revoked.
 */
export const SatelliteLifecycle = z.enum(['pending', 'active', 'stale', 'revoked']);

export const Satellite = z.strictObject({
  name: SatelliteName,
  labels: Labels,
  groups: z.array(GroupName),
  status: z.enum(['pending', 'active', 'online', 'stale', 'offline', 'revoked']),
  createdAt: z.iso.datetime(),
  /** when the device registered (zero-touch registration) */
  registeredAt: z.iso.datetime().optional(),
  /** when its current credentials expire */
  credentialsExpireAt: z.iso.datetime().optional(),
  revokedAt: z.iso.datetime().optional(),
});

/** `POST /v1/satellites`: the satellite and its one-time join token, which no later reply shows. */
export const CreatedSatellite = Satellite.extend({ joinToken: z.string(), joinTokenExpiresAt: z.iso.datetime() });

// A partial update: only the fields given change. Not `SatelliteConfig.partial()`: zod 4 keeps the
// defaults of a partial schema, so every missing field would come back as its default.
const config = SatelliteConfig.shape;
export const PutSatelliteConfigBody = z.strictObject({
  heartbeatSeconds: config.heartbeatSeconds.unwrap().optional(),
  mirrors: config.mirrors.unwrap().optional(),
  directDelivery: config.directDelivery.unwrap().optional(),
  bandwidthLimit: config.bandwidthLimit.unwrap().optional(),
  syncWindows: config.syncWindows.unwrap().optional(),
} satisfies Record<keyof typeof config, z.ZodType>);

export const AppliedState = z.strictObject({ revision: z.number().int(), digest: Digest, at: z.iso.datetime() });

export const SatelliteStateView = z.strictObject({
  desired: z
    .strictObject({ revision: z.number().int(), digest: Digest, artifacts: z.array(DesiredArtifact), config: SatelliteConfig })
    .nullable(),
  applied: AppliedState.nullable(),
  artifacts: z.array(
    z.strictObject({ repository: Repository, digest: Digest, status: z.string(), error: z.string().optional() }),
  ),
});

export const ErrorBody = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** The cloud services the gateway fronts, as their RPC subjects name them. */
export const FrontedService = z.enum(['registration', 'state', 'command', 'telemetry']);

/** `GET /readyz?services=state,registration`: probe only these; default every fronted service. */
export const ReadinessQuery = z.strictObject({
  services: z
    .string()
    .transform((s) => [...new Set(s.split(',').map((x) => x.trim()).filter(Boolean))])
    .pipe(z.array(FrontedService).min(1, 'name at least one service'))
    .optional(),
});

export type PutGroupBody = z.infer<typeof PutGroupBody>;
export type Group = z.infer<typeof Group>;
export type CreateSatelliteBody = z.infer<typeof CreateSatelliteBody>;
export type Satellite = z.infer<typeof Satellite>;
export type SatelliteLifecycle = z.infer<typeof SatelliteLifecycle>;
export type CreatedSatellite = z.infer<typeof CreatedSatellite>;
export type PutSatelliteConfigBody = z.infer<typeof PutSatelliteConfigBody>;
export type AppliedState = z.infer<typeof AppliedState>;
export type SatelliteStateView = z.infer<typeof SatelliteStateView>;
export type ErrorBody = z.infer<typeof ErrorBody>;
export type FrontedService = z.infer<typeof FrontedService>;
export type ReadinessQuery = z.infer<typeof ReadinessQuery>;
