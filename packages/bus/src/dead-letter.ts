// Dead-lettering: a message that can never succeed is copied to `uplink.dead.<stream>` with its reason,
// so an operator can see what was rejected and why. Used by the consumer runner and by edge intake.
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { subjects } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { jsFor } from './publish.js';

export interface DeadLetterOptions {
  /** stream the message came from or was meant for: it is stored under `uplink.dead.<stream>` */
  stream: string;
  /** subject the message was received on */
  subject: string;
  data: Uint8Array;
  /** original headers, copied onto the dead letter */
  headers?: MsgHdrs | undefined;
  /** why the message was rejected (set as `Uplink-Dead-Reason`) */
  reason: string;
  /** stream sequence of the original message, when it had one */
  sequence?: number | undefined;
  /** dedupe id of the dead letter */
  msgId?: string | undefined;
  /** JetStream domain whose DEAD stream should acknowledge it (a site's leaf, or the hub) */
  domain?: string | undefined;
  logger?: Logger | undefined;
}

/**
 * Store a rejected message in the DEAD stream with `Uplink-Dead-*` headers (reason, subject, stream,
 * sequence). Never throws: when no DEAD stream answers, the dead letter is still published on core
 * NATS for anyone listening. Resolves true when a DEAD stream acknowledged it.
 */
export async function deadLetter(nc: NatsConnection, opts: DeadLetterOptions): Promise<boolean> {
  const h = natsHeaders();
  for (const [k, vs] of opts.headers ? [...opts.headers] : []) for (const v of vs) h.append(k, v);
  h.set('Uplink-Dead-Reason', opts.reason.replace(/[\r\n]+/g, '; ').slice(0, 2_000));
  h.set('Uplink-Dead-Subject', opts.subject);
  h.set('Uplink-Dead-Stream', opts.stream);
  if (opts.sequence !== undefined) h.set('Uplink-Dead-Sequence', String(opts.sequence));
  const subject = subjects.dead(opts.stream);
  try {
    await jsFor(nc, opts.domain).publish(subject, opts.data, { headers: h, ...(opts.msgId ? { msgID: opts.msgId } : {}) });
    return true;
  } catch (err) {
    // no DEAD stream reachable: still tell anyone listening
    opts.logger?.error({ err, subject: opts.subject }, 'dead-letter stream unavailable');
    try {
      if (!nc.isClosed()) nc.publish(subject, opts.data, { headers: h });
    } catch {
      // connection closing: nothing more to do
    }
    return false;
  }
}
