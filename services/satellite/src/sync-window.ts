// Sync windows (desired state `config.syncWindows`, `[{ window: "HH:MM-HH:MM" }]` in UTC): when the
// satellite may fetch new content from upstream. Pure functions over a clock value.
//
// A window includes its start and excludes its end; a start later than the end crosses midnight
// ("22:00-06:00"); equal start and end mean the whole day; the end may be "24:00". No window at all
// means always. A window that cannot be read (e.g. "25:00-26:00") is ignored and reported.

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

export interface ParsedWindow {
  /** as written */
  window: string;
  /** minutes after 00:00 UTC */
  start: number;
  end: number;
}

export interface SyncWindowState {
  /** fetching new content is allowed now */
  open: boolean;
  /** when the next window opens (only when closed and some window is valid) */
  nextOpenAt?: number;
  /** when the current window closes (only when open and restricted) */
  closesAt?: number;
  /** windows that could not be read, ignored */
  invalid: string[];
}

const PATTERN = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/;

/** `"22:00-06:00"` -> minutes of the day, or undefined when it is not a time range. */
export function parseSyncWindow(window: string): ParsedWindow | undefined {
  const m = PATTERN.exec(window.trim());
  if (!m) return undefined;
  const [sh, sm, eh, em] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if (sh > 23 || sm > 59 || em > 59 || eh > 24 || (eh === 24 && em !== 0)) return undefined;
  return { window, start: sh * 60 + sm, end: eh * 60 + em };
}

function minuteOfDay(now: number): number {
  return Math.floor((((now % DAY_MS) + DAY_MS) % DAY_MS) / MINUTE_MS);
}

function within(w: ParsedWindow, minute: number): boolean {
  const end = w.end % 1_440;
  if (w.start === end) return true;
  return w.start < end ? minute >= w.start && minute < end : minute >= w.start || minute < end;
}

/** Is `now` (ms since epoch) inside one of `windows`? Empty (or only unreadable windows) = always. */
export function inSyncWindow(windows: readonly { window: string }[], now: number): boolean {
  return syncWindowState(windows, now).open;
}

/** Open or closed at `now`, and when that changes. */
export function syncWindowState(windows: readonly { window: string }[], now: number): SyncWindowState {
  const invalid: string[] = [];
  const valid: ParsedWindow[] = [];
  for (const w of windows) {
    const p = parseSyncWindow(w.window);
    if (p) valid.push(p);
    else invalid.push(w.window);
  }
  if (valid.length === 0) return { open: true, invalid };
  const minute = minuteOfDay(now);
  const midnight = now - (((now % DAY_MS) + DAY_MS) % DAY_MS);
  const open = valid.filter((w) => within(w, minute));
  if (open.length > 0) {
    if (open.some((w) => w.start === w.end % 1_440)) return { open: true, invalid };
    // the latest end among the open windows (overlapping windows are not chained: good enough to report)
    let closesAt = 0;
    for (const w of open) {
      const end = w.end % 1_440;
      const at = midnight + end * MINUTE_MS + (end <= minute ? DAY_MS : 0);
      closesAt = Math.max(closesAt, at);
    }
    return { open: true, closesAt, invalid };
  }
  let nextOpenAt = Number.POSITIVE_INFINITY;
  for (const w of valid) {
    let at = midnight + w.start * MINUTE_MS;
    if (at <= now) at += DAY_MS;
    nextOpenAt = Math.min(nextOpenAt, at);
  }
  return { open: false, nextOpenAt, invalid };
}

/** When fetching may start next: `now` when a window is open, else the next window's start. */
export function nextSyncWindowAt(windows: readonly { window: string }[], now: number): number {
  const s = syncWindowState(windows, now);
  return s.open ? now : (s.nextOpenAt ?? now);
}
