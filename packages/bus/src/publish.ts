// Publishing: every message carries its schema header, a dedupe id and the W3C trace context.
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { messageSchemas, schemaHeader, subjects, SCHEMA_HEADER, type MessageOf, type MessageType } from '@uplink/contracts';
import { injectTraceContext } from '@uplink/observability';
import { BusError, BusErrorCode } from './errors.js';

export interface PublishOptions {
  /** `Nats-Msg-Id`: the stream drops a second message with the same id inside its dedupe window */
  msgId?: string;
  /** JetStream domain to address the PubAck request to (only changes the API prefix) */
  domain?: string;
  /** @default 5_000 */
  timeoutMs?: number;
  /** extra headers */
  headers?: Record<string, string>;
  /** validate the body against its schema before sending @default true */
  validate?: boolean;
}

/**
 * Headers of a message: its schema, `extra`, and the current W3C trace context. `trace` passes that
 * context ready made (from `traceHeaders()`), for a batch of many messages sent in one trace.
 */
export function messageHeaders(type: MessageType, extra: Record<string, string> = {}, trace?: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  h.set(SCHEMA_HEADER, schemaHeader(type));
  for (const [k, v] of Object.entries(extra)) h.set(k, v);
  if (trace) for (const [k, v] of Object.entries(trace)) h.set(k, v);
  else injectTraceContext((k, v) => h.set(k, v));
  return h;
}

/** The current W3C trace context as headers (`traceparent`, `tracestate`), once for many messages. */
export function traceHeaders(): Record<string, string> {
  const out: Record<string, string> = {};
  injectTraceContext((k, v) => (out[k] = v));
  return out;
}

export function encodeBody<T extends MessageType>(type: T, body: MessageOf<T>, validate = true): Uint8Array {
  if (validate) {
    const versions = messageSchemas[type] as Record<number, { safeParse(v: unknown): { success: boolean; error?: { message: string } } }>;
    const latest = versions[Math.max(...Object.keys(versions).map(Number))]!;
    const r = latest.safeParse(body);
    if (!r.success) throw new BusError(BusErrorCode.PUBLISH_FAILED, `refusing to publish an invalid ${type}: ${r.error?.message}`);
  }
  return new TextEncoder().encode(JSON.stringify(body));
}

const clients = new WeakMap<NatsConnection, Map<string, JetStreamClient>>();

/** A cached JetStream client per connection and domain. */
export function jsFor(nc: NatsConnection, domain?: string): JetStreamClient {
  let byDomain = clients.get(nc);
  if (!byDomain) clients.set(nc, (byDomain = new Map()));
  const key = domain ?? '';
  let js = byDomain.get(key);
  if (!js) byDomain.set(key, (js = jetstream(nc, domain ? { domain } : {})));
  return js;
}

/** JetStream publish of a typed message; resolves with the PubAck (duplicate=true when deduped). */
export async function publishMessage<T extends MessageType>(
  nc: NatsConnection,
  subject: string,
  type: T,
  body: MessageOf<T>,
  opts: PublishOptions = {},
): Promise<PubAck> {
  const data = encodeBody(type, body, opts.validate ?? true);
  try {
    return await jsFor(nc, opts.domain).publish(subject, data, {
      headers: messageHeaders(type, opts.headers),
      ...(opts.msgId ? { msgID: opts.msgId } : {}),
      timeout: opts.timeoutMs ?? 5_000,
    });
  } catch (err) {
    throw new BusError(BusErrorCode.PUBLISH_FAILED, `publish to ${subject} failed: ${(err as Error).message}`, { cause: err, subject });
  }
}

/**
 * Put a message into the site's OUTBOX on its leaf server (JetStream domain = the site name). The
 * forwarder ships it to the hub with the same `Nats-Msg-Id`, so a message is stored at most once
 * however often it is forwarded. Returns the id.
 */
export async function publishToOutbox<T extends MessageType>(
  nc: NatsConnection,
  satellite: string,
  kind: string,
  type: T,
  body: MessageOf<T>,
  opts: { msgId?: string; timeoutMs?: number } = {},
): Promise<string> {
  const msgId = opts.msgId ?? randomUUID();
  await publishMessage(nc, subjects.outbox(satellite, kind), type, body, { msgId, domain: satellite, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  return msgId;
}
