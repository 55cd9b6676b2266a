import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { currentTraceId, withNewTrace } from './tracing.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

describe('logger', () => {
  it('writes the current trace id on each line written inside a trace, and none outside', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 'test', level: 'info', destination });
    log.info('outside');
    let id: string | undefined;
    await withNewTrace(async () => {
      id = currentTraceId();
      log.child({ component: 'x' }).info({ n: 1 }, 'inside');
    });
    await new Promise((r) => setImmediate(r));
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(lines.find((l) => l.msg === 'outside')).not.toHaveProperty('traceId');
    expect(lines.find((l) => l.msg === 'inside')).toMatchObject({ traceId: id, component: 'x', n: 1, service: 'test' });
  });

  it('redacts secrets', async () => {
    const { lines, destination } = capture();
    createLogger({ service: 'test', level: 'info', destination }).info({ password: 'p', req: { authorization: 'Bearer x' } }, 'login');
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({ password: '[redacted]', req: { authorization: '[redacted]' } });
  });
});
