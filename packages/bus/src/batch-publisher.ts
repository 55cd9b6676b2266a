// Batched JetStream publishing: a batch goes out as plain publishes whose reply subjects share one
// subscription, under one deadline. Same wire protocol as `js.publish` (the stream answers each with a
// PubAck, the server answers 503 when nobody listens), without a request, timer and promise per
// message, which is most of the forwarder's CPU per message at drain rates.
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { PubAck } from '@nats-io/jetstream';

export interface Outgoing {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
}

/** `permanent`: the stream refused this message and always will (too large), unlike timeouts or an unreachable hub */
export type PublishOutcome = { ok: true; ack: PubAck } | { ok: false; error: string; permanent?: boolean };

/** JetStream's "message size exceeds maximum allowed" */
const MESSAGE_TOO_LARGE = 10054;

export interface BatchPublisher {
  /** publish in order; resolves when every message has its outcome or the deadline passed */
  publish(batch: readonly Outgoing[], timeoutMs: number): Promise<PublishOutcome[]>;
  close(): void;
}

interface Pending {
  id: number;
  outcomes: (PublishOutcome | undefined)[];
  remaining: number;
  done: () => void;
}

export function createBatchPublisher(nc: NatsConnection): BatchPublisher {
  const prefix = `${createInbox()}.`;
  let batchId = 0;
  let current: Pending | undefined;

  const sub: Subscription = nc.subscribe(`${prefix}>`, {
    callback: (_err, m) => {
      const p = current;
      if (!p) return;
      // <prefix><batch>.<index>: answers to an abandoned batch are ignored
      const rest = m.subject.slice(prefix.length);
      const dot = rest.indexOf('.');
      if (Number(rest.slice(0, dot)) !== p.id) return;
      const i = Number(rest.slice(dot + 1));
      if (!(i >= 0 && i < p.outcomes.length) || p.outcomes[i]) return;
      p.outcomes[i] = outcomeOf(m.headers, m.data);
      if (--p.remaining === 0) p.done();
    },
  });

  return {
    async publish(batch, timeoutMs) {
      const id = ++batchId;
      const outcomes: (PublishOutcome | undefined)[] = new Array(batch.length).fill(undefined);
      let timer: NodeJS.Timeout | undefined;
      const finished = new Promise<void>((resolve) => {
        current = { id, outcomes, remaining: batch.length, done: resolve };
        timer = setTimeout(resolve, timeoutMs);
      });
      try {
        for (let i = 0; i < batch.length; i++) {
          const o = batch[i]!;
          nc.publish(o.subject, o.data, { headers: o.headers, reply: `${prefix}${id}.${i}` });
        }
        if (batch.length > 0) await finished;
      } catch (err) {
        // connection closed or draining: what was not answered failed
        const error = (err as Error).message;
        for (let i = 0; i < outcomes.length; i++) outcomes[i] ??= { ok: false, error };
      } finally {
        clearTimeout(timer);
        if (current?.id === id) current = undefined;
      }
      return outcomes.map((o) => o ?? { ok: false, error: `no PubAck within ${timeoutMs} ms` });
    },
    close() {
      sub.unsubscribe();
    },
  };
}

const utf8 = new TextDecoder();

function outcomeOf(h: MsgHdrs | undefined, data: Uint8Array): PublishOutcome {
  if (h?.hasError) {
    const why = h.code === 503 ? 'no responders: the hub is not reachable over the leaf link' : `${h.code} ${h.description}`;
    return { ok: false, error: why };
  }
  try {
    const j = JSON.parse(utf8.decode(data)) as Partial<PubAck> & { error?: { code?: number; err_code?: number; description?: string } };
    if (j.error) {
      const error = `${j.error.code ?? ''} ${j.error.description ?? 'stream error'}`.trim();
      return j.error.err_code === MESSAGE_TOO_LARGE ? { ok: false, error, permanent: true } : { ok: false, error };
    }
    if (typeof j.stream !== 'string' || typeof j.seq !== 'number') return { ok: false, error: 'malformed PubAck' };
    return { ok: true, ack: { stream: j.stream, seq: j.seq, duplicate: j.duplicate === true, ...(j.domain ? { domain: j.domain } : {}) } };
  } catch {
    return { ok: false, error: 'malformed PubAck' };
  }
}
