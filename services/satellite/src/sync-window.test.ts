import { describe, expect, it } from 'vitest';
import { inSyncWindow, nextSyncWindowAt, parseSyncWindow, syncWindowState } from './sync-window.js';

const at = (hhmm: string, day = '2030-05-17') => Date.parse(`${day}T${hhmm}:00.000Z`);
const w = (...windows: string[]) => windows.map((window) => ({ window }));

describe('sync windows', () => {
  it('no window means always', () => {
    expect(inSyncWindow([], at('03:00'))).toBe(true);
    expect(syncWindowState([], at('03:00'))).toEqual({ open: true, invalid: [] });
  });

  it('a window within the day includes its start and excludes its end', () => {
    const win = w('01:00-05:30');
    expect(inSyncWindow(win, at('00:59'))).toBe(false);
    expect(inSyncWindow(win, at('01:00'))).toBe(true);
    expect(inSyncWindow(win, at('05:29') + 59_000)).toBe(true);
    expect(inSyncWindow(win, at('05:30'))).toBe(false);
    expect(syncWindowState(win, at('02:00'))).toEqual({ open: true, closesAt: at('05:30'), invalid: [] });
    // closed: the next start today, or tomorrow once today's has passed
    expect(syncWindowState(win, at('00:10'))).toEqual({ open: false, nextOpenAt: at('01:00'), invalid: [] });
    expect(nextSyncWindowAt(win, at('06:00'))).toBe(at('01:00', '2030-05-18'));
  });

  it('a window crossing midnight is open on both sides of it', () => {
    const win = w('22:00-06:00');
    expect(inSyncWindow(win, at('21:59'))).toBe(false);
    expect(inSyncWindow(win, at('22:00'))).toBe(true);
    expect(inSyncWindow(win, at('23:59'))).toBe(true);
    expect(inSyncWindow(win, at('00:00'))).toBe(true);
    expect(inSyncWindow(win, at('05:59'))).toBe(true);
    expect(inSyncWindow(win, at('06:00'))).toBe(false);
    expect(inSyncWindow(win, at('12:00'))).toBe(false);
    // open before midnight: it closes tomorrow morning
    expect(syncWindowState(win, at('23:00')).closesAt).toBe(at('06:00', '2030-05-18'));
    // open after midnight: it closes this morning
    expect(syncWindowState(win, at('01:00')).closesAt).toBe(at('06:00'));
    expect(syncWindowState(win, at('12:00')).nextOpenAt).toBe(at('22:00'));
  });

  it('several windows: open in any, the earliest next start when closed', () => {
    const win = w('12:00-13:00', '02:00-03:00', '23:30-00:15');
    expect(inSyncWindow(win, at('12:30'))).toBe(true);
    expect(inSyncWindow(win, at('00:10'))).toBe(true);
    expect(inSyncWindow(win, at('00:15'))).toBe(false);
    expect(nextSyncWindowAt(win, at('00:15'))).toBe(at('02:00'));
    expect(nextSyncWindowAt(win, at('03:00'))).toBe(at('12:00'));
    expect(nextSyncWindowAt(win, at('13:00'))).toBe(at('23:30'));
    expect(nextSyncWindowAt(win, at('12:30'))).toBe(at('12:30'));
  });

  it('equal start and end is the whole day; 24:00 ends at midnight', () => {
    expect(syncWindowState(w('04:00-04:00'), at('03:59'))).toEqual({ open: true, invalid: [] });
    const late = w('20:00-24:00');
    expect(inSyncWindow(late, at('23:59'))).toBe(true);
    expect(inSyncWindow(late, at('00:00'))).toBe(false);
    expect(syncWindowState(late, at('21:00')).closesAt).toBe(at('00:00', '2030-05-18'));
  });

  it('unreadable windows are ignored and reported; with none left it is always', () => {
    expect(parseSyncWindow('25:00-26:00')).toBeUndefined();
    expect(parseSyncWindow('10:60-11:00')).toBeUndefined();
    expect(parseSyncWindow('24:30-01:00')).toBeUndefined();
    expect(parseSyncWindow('23:00-24:00')).toEqual({ window: '23:00-24:00', start: 1_380, end: 1_440 });
    expect(syncWindowState(w('25:00-26:00'), at('03:00'))).toEqual({ open: true, invalid: ['25:00-26:00'] });
    expect(syncWindowState(w('25:00-26:00', '04:00-05:00'), at('03:00'))).toEqual({ open: false, nextOpenAt: at('04:00'), invalid: ['25:00-26:00'] });
  });
});
