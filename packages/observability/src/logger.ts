// Structured logging: one JSON event per line, with the fields the style asks for
// (satellite, subject, revision, traceId).
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** service name, set as `service` on every line */
  service: string;
  /** @default process.env.LOG_LEVEL ?? 'info' */
  level?: LevelWithSilent;
  /** extra fields on every line */
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino({
    level: opts.level ?? ((process.env.LOG_LEVEL as LevelWithSilent | undefined) ?? 'info'),
    base: { service: opts.service, pid: process.pid, ...opts.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.password', '*.token', '*.adminToken', 'password', 'token', 'authorization', '*.authorization'], censor: '[redacted]' },
  });
}
