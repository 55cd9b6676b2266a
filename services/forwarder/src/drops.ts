// Counts messages that left an OUTBOX stream without being forwarded (discarded by its limits or
// purged to keep within them). nats-server 2.9 keeps no discard counter, so the forwarder remembers
// the stream sequence up to which every message was either forwarded or counted, and counts every
// sequence it never got to forward. Valid because the streams are work queues read by one consumer
// in sequence order, whose only other removals are from the head (limits, purges).

export interface DropTracker {
  /** messages counted as dropped so far (sequences skipped by forwarded batches) */
  readonly counted: number;
  /** every sequence up to this one was forwarded or counted */
  readonly settledUpTo: number;
  /** a batch was forwarded and acked: count the sequences it skipped (ascending `seqs`) */
  settle(seqs: readonly number[]): number;
  /**
   * Dropped messages not yet counted by a forwarded batch, from the stream's current state: the
   * messages between the settled sequence and the stream's first one are gone.
   */
  pending(state: { messages: number; first_seq: number; last_seq: number }): number;
}

export function createDropTracker(settledUpTo: number): DropTracker {
  let settled = settledUpTo;
  let counted = 0;
  return {
    get counted() {
      return counted;
    },
    get settledUpTo() {
      return settled;
    },
    settle(seqs) {
      let skipped = 0;
      for (const seq of seqs) {
        if (seq <= settled) continue;
        skipped += seq - settled - 1;
        settled = seq;
      }
      counted += skipped;
      return skipped;
    },
    pending(state) {
      // an empty stream reports first_seq = last_seq + 1
      const firstStored = state.messages === 0 ? state.last_seq + 1 : state.first_seq;
      return Math.max(0, firstStored - 1 - settled);
    },
  };
}
