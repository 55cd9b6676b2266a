// Message types carried on the bus. Each message names its type and version in the `Uplink-Schema`
// header ("desired-state/1"); a consumer accepts the versions it knows and dead-letters the rest.
import { z } from 'zod';
import { DesiredState } from './desired-state.js';
import { Digest, Repository, SatelliteName } from './names.js';
import { Heartbeat, SyncEvent } from './telemetry.js';
import { Command, CommandEvent, CommandResult } from './commands.js';
import { AuditEvent } from './operators.js';

export const SCHEMA_HEADER = 'Uplink-Schema';
export const SIGNATURE_HEADER = 'Uplink-Signature';

export const StateApplied = z.strictObject({
  satellite: SatelliteName,
  revision: z.number().int().positive(),
  digest: Digest,
  at: z.iso.datetime(),
  /** per-artifact sync status at the time of the report (absent from older satellites) */
  artifacts: z
    .array(z.strictObject({ repository: Repository, digest: Digest, status: z.string().max(32), error: z.string().max(1_000).optional() }))
    .max(10_000)
    .optional(),
});
export type StateApplied = z.infer<typeof StateApplied>;

/** Every message type and the versions of it this build understands. */
export const messageSchemas = {
  'desired-state': { 1: DesiredState },
  'state-applied': { 1: StateApplied },
  heartbeat: { 1: Heartbeat },
  'sync-event': { 1: SyncEvent },
  command: { 1: Command },
  'command-result': { 1: CommandResult },
  'command-event': { 1: CommandEvent },
  'audit-event': { 1: AuditEvent },
} as const satisfies Record<string, Record<number, z.ZodType>>;

export type MessageType = keyof typeof messageSchemas;
export type MessageOf<T extends MessageType> = z.infer<(typeof messageSchemas)[T][1]>;

/** The current (newest) schema header value for a message type. */
export function schemaHeader(type: MessageType): string {
  const versions = Object.keys(messageSchemas[type]).map(Number);
  return `${type}/${Math.max(...versions)}`;
}

export type DecodeResult<T> = { ok: true; value: T; version: number } | { ok: false; reason: string };

/** Validate a message body against the schema its header names; `expected` restricts the type. */
const utf8 = new TextDecoder();

export function decodeMessage<T extends MessageType>(
  expected: T,
  header: string | undefined,
  body: Uint8Array | string,
): DecodeResult<MessageOf<T>> {
  if (!header) return { ok: false, reason: `missing ${SCHEMA_HEADER} header` };
  const m = /^([a-z][a-z0-9-]*)\/(\d+)$/.exec(header);
  if (!m) return { ok: false, reason: `malformed ${SCHEMA_HEADER} header ${JSON.stringify(header)}` };
  const [, type, v] = m;
  if (type !== expected) return { ok: false, reason: `unexpected message type ${type}, wanted ${expected}` };
  const version = Number(v);
  const schema = (messageSchemas[expected] as Record<number, z.ZodType>)[version];
  if (!schema) return { ok: false, reason: `unsupported version ${version} of ${type}` };
  let json: unknown;
  try {
    json = JSON.parse(typeof body === 'string' ? body : utf8.decode(body));
  } catch (err) {
    return { ok: false, reason: `body is not JSON: ${(err as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: `invalid ${type}/${version}: ${z.prettifyError(parsed.error)}` };
  return { ok: true, value: parsed.data as MessageOf<T>, version };
}
