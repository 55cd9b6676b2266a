// Staged rollout planning, a pure function (AWS IoT Jobs semantics): which targets to release now, and
// whether the failure rate so far aborts the rest.
import type { TargetStatus } from '@uplink/contracts';

export interface RolloutRules {
  /** release the next batch once every released target has finished */
  batchSize?: number | undefined;
  /** release at most this many targets in any 60 s */
  maxPerMinute?: number | undefined;
  /** abort when failures/executed (percent) exceeds this */
  abortFailurePercent: number;
  /** ... once at least this many targets executed */
  minExecuted: number;
}

export interface RolloutTarget {
  satellite: string;
  status: TargetStatus;
  /** epoch ms when released to its site, null while held back */
  releasedAt: number | null;
}

export interface RolloutPlan {
  /** satellites to release now, in rollout order */
  release: string[];
  /** set when the failure threshold was crossed: the rest is cancelled */
  abort?: { reason: string; cancel: string[] };
  /** epoch ms when a rate-limited rollout can release more; undefined when nothing waits on time */
  nextAt?: number;
}

const FAILURES: readonly TargetStatus[] = ['failed', 'timed_out', 'rejected'];
const EXECUTED: readonly TargetStatus[] = ['succeeded', ...FAILURES];
const FINISHED: readonly TargetStatus[] = [...EXECUTED, 'expired', 'cancelled'];
const MINUTE_MS = 60_000;

/** Executed targets (succeeded or failed in any way) and failures among them. */
export function rolloutStats(targets: readonly RolloutTarget[]): { executed: number; failures: number } {
  let executed = 0;
  let failures = 0;
  for (const t of targets) {
    if (EXECUTED.includes(t.status)) executed++;
    if (FAILURES.includes(t.status)) failures++;
  }
  return { executed, failures };
}

/**
 * Plan the next step of a rollout over `targets` (in rollout order). Without rules every target is
 * released at once. With rules: abort when, after `minExecuted` executions, failures/executed exceeds
 * `abortFailurePercent` — every target still `queued` (held back, or released but not yet at its
 * site) is cancelled; otherwise release the next batch (when the previous one has finished) or as
 * many as the per-minute rate allows.
 */
export function planRollout(rules: RolloutRules | null | undefined, targets: readonly RolloutTarget[], now: number): RolloutPlan {
  const held = targets.filter((t) => t.releasedAt === null && t.status === 'queued');
  if (!rules) return { release: held.map((t) => t.satellite) };

  const { executed, failures } = rolloutStats(targets);
  if (executed >= rules.minExecuted && executed > 0 && (failures * 100) / executed > rules.abortFailurePercent) {
    const percent = Math.round((failures * 1000) / executed) / 10;
    return {
      release: [],
      abort: {
        reason: `${failures} of ${executed} executed targets failed (${percent}% > ${rules.abortFailurePercent}%)`,
        cancel: targets.filter((t) => t.status === 'queued').map((t) => t.satellite),
      },
    };
  }
  if (held.length === 0) return { release: [] };

  if (rules.batchSize !== undefined) {
    const released = targets.filter((t) => t.releasedAt !== null);
    if (released.some((t) => !FINISHED.includes(t.status))) return { release: [] };
    return { release: held.slice(0, rules.batchSize).map((t) => t.satellite) };
  }

  if (rules.maxPerMinute !== undefined) {
    const recent = targets
      .map((t) => t.releasedAt)
      .filter((at): at is number => at !== null && at > now - MINUTE_MS)
      .sort((a, b) => a - b);
    const room = Math.max(0, rules.maxPerMinute - recent.length);
    const release = held.slice(0, room).map((t) => t.satellite);
    if (release.length === held.length) return { release };
    // the window is full now: a slot frees when the oldest of the last `maxPerMinute` releases leaves it
    const window = [...recent, ...release.map(() => now)];
    return { release, nextAt: window[Math.max(0, window.length - rules.maxPerMinute)]! + MINUTE_MS };
  }
  return { release: held.map((t) => t.satellite) };
}
