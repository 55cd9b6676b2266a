// OUTBOX limits: how much of the oldest telemetry (then, only when no telemetry is left, of the
// oldest results) must go so that both streams together fit the configured bytes. Pure planning;
// forwarder.ts applies the plan with purges.

export interface StreamDepth {
  messages: number;
  bytes: number;
}

export interface TrimPlan {
  /** oldest telemetry messages to drop */
  telemetry: number;
  /** oldest results to drop (only when all telemetry goes too) */
  results: number;
}

/** Messages to drop, estimated from each stream's average message size, so the total fits `maxBytes`. */
export function planByteTrim(telemetry: StreamDepth, results: StreamDepth, maxBytes: number): TrimPlan {
  let excess = telemetry.bytes + results.bytes - maxBytes;
  if (excess <= 0) return { telemetry: 0, results: 0 };
  const fromTelemetry = take(telemetry, excess);
  excess -= fromTelemetry === telemetry.messages ? telemetry.bytes : fromTelemetry * avg(telemetry);
  const fromResults = excess > 0 ? take(results, excess) : 0;
  return { telemetry: fromTelemetry, results: fromResults };
}

function avg(s: StreamDepth): number {
  return s.messages > 0 ? s.bytes / s.messages : 0;
}

function take(s: StreamDepth, excess: number): number {
  if (s.messages === 0 || s.bytes === 0) return 0;
  return Math.min(s.messages, Math.ceil(excess / avg(s)));
}

/**
 * The first sequence whose message is not older than `cutoffMs`, by binary search over stored
 * messages (`nextAt(seq)` = the first stored message at or after seq, or null). Everything before
 * it is older. Relies on stream order being time order, which JetStream guarantees for one stream.
 */
export async function firstSeqNotOlderThan(
  range: { first_seq: number; last_seq: number },
  cutoffMs: number,
  nextAt: (seq: number) => Promise<{ seq: number; timeMs: number } | null>,
): Promise<number> {
  let lo = range.first_seq;
  let hi = range.last_seq + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const m = await nextAt(mid);
    if (m && m.timeMs < cutoffMs) lo = m.seq + 1;
    else hi = mid;
  }
  return Math.min(lo, range.last_seq + 1);
}
