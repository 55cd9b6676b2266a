// Intake of commands from the hub (live over core interest, or fetched by the pending catch-up) into
// CMD_LOCAL, under its local-only subject with the execution id as Nats-Msg-Id. A command this site
// already finished is not stored again: its stored result is sent again instead (the cloud may not
// have it yet). Storing reports `delivered`.
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { decodeMessage, SCHEMA_HEADER, SIGNATURE_HEADER, subjects, type CommandResult } from '@uplink/contracts';
import { deadLetter, jsFor } from '@uplink/bus';
import type { Logger } from '@uplink/observability';
import type { ExecutionStore } from './execution-store.js';
import type { CommandVerifier } from './verify.js';

export type IntakeSource = 'live' | 'catchup';
export type IntakeOutcome = 'stored' | 'duplicate' | 'resent' | 'running' | 'dead-lettered';

export interface ReceivedCommand {
  subject: string;
  data: Uint8Array;
  headers?: MsgHdrs | undefined;
}

export interface Intake {
  /** rejects only when CMD_LOCAL did not take the command (the catch-up fetches it again) */
  receive(source: IntakeSource, msg: ReceivedCommand): Promise<IntakeOutcome>;
}

export interface IntakeOptions {
  nc: NatsConnection;
  satellite: string;
  store: ExecutionStore;
  verifier: CommandVerifier;
  logger: Logger;
  /** send a result to OUTBOX (never throws; failures are logged) */
  report: (result: CommandResult) => Promise<void>;
  /** @default 5_000 */
  publishTimeoutMs?: number;
}

export function createIntake(opts: IntakeOptions): Intake {
  const { nc, satellite, store } = opts;
  const log = opts.logger;
  const js = jsFor(nc, satellite);

  return {
    async receive(source, msg) {
      const decoded = decodeMessage('command', msg.headers?.get(SCHEMA_HEADER) || undefined, msg.data);
      if (!decoded.ok) {
        log.warn({ subject: msg.subject, source, reason: decoded.reason }, 'command dead-lettered');
        await deadLetter(nc, { stream: 'CMD_LOCAL', subject: msg.subject, data: msg.data, headers: msg.headers, reason: decoded.reason, domain: satellite, logger: log });
        return 'dead-lettered';
      }
      const cmd = decoded.value;
      const rec = store.get(cmd.id);
      if (rec?.state === 'done' && rec.result) {
        log.debug({ executionId: cmd.id, source, status: rec.result.status }, 'command already finished here; result sent again');
        await opts.report(rec.result);
        return 'resent';
      }
      if (rec?.state === 'running') return 'running';
      const ack = await js.publish(subjects.localCmd(satellite), msg.data, {
        headers: ownHeaders(msg.headers),
        msgID: cmd.id,
        timeout: opts.publishTimeoutMs ?? 5_000,
      });
      if (ack.duplicate) return 'duplicate';
      log.info({ executionId: cmd.id, commandId: cmd.commandId, action: cmd.action, source }, 'command received');
      // `delivered` only for a command that verifies; anything else is rejected by the consumer
      if (cmd.satellite === satellite && opts.verifier.verify(msg.data, msg.headers?.get(SIGNATURE_HEADER) || undefined)) {
        await opts.report({ id: cmd.id, commandId: cmd.commandId, satellite, status: 'delivered', at: new Date().toISOString() });
      }
      return 'stored';
    },
  };
}

/** The message's own headers (schema, signature, trace context) without the `Nats-*` ones the hub added. */
function ownHeaders(src: MsgHdrs | undefined): MsgHdrs {
  const h = natsHeaders();
  for (const [k, vs] of src ? [...src] : []) {
    if (k.toLowerCase().startsWith('nats-')) continue;
    for (const v of vs) h.append(k, v);
  }
  return h;
}
