// Nest's own log lines (bootstrap, transport status) through the service's pino logger.
import type { LoggerService } from '@nestjs/common';
import type { Logger } from '@uplink/observability';

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export function nestLogger(pino: Logger): LoggerService {
  const write = (level: Level, message: unknown, params: unknown[]) => {
    const context = typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    if (message instanceof Error) pino[level]({ err: message, context }, message.message);
    else pino[level]({ context }, typeof message === 'string' ? message : JSON.stringify(message));
  };
  return {
    log: (m, ...p) => write('debug', m, p),
    error: (m, ...p) => write('error', m, p),
    warn: (m, ...p) => write('warn', m, p),
    debug: (m, ...p) => write('debug', m, p),
    verbose: (m, ...p) => write('trace', m, p),
    fatal: (m, ...p) => write('fatal', m, p),
  };
}
