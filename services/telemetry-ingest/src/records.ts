// From a validated telemetry message to what is stored: the row of the telemetry table and, for
// heartbeats, the latest status of each site in a batch. Pure functions.
import { createHash } from 'node:crypto';
import { satelliteOf, type Heartbeat } from '@uplink/contracts';
import { InvalidMessageError } from '@uplink/bus';

type InventoryImage = NonNullable<Heartbeat['inventory']['images']>[number];

/** One message as it is written to the telemetry table. */
export interface TelemetryRecord {
  satellite: string;
  kind: string;
  /** the message's own time, as the site wrote it (ISO, UTC): the partition key */
  at: string;
  atMs: number;
  msgId: string;
  /** the body exactly as received (validated JSON text) */
  raw: string;
}

/** A heartbeat with the text it arrived as. */
export interface ReceivedHeartbeat {
  heartbeat: Heartbeat;
  raw: string;
  msgId: string;
  receivedAtMs: number;
}

/** The latest heartbeat of one site within a batch, and its newest full inventory. */
export interface LatestHeartbeat {
  satellite: string;
  /** `at` of the newest heartbeat, never later than when it was received (ms) */
  atMs: number;
  intervalSeconds: number;
  heartbeat: Heartbeat;
  /** the newest heartbeat's text and key in the telemetry table */
  raw: string;
  msgId: string;
  inventory: { atMs: number; images: InventoryImage[] } | undefined;
}

/** The kind token of `uplink.telemetry.<sat>.<kind>`. */
export function kindOf(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts.length === 4 && parts[0] === 'uplink' && parts[1] === 'telemetry' ? parts[3] : undefined;
}

/**
 * The stable id of a message: the site's OUTBOX id (Nats-Msg-Id) when it has one, else a hash of the
 * subject and body, which is just as stable when the same message is forwarded again.
 */
export function messageIdOf(natsMsgId: string | undefined, subject: string, raw: string): string {
  if (natsMsgId) return natsMsgId;
  return 'sha256:' + createHash('sha256').update(subject).update('\n').update(raw).digest('hex');
}

export interface RecordOptions {
  nowMs: number;
  /** later than now by more than this: refused */
  maxClockSkewMs: number;
}

/**
 * Check what the schema cannot (the body names the satellite of its subject; its time is sane) and
 * build the record. Throws InvalidMessageError, which dead-letters the message with the reason.
 */
export function toRecord(
  subject: string,
  body: { satellite: string; at: string },
  raw: string,
  natsMsgId: string | undefined,
  opts: RecordOptions,
): TelemetryRecord {
  const satellite = satelliteOf(subject);
  const kind = kindOf(subject);
  if (!satellite || !kind) throw new InvalidMessageError(`subject ${subject} is not uplink.telemetry.<satellite>.<kind>`, { subject });
  if (body.satellite !== satellite) {
    throw new InvalidMessageError(`body names satellite "${body.satellite}" but was sent on ${subject}`, { subject });
  }
  const atMs = Date.parse(body.at);
  // Date.parse rolls 2026-02-30 over into March; Postgres (rightly) refuses it
  if (!Number.isFinite(atMs) || new Date(atMs).toISOString().slice(0, 10) !== body.at.slice(0, 10)) {
    throw new InvalidMessageError(`"at" is not a valid time: ${JSON.stringify(body.at)}`, { subject });
  }
  if (atMs > opts.nowMs + opts.maxClockSkewMs) {
    throw new InvalidMessageError(`"at" ${body.at} is more than ${opts.maxClockSkewMs / 1000} s in the future`, { subject });
  }
  return { satellite, kind, at: body.at, atMs, msgId: messageIdOf(natsMsgId, subject, raw), raw };
}

/**
 * The newest heartbeat per site (by `at` clamped to `receivedAtMs`, then `seq`) and the newest one that carried a
 * full inventory, sorted by satellite so concurrent batches lock status rows in one order.
 */
export function latestPerSatellite(heartbeats: ReceivedHeartbeat[]): LatestHeartbeat[] {
  const bySat = new Map<string, LatestHeartbeat>();
  for (const { heartbeat, raw, msgId, receivedAtMs } of heartbeats) {
    const atMs = Math.min(Date.parse(heartbeat.at), receivedAtMs);
    const images = heartbeat.inventory.images;
    const prev = bySat.get(heartbeat.satellite);
    if (!prev) {
      bySat.set(heartbeat.satellite, {
        satellite: heartbeat.satellite,
        atMs,
        intervalSeconds: heartbeat.intervalSeconds,
        heartbeat,
        raw,
        msgId,
        inventory: images ? { atMs, images } : undefined,
      });
      continue;
    }
    // same millisecond: the heartbeat's seq decides
    const newer = atMs > prev.atMs || (atMs === prev.atMs && heartbeat.seq > prev.heartbeat.seq);
    if (newer) {
      prev.atMs = atMs;
      prev.intervalSeconds = heartbeat.intervalSeconds;
      prev.heartbeat = heartbeat;
      prev.raw = raw;
      prev.msgId = msgId;
    }
    if (images && (!prev.inventory || atMs > prev.inventory.atMs || (atMs === prev.inventory.atMs && newer))) prev.inventory = { atMs, images };
  }
  return [...bySat.values()].sort((a, b) => (a.satellite < b.satellite ? -1 : a.satellite > b.satellite ? 1 : 0));
}
