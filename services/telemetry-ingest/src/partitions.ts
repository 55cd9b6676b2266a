// Daily partitions of the telemetry table (telemetry_pYYYYMMDD, UTC days): which to create ahead,
// which a batch needs, which retention drops. Pure functions; telemetry-store.ts runs the SQL.

export const DAY_MS = 86_400_000;
const NAME = /^telemetry_p(\d{4})(\d{2})(\d{2})$/;

/** Start (UTC midnight, ms) of the day holding `ms`. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

export function partitionName(day: number): string {
  return 'telemetry_p' + new Date(day).toISOString().slice(0, 10).replace(/-/g, '');
}

/** The day of a partition name, or undefined for a table that is not one. */
export function partitionDay(name: string): number | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(ms) && partitionName(ms) === name ? ms : undefined;
}

/** First day kept: telemetry dated before it is not stored, and its partitions are dropped. */
export function retentionStart(nowMs: number, retentionDays: number): number {
  return dayOf(nowMs) - retentionDays * DAY_MS;
}

/** Yesterday (late arrivals are common), today and `aheadDays` days ahead. */
export function daysToPrepare(nowMs: number, aheadDays: number): number[] {
  const today = dayOf(nowMs);
  const days: number[] = [];
  for (let d = -1; d <= aheadDays; d++) days.push(today + d * DAY_MS);
  return days;
}

/** Partitions entirely older than the retention. */
export function partitionsToDrop(names: string[], nowMs: number, retentionDays: number): string[] {
  const keepFrom = retentionStart(nowMs, retentionDays);
  return names.filter((n) => {
    const day = partitionDay(n);
    return day !== undefined && day < keepFrom;
  }).sort();
}
