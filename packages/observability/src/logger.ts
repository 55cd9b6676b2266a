// Structured logging: one JSON event per line, with the fields the style asks for
// (satellite, subject, revision, traceId).
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { currentTraceId } from './tracing.js';

export type { Logger };

export interface LoggerOptions {
  /** service name, set as `service` on every line */
  service: string;
  /** @default process.env.LOG_LEVEL ?? 'info' */
  level?: LevelWithSilent;
  /** extra fields on every line */
  base?: Record<string, unknown>;
  /** where lines go @default stdout */
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? ((process.env.LOG_LEVEL as LevelWithSilent | undefined) ?? 'info'),
    base: { service: opts.service, pid: process.pid, ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    // the trace the line was written in (a bus message's, or an RPC's carried from the gateway)
    mixin: () => {
      const traceId = currentTraceId();
      return traceId ? { traceId } : {};
    },
    redact: { paths: ['*.password', '*.token', '*.adminToken', 'password', 'token', 'authorization', '*.authorization'], censor: '[redacted]' },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
