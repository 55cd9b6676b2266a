// What the live telemetry feed sends: a TELEMETRY message as one SSE event, validated by the schema
// its header names. Pure.
import { decodeMessage, messageSchemas, satelliteOf, type MessageType, type TelemetryStreamEvent } from '@uplink/contracts';

/** The TELEMETRY filter subject of a feed: one satellite and/or one kind, else all. */
export function streamFilter(q: { satellite?: string | undefined; kind?: string | undefined }): string {
  return `uplink.telemetry.${q.satellite ?? '*'}.${q.kind ?? '*'}`;
}

/** Where a resumed feed starts: after the client's last event id, else after the stream's last message. */
export function startSequence(lastEventId: string | undefined, lastSeq: number): number {
  if (lastEventId !== undefined && /^\d{1,15}$/.test(lastEventId.trim())) return Number(lastEventId.trim()) + 1;
  return lastSeq + 1;
}

/** The event of a message, or undefined when it is not valid telemetry (those are never sent). */
export function toStreamEvent(m: { subject: string; seq: number; schema: string | undefined; data: Uint8Array }): TelemetryStreamEvent | undefined {
  const satellite = satelliteOf(m.subject);
  const kind = m.subject.split('.')[3];
  const type = m.schema?.split('/')[0];
  if (!satellite || !kind || !type || !(type in messageSchemas)) return undefined;
  const decoded = decodeMessage(type as MessageType, m.schema, m.data);
  if (!decoded.ok) return undefined;
  return { seq: m.seq, satellite, kind, body: decoded.value };
}

/** One SSE frame. */
export function sseFrame(e: TelemetryStreamEvent): string {
  return `id: ${e.seq}\nevent: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n`;
}

