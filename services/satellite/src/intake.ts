// Intake of desired states from the hub (live over core interest, or fetched by catch-up): validate,
// dead-letter what can never apply, drop what is not newer, record the rest in STATE_LOCAL unchanged.
import { createHash } from 'node:crypto';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { decodeMessage, SCHEMA_HEADER, subjects, type DesiredState } from '@uplink/contracts';
import { deadLetter, jsFor } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { SatelliteMetrics } from './metrics.js';
import { planIntake } from './plan.js';

export type IntakeSource = 'live' | 'catchup';
export type IntakeOutcome = 'recorded' | 'ignored' | 'dead-lettered';

export interface ReceivedState {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs | undefined;
}

export interface Intake {
  /**
   * Handle one state from the hub. Resolves with what was done; rejects only when STATE_LOCAL did not
   * take a state that should be recorded (the caller retries through catch-up).
   */
  receive(source: IntakeSource, msg: ReceivedState): Promise<IntakeOutcome>;
  /** the highest revision recorded in STATE_LOCAL or applied */
  readonly highestRecorded: number;
}

export interface IntakeOptions {
  nc: NatsConnection;
  satellite: string;
  logger: Logger;
  metrics: SatelliteMetrics;
  /** highest revision already recorded (STATE_LOCAL or applied) at start */
  highestRecorded: number;
  /** called with each state recorded in STATE_LOCAL */
  onRecorded?: (state: DesiredState) => void;
  /** @default 5_000 */
  publishTimeoutMs?: number;
}

/** how many dead-letter keys are remembered, so a bad state fetched again by catch-up is stored once */
const DEAD_KEYS_KEPT = 256;

export function createIntake(opts: IntakeOptions): Intake {
  const { nc, satellite, metrics } = opts;
  const log = opts.logger;
  let highest = opts.highestRecorded;
  const deadKeys = new Set<string>();
  let queue: Promise<unknown> = Promise.resolve();

  async function reject(source: IntakeSource, msg: ReceivedState, reason: string): Promise<IntakeOutcome> {
    const key = createHash('sha256')
      .update(msg.headers?.get(SCHEMA_HEADER) ?? '')
      .update('\n')
      .update(msg.data)
      .digest('hex')
      .slice(0, 32);
    if (deadKeys.has(key)) {
      log.debug({ subject: msg.subject, source, reason }, 'rejected state seen again, already dead-lettered');
      return 'dead-lettered';
    }
    log.warn({ subject: msg.subject, source, reason }, 'desired state dead-lettered');
    metrics.statesDeadLettered.inc();
    const stored = await deadLetter(nc, {
      stream: 'STATE',
      subject: msg.subject,
      data: msg.data,
      headers: withoutNatsHeaders(msg.headers),
      reason,
      msgId: `dead:STATE:${satellite}:${key}`,
      domain: satellite,
      logger: log,
    });
    if (stored) {
      deadKeys.add(key);
      if (deadKeys.size > DEAD_KEYS_KEPT) deadKeys.delete(deadKeys.values().next().value!);
    }
    return 'dead-lettered';
  }

  async function handle(source: IntakeSource, msg: ReceivedState): Promise<IntakeOutcome> {
    metrics.statesReceived.inc({ source });
    const decoded = decodeMessage('desired-state', msg.headers?.get(SCHEMA_HEADER) || undefined, msg.data);
    if (!decoded.ok) return reject(source, msg, decoded.reason);
    const state = decoded.value;
    const decision = planIntake(satellite, highest, state);
    switch (decision.action) {
      case 'reject':
        return reject(source, msg, decision.reason);
      case 'ignore':
        log.debug({ subject: msg.subject, source, revision: state.revision, reason: decision.reason }, 'desired state not newer, ignored');
        metrics.statesSkipped.inc({ stage: 'intake' });
        return 'ignored';
      case 'record': {
        const h = withoutNatsHeaders(msg.headers);
        await jsFor(nc, satellite).publish(subjects.localState(satellite), msg.data, {
          headers: h,
          msgID: `${satellite}:${state.revision}`,
          timeout: opts.publishTimeoutMs ?? 5_000,
        });
        highest = Math.max(highest, state.revision);
        log.info({ subject: msg.subject, source, revision: state.revision, digest: state.digest }, 'desired state recorded');
        opts.onRecorded?.(state);
        return 'recorded';
      }
    }
  }

  return {
    receive(source, msg) {
      // one at a time: the "newer than recorded" check and the record must not interleave
      const run = queue.then(() => handle(source, msg));
      queue = run.catch(() => undefined);
      return run;
    },
    get highestRecorded() {
      return highest;
    },
  };
}

/**
 * The message's own headers (schema, trace context), without the `Nats-*` ones the hub stream or a
 * direct get added (stream, sequence, dedupe id): they would mean something else on republish.
 */
function withoutNatsHeaders(src: MsgHdrs | undefined): MsgHdrs {
  const h = natsHeaders();
  for (const [k, vs] of src ? [...src] : []) {
    if (k.toLowerCase().startsWith('nats-')) continue;
    for (const v of vs) h.append(k, v);
  }
  return h;
}
