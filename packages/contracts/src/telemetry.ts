// What sites report: heartbeats and sync events. Edge processes write them into the site's OUTBOX
// (`uplink.outbox.<sat>.<kind>`); the forwarder ships each to the hub under the same kind
// (`uplink.telemetry.<sat>.<kind>`, or `uplink.result.<sat>` for command results).
import { z } from 'zod';
import { SatelliteConfig } from './desired-state.js';
import { Digest, Repository, SatelliteName } from './names.js';

export const TelemetryKind = z.enum(['heartbeat', 'sync', 'applied']);
export type TelemetryKind = z.infer<typeof TelemetryKind>;

export const InventoryImage = z.strictObject({ repository: Repository, tag: z.string().optional(), digest: Digest, sizeBytes: z.number().int().min(0) });

/** Runtime integration of a site: mirror config and direct delivery (optional in heartbeats: older sites do not send it). */
export const HeartbeatRuntime = z.strictObject({
  /** when the config was last applied */
  at: z.iso.datetime(),
  /** runtimes whose mirror config points at the satellite */
  runtimes: z.array(SatelliteConfig.shape.mirrors.unwrap().element),
  /** image tarballs in the direct-delivery directory */
  delivered: z.number().int().min(0),
  /** errors of the last apply (0 = healthy) */
  errors: z.number().int().min(0),
  /** the most recent error since the satellite started */
  lastError: z.strictObject({ code: z.string().max(64), message: z.string().max(1_000), at: z.iso.datetime() }).nullable(),
});
export type HeartbeatRuntime = z.infer<typeof HeartbeatRuntime>;

export const Heartbeat = z.strictObject({
  satellite: SatelliteName,
  at: z.iso.datetime(),
  /** monotonically increasing per satellite process start; with `bootId` orders heartbeats */
  seq: z.number().int().min(0),
  bootId: z.string().min(1).max(64),
  intervalSeconds: z.number().int().positive(),
  uptimeSeconds: z.number().min(0),
  cpuPercent: z.number().min(0).max(100 * 1024),
  memory: z.strictObject({ usedBytes: z.number().int().min(0), totalBytes: z.number().int().min(0) }),
  disk: z.strictObject({ usedBytes: z.number().int().min(0), freeBytes: z.number().int().min(0) }),
  versions: z.record(z.string(), z.string()),
  applied: z.strictObject({ revision: z.number().int(), digest: Digest }).nullable(),
  /** the whole inventory only when it changed since the last heartbeat; its hash always */
  inventory: z.strictObject({ hash: z.string(), images: z.array(InventoryImage).optional() }),
  sync: z.strictObject({
    // waiting: what is missing waits for the next sync window (nothing is being fetched)
    status: z.enum(['idle', 'syncing', 'waiting', 'synced', 'degraded', 'failed']),
    ready: z.number().int().min(0),
    total: z.number().int().min(0),
    failed: z.number().int().min(0),
    lastSyncAt: z.iso.datetime().nullable(),
  }),
  link: z.strictObject({ connected: z.boolean(), lastContactAt: z.iso.datetime().nullable() }),
  outbox: z.strictObject({ messages: z.number().int().min(0), bytes: z.number().int().min(0), dropped: z.number().int().min(0) }),
  runtime: HeartbeatRuntime.optional(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;

export const SyncEvent = z.strictObject({
  satellite: SatelliteName,
  at: z.iso.datetime(),
  event: z.enum(['sync.started', 'artifact.synced', 'artifact.failed', 'sync.completed']),
  revision: z.number().int().min(0),
  artifact: z.strictObject({ repository: Repository, digest: Digest }).optional(),
  error: z.string().max(4_000).optional(),
  bytes: z.number().int().min(0).optional(),
  durationMs: z.number().min(0).optional(),
  ready: z.number().int().min(0).optional(),
  failed: z.number().int().min(0).optional(),
});
export type SyncEvent = z.infer<typeof SyncEvent>;
