// Stream and consumer specs as data (ARCHITECTURE §3). packages/bus provisions them idempotently.
import { subjects } from './subjects.js';
import { TelemetryKind } from './telemetry.js';

const SECOND_NS = 1_000_000_000;
const DAY_NS = 86_400 * SECOND_NS;

export interface StreamSpec {
  name: string;
  subjects: string[];
  retention: 'limits' | 'interest' | 'workqueue';
  storage: 'file' | 'memory';
  discard: 'old' | 'new';
  /** nanoseconds, 0 = unlimited */
  max_age: number;
  max_bytes: number;
  max_msgs_per_subject: number;
  /** nanoseconds */
  duplicate_window: number;
  allow_direct: boolean;
  num_replicas: number;
  description: string;
}

export interface ConsumerSpec {
  durable_name: string;
  filter_subject?: string;
  ack_policy: 'explicit';
  deliver_policy: 'all' | 'last_per_subject' | 'new';
  /** nanoseconds */
  ack_wait: number;
  max_deliver: number;
  max_ack_pending: number;
  description: string;
}

function stream(s: Partial<StreamSpec> & Pick<StreamSpec, 'name' | 'subjects' | 'description'>): StreamSpec {
  return {
    retention: 'limits',
    storage: 'file',
    discard: 'old',
    max_age: 0,
    max_bytes: -1,
    max_msgs_per_subject: -1,
    duplicate_window: 120 * SECOND_NS,
    allow_direct: false,
    num_replicas: 1,
    ...s,
  };
}

export const hubStreams = {
  STATE: stream({
    name: 'STATE',
    subjects: [subjects.stateAll],
    max_msgs_per_subject: 1,
    allow_direct: true,
    description: 'latest desired state per satellite',
  }),
  COMMANDS: stream({ name: 'COMMANDS', subjects: ['uplink.cmd.*'], max_age: 7 * DAY_NS, description: 'signed commands' }),
  TELEMETRY: stream({
    name: 'TELEMETRY',
    subjects: [subjects.telemetryAll],
    max_age: 3 * DAY_NS,
    max_bytes: 8 * 1024 ** 3,
    description: 'heartbeats and events from sites',
  }),
  RESULTS: stream({ name: 'RESULTS', subjects: ['uplink.result.*'], max_age: 7 * DAY_NS, description: 'command results' }),
  EVENTS: stream({ name: 'EVENTS', subjects: ['uplink.events.>'], max_age: 30 * DAY_NS, description: 'domain events and audit' }),
  DEAD: stream({ name: 'DEAD', subjects: ['uplink.dead.>'], max_age: 30 * DAY_NS, description: 'dead-lettered messages with reasons' }),
} as const satisfies Record<string, StreamSpec>;

/**
 * Streams on a site's leaf server (its own JetStream domain, named after the satellite).
 *
 * The edge-to-cloud buffer is two work-queue streams: OUTBOX holds telemetry (one subject per
 * telemetry kind) and OUTBOX_RESULTS holds command results (`uplink.outbox.<sat>.result`). Two
 * streams because queued results are forwarded before queued telemetry and are never discarded to
 * make room for it, which one stream with one limit cannot promise; the subjects are listed per kind
 * because NATS refuses streams with overlapping subjects (OUTBOX cannot take `uplink.outbox.<sat>.>`).
 * Work-queue retention deletes a message once the forwarder has acked it, so a stream's size is its
 * backlog. The configured limits (bytes over both streams, age of telemetry) are enforced by the
 * forwarder, which drops the oldest telemetry first and counts it; `outboxMaxBytes` is only a hard
 * cap for when no forwarder runs.
 */
export function siteStreams(sat: string, opts: { outboxMaxBytes?: number } = {}) {
  return {
    STATE_LOCAL: stream({
      name: 'STATE_LOCAL',
      subjects: [subjects.localState(sat)],
      max_msgs_per_subject: 1,
      description: 'latest desired state received from the hub',
    }),
    CMD_LOCAL: stream({ name: 'CMD_LOCAL', subjects: [subjects.localCmd(sat)], max_age: 7 * DAY_NS, description: 'commands for this site' }),
    OUTBOX: stream({
      name: 'OUTBOX',
      subjects: TelemetryKind.options.map((kind) => subjects.outbox(sat, kind)),
      retention: 'workqueue',
      max_bytes: opts.outboxMaxBytes ?? 512 * 1024 ** 2,
      description: 'edge to cloud buffer: telemetry',
    }),
    OUTBOX_RESULTS: stream({
      name: 'OUTBOX_RESULTS',
      subjects: [subjects.outbox(sat, 'result')],
      retention: 'workqueue',
      max_age: 7 * DAY_NS,
      max_bytes: 64 * 1024 ** 2,
      description: 'edge to cloud buffer: command results',
    }),
    DEAD: stream({ name: 'DEAD', subjects: ['uplink.dead.>'], max_age: 30 * DAY_NS, description: 'dead-lettered messages with reasons' }),
  } as const satisfies Record<string, StreamSpec>;
}

export function consumer(s: Partial<ConsumerSpec> & Pick<ConsumerSpec, 'durable_name' | 'description'>): ConsumerSpec {
  return {
    ack_policy: 'explicit',
    deliver_policy: 'all',
    ack_wait: 30 * SECOND_NS,
    max_deliver: -1,
    max_ack_pending: 1000,
    ...s,
  };
}

/** A durable consumer bound to its stream and the message type it reads. */
export interface DurableSpec {
  stream: string;
  type: import('./messages.js').MessageType;
  spec: ConsumerSpec;
}

/** Durable consumers of the hub, by durable name (what a NestJS `@EventPattern(name)` refers to). */
export const hubDurables = {
  'state-publisher-applied': {
    stream: 'TELEMETRY',
    type: 'state-applied',
    spec: consumer({
      durable_name: 'state-publisher-applied',
      filter_subject: subjects.telemetryKind('applied'),
      description: 'state-publisher records applied revisions',
    }),
  },
  'command-results': {
    stream: 'RESULTS',
    type: 'command-result',
    spec: consumer({ durable_name: 'command-results', description: 'command service records per-site command results', max_ack_pending: 4_096 }),
  },
  'telemetry-ingest-heartbeat': {
    stream: 'TELEMETRY',
    type: 'heartbeat',
    spec: consumer({
      durable_name: 'telemetry-ingest-heartbeat',
      filter_subject: subjects.telemetryKind('heartbeat'),
      description: 'telemetry-ingest stores heartbeats and keeps the latest status per site',
      max_ack_pending: 20_000,
    }),
  },
  'telemetry-ingest-sync': {
    stream: 'TELEMETRY',
    type: 'sync-event',
    spec: consumer({
      durable_name: 'telemetry-ingest-sync',
      filter_subject: subjects.telemetryKind('sync'),
      description: 'telemetry-ingest stores sync events',
      max_ack_pending: 20_000,
    }),
  },
  'registration-audit': {
    stream: 'EVENTS',
    type: 'audit-event',
    spec: consumer({ durable_name: 'registration-audit', filter_subject: 'uplink.events.audit.>', description: 'registration stores the audit trail' }),
  },
} as const satisfies Record<string, DurableSpec>;

/** Durable consumers of a site's leaf server. */
export const siteDurables = {
  satellite: {
    stream: 'STATE_LOCAL',
    type: 'desired-state',
    spec: consumer({ durable_name: 'satellite', description: 'satellite applies desired state', max_ack_pending: 1 }),
  },
  executor: {
    stream: 'CMD_LOCAL',
    type: 'command',
    spec: consumer({ durable_name: 'executor', description: 'executor runs commands', max_ack_pending: 64 }),
  },
} as const satisfies Record<string, DurableSpec>;
