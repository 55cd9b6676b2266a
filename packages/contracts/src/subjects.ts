// Subject builders (ARCHITECTURE §3). Every subject the system uses is built here.
import { NAME_PATTERN } from './names.js';

function token(name: string, what: string): string {
  if (!NAME_PATTERN.test(name)) throw new TypeError(`invalid ${what} name for a subject: ${JSON.stringify(name)}`);
  return name;
}

export const subjects = {
  state: (sat: string) => `uplink.state.${token(sat, 'satellite')}`,
  stateAll: 'uplink.state.*',
  /** local-only subject of a site's STATE_LOCAL stream: never the hub stream's subject (NATS-NOTES "two PubAcks") */
  localState: (sat: string) => `uplink.local.state.${token(sat, 'satellite')}`,
  cmd: (sat: string) => `uplink.cmd.${token(sat, 'satellite')}`,
  localCmd: (sat: string) => `uplink.local.cmd.${token(sat, 'satellite')}`,
  telemetry: (sat: string, kind: string) => `uplink.telemetry.${token(sat, 'satellite')}.${token(kind, 'kind')}`,
  telemetryAll: 'uplink.telemetry.>',
  telemetryKind: (kind: string) => `uplink.telemetry.*.${token(kind, 'kind')}`,
  result: (sat: string) => `uplink.result.${token(sat, 'satellite')}`,
  outbox: (sat: string, kind: string) => `uplink.outbox.${token(sat, 'satellite')}.${token(kind, 'kind')}`,
  outboxAll: (sat: string) => `uplink.outbox.${token(sat, 'satellite')}.>`,
  events: (entity: string, verb: string) => `uplink.events.${token(entity, 'entity')}.${token(verb, 'verb')}`,
  dead: (stream: string) => `uplink.dead.${stream}`,
  rpc: (service: string, method: string) => `uplink.rpc.${token(service, 'service')}.${method}`,
} as const;

/**
 * Where the forwarder ships an OUTBOX message of a kind: command results to RESULTS, everything
 * else to TELEMETRY under the same kind.
 */
export function outboxTarget(sat: string, kind: string): string {
  return kind === 'result' ? subjects.result(sat) : subjects.telemetry(sat, kind);
}

/** The satellite name in `uplink.<kind>.<sat>[...]`, or undefined. */
export function satelliteOf(subject: string): string | undefined {
  const parts = subject.split('.');
  if (parts[0] !== 'uplink') return undefined;
  const sat = parts[1] === 'local' ? parts[3] : parts[2];
  return sat && NAME_PATTERN.test(sat) ? sat : undefined;
}
