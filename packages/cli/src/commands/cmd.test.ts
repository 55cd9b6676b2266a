import { describe, expect, it } from 'vitest';
import { parseCommandArgs, parseCommandTarget, parseDeadline } from './cmd.js';

describe('uplink cmd parsing', () => {
  it('reads targets', () => {
    expect(parseCommandTarget('sat:edge-01')).toEqual({ satellite: 'edge-01' });
    expect(parseCommandTarget('edge-01')).toEqual({ satellite: 'edge-01' });
    expect(parseCommandTarget('group:line-1')).toEqual({ group: 'line-1' });
    expect(parseCommandTarget('label:site=x,tier=edge')).toEqual({ selector: { site: 'x', tier: 'edge' } });
    expect(parseCommandTarget('fleet')).toEqual({ selector: {} });
    expect(() => parseCommandTarget('host:x')).toThrow(/sat:<name>/);
    expect(() => parseCommandTarget('label:site')).toThrow(/key=value/);
  });

  it('reads key=value arguments as JSON where they are JSON, merged over --args', () => {
    expect(parseCommandArgs(['level=debug', 'delayMs=500', 'remove=true', 'name=007x'], '{"a":1,"level":"info"}')).toEqual({
      a: 1,
      level: 'debug',
      delayMs: 500,
      remove: true,
      name: '007x',
    });
    expect(() => parseCommandArgs(['novalue'])).toThrow(/key=value/);
    expect(() => parseCommandArgs([], '[1]')).toThrow(/JSON object/);
  });

  it('reads deadlines as ISO times or durations', () => {
    expect(parseDeadline('30m', 0)).toBe(new Date(30 * 60_000).toISOString());
    expect(parseDeadline('2026-01-02T03:04:05+01:00')).toBe('2026-01-02T02:04:05.000Z');
    expect(() => parseDeadline('soon')).toThrow(/duration/);
  });
});
