// Fleet health as the gateway answers it (ARCHITECTURE §7): one satellite's status, fleet summary,
// stored telemetry, which sites hold which images, and the live telemetry feed.
import { z } from 'zod';
import { Digest, GroupName, NAME_PATTERN, Name, Repository, SatelliteName } from './names.js';
import { SatelliteLifecycle } from './rest.js';
import { Heartbeat } from './telemetry.js';

/** pending: registered, never heard from; stale: missed 3 heartbeats; offline: silent longer than the offline limit. */
export const SatelliteStatus = z.enum(['pending', 'online', 'stale', 'offline', 'revoked']);
export type SatelliteStatus = z.infer<typeof SatelliteStatus>;

/** `GET /v1/satellites/{name}/status` */
export const SatelliteStatusView = z.strictObject({
  name: SatelliteName,
  status: SatelliteStatus,
  lastHeartbeatAt: z.iso.datetime().nullable(),
  heartbeat: Heartbeat.nullable(),
});
export type SatelliteStatusView = z.infer<typeof SatelliteStatusView>;

const Counts = z.record(z.string(), z.number().int().min(0));

/** `GET /v1/fleet` */
export const FleetView = z.strictObject({
  total: z.number().int().min(0),
  byStatus: z.strictObject({
    pending: z.number().int().min(0),
    online: z.number().int().min(0),
    stale: z.number().int().min(0),
    offline: z.number().int().min(0),
    revoked: z.number().int().min(0),
  }),
  sync: z.strictObject({
    /** sites by the sync status of their latest heartbeat (idle, syncing, synced, degraded, failed) */
    byStatus: Counts,
    /** sites whose applied revision is their desired revision */
    converged: z.number().int().min(0),
    /** sites with a desired state they have not applied yet */
    behind: z.number().int().min(0),
  }),
  /** component -> version -> number of sites reporting it in their latest heartbeat */
  versions: z.record(z.string(), Counts),
  generatedAt: z.iso.datetime(),
});
export type FleetView = z.infer<typeof FleetView>;

/** An ISO time with offset, e.g. 2026-01-02T03:04:05Z or 2026-01-02T04:04:05+01:00 */
const IsoTime = z.iso.datetime({ offset: true });

/** Query of `GET /v1/telemetry/{name}` (strings, as they come from a URL). */
export const TelemetryQuery = z
  .strictObject({
    from: IsoTime.optional().describe('start of the range (inclusive); default: one hour before `to`'),
    to: IsoTime.optional().describe('end of the range (exclusive); default: now'),
    kind: Name.optional().describe('only this kind, e.g. heartbeat or sync'),
    limit: z.coerce.number().int().min(1).max(1_000).optional().describe('most records returned (1..1000) @default 100'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), {
    message: '"from" must not be after "to"',
    path: ['from'],
  });
export type TelemetryQuery = z.infer<typeof TelemetryQuery>;

export const TelemetryRecord = z.strictObject({
  satellite: SatelliteName,
  kind: z.string(),
  at: z.iso.datetime(),
  /** the message id the site gave it (its OUTBOX dedupe id) */
  msgId: z.string(),
  receivedAt: z.iso.datetime(),
  body: z.unknown(),
});
export type TelemetryRecord = z.infer<typeof TelemetryRecord>;

/** Records in time order, oldest first; `truncated` when `limit` cut the range short (ask again from the last `at`). */
export const TelemetryPage = z.strictObject({
  satellite: SatelliteName,
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  items: z.array(TelemetryRecord),
  truncated: z.boolean(),
});
export type TelemetryPage = z.infer<typeof TelemetryPage>;

const ImageRef = z.strictObject({ repository: Repository, digest: Digest });

/** The most sites one page of `GET /v1/images` covers, and how many it covers unless told. */
export const IMAGES_PAGE_MAX = 1_000;
export const IMAGES_PAGE_DEFAULT = 100;

const CursorBody = z.strictObject({ after: SatelliteName });

/**
 * The opaque cursor of a page of sites in name order that ends with site `after`, and its schema for
 * when the client hands it back (decoded to where the next page starts); `endpoint` names the list in
 * the error a foreign or damaged cursor gets.
 */
function siteCursor(endpoint: string) {
  const encode = (after: string): string => Buffer.from(JSON.stringify(CursorBody.parse({ after }))).toString('base64url');
  const schema = z
    .string()
    .max(200)
    .transform((s, ctx) => {
      let body: unknown;
      try {
        body = /^[A-Za-z0-9_-]+$/.test(s) ? JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) : undefined;
      } catch {
        body = undefined;
      }
      const r = CursorBody.safeParse(body);
      if (r.success) return r.data;
      ctx.addIssue({ code: 'custom', message: `not a cursor of ${endpoint}: pass the nextCursor of the previous page` });
      return z.NEVER;
    });
  return { encode, schema };
}

const imagesSiteCursor = siteCursor('GET /v1/images');
/** The opaque `nextCursor` of a page of `GET /v1/images` that ends with site `after`. */
export const imagesCursor = imagesSiteCursor.encode;
/** A cursor as the client hands it back, decoded to where its page starts (after this site). */
export const ImagesCursor = imagesSiteCursor.schema;

/** `GET /v1/images?limit&cursor`: a page of sites in name order (strings, as they come from a URL). */
export const ImagesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(IMAGES_PAGE_MAX).default(IMAGES_PAGE_DEFAULT).describe('sites per page (1..1000) @default 100'),
  cursor: ImagesCursor.optional().describe('the nextCursor of the previous page'),
});
export type ImagesQuery = z.infer<typeof ImagesQuery>;

/**
 * `GET /v1/images`: one page of sites, in name order, and the images those sites hold or should hold
 * (each image's `sites`, `desiredBy` and `missingAt` name only this page's sites; the pages of a whole
 * walk add up to the fleet's report). `nextCursor` is there when more sites follow.
 */
export const ImagesView = z.strictObject({
  /** every image a site of this page holds or should hold */
  images: z.array(
    ImageRef.extend({
      tags: z.array(z.string()),
      /** sites that reported holding it */
      sites: z.array(SatelliteName),
      /** sites whose desired state names it */
      desiredBy: z.array(SatelliteName),
      /** sites whose desired state names it and that do not hold it */
      missingAt: z.array(SatelliteName),
    }),
  ),
  sites: z.array(
    z.strictObject({
      name: SatelliteName,
      /** false until a heartbeat carried the site's full inventory */
      inventoryKnown: z.boolean(),
      images: z.number().int().min(0),
      /** desired images the site does not hold (all of them when its inventory is unknown) */
      missing: z.array(ImageRef.extend({ tag: z.string().optional() })),
    }),
  ),
  generatedAt: z.iso.datetime(),
  /** pass as `cursor` for the next page; absent on the last one */
  nextCursor: z.string().optional(),
});
export type ImagesView = z.infer<typeof ImagesView>;

/**
 * A site's liveness from its heartbeats, as the fleet list reports and filters it: online, stale
 * (missed 3 heartbeats), offline (silent longer than the offline limit), unknown (never heard from).
 */
export const SatelliteLiveness = z.enum(['online', 'stale', 'offline', 'unknown']);
export type SatelliteLiveness = z.infer<typeof SatelliteLiveness>;

/** The most sites one page of `GET /v1/fleet/satellites` lists, and how many it lists unless told. */
export const FLEET_PAGE_MAX = 1_000;
export const FLEET_PAGE_DEFAULT = 100;

/** The start of a satellite name (any start of a valid name matches the name pattern). */
export const SatelliteNamePrefix = z
  .string()
  .regex(NAME_PATTERN, 'must be the start of a satellite name (lower case letters, digits, "-" and "_"; no dots)');

const fleetSiteCursor = siteCursor('GET /v1/fleet/satellites');
/** The opaque `nextCursor` of a page of `GET /v1/fleet/satellites` that ends with site `after`. */
export const fleetSatellitesCursor = fleetSiteCursor.encode;
/** A cursor as the client hands it back, decoded to where its page starts (after this site). */
export const FleetSatellitesCursor = fleetSiteCursor.schema;

/** `GET /v1/fleet/satellites?limit&cursor&status&q` (strings, as they come from a URL). */
export const FleetSatellitesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(FLEET_PAGE_MAX).default(FLEET_PAGE_DEFAULT).describe('sites per page (1..1000) @default 100'),
  cursor: FleetSatellitesCursor.optional().describe('the nextCursor of the previous page'),
  status: SatelliteLiveness.optional().describe('only sites of this liveness'),
  q: SatelliteNamePrefix.optional().describe('only sites whose name starts with this'),
});
export type FleetSatellitesQuery = z.infer<typeof FleetSatellitesQuery>;

/** One site of the fleet list: registration's lifecycle, heartbeat liveness and sync, in one row. */
export const FleetSatellite = z.strictObject({
  name: SatelliteName,
  /** registration's lifecycle: pending, active, stale (credentials expired unrenewed), revoked */
  lifecycle: SatelliteLifecycle,
  liveness: SatelliteLiveness,
  lastHeartbeatAt: z.iso.datetime().nullable(),
  /** sync status of the latest heartbeat (idle, syncing, waiting, synced, degraded, failed) */
  syncStatus: z.string().nullable(),
  /** the revision the site last applied (its heartbeat, else its applied report) */
  appliedRevision: z.number().int().nullable(),
  /** the revision of its current desired state */
  desiredRevision: z.number().int().nullable(),
  /** component versions of the latest heartbeat as "component version" pairs, e.g. "node v22.12.0" */
  version: z.string().nullable(),
  /** groups the site is assigned to */
  groups: z.array(GroupName),
});
export type FleetSatellite = z.infer<typeof FleetSatellite>;

/** `GET /v1/fleet/satellites`: a page of sites in name order; `nextCursor` when more follow. */
export const FleetSatellitesPage = z.strictObject({
  satellites: z.array(FleetSatellite),
  /** pass as `cursor` for the next page; absent on the last one */
  nextCursor: z.string().optional(),
});
export type FleetSatellitesPage = z.infer<typeof FleetSatellitesPage>;

/** Query of `GET /v1/stream/telemetry`. */
export const TelemetryStreamQuery = z.strictObject({
  satellite: SatelliteName.optional(),
  kind: Name.optional(),
  /** resume after this event id when the client cannot send a Last-Event-ID header */
  lastEventId: z.string().regex(/^\d{1,15}$/, 'must be an event id (a stream sequence number)').optional(),
});
export type TelemetryStreamQuery = z.infer<typeof TelemetryStreamQuery>;

/** `data:` of one SSE event; its `id:` is `seq`, the TELEMETRY stream sequence, and its `event:` the kind. */
export const TelemetryStreamEvent = z.strictObject({
  seq: z.number().int().positive(),
  satellite: SatelliteName,
  kind: z.string(),
  body: z.unknown(),
});
export type TelemetryStreamEvent = z.infer<typeof TelemetryStreamEvent>;
