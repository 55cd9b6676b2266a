// Nest's own log output (bootstrap, route mapping, transport status) goes to the service's pino logger.
import type { LoggerService } from '@nestjs/common';
import type { Logger } from '@uplink/observability';

function split(params: unknown[]): { context?: string; extra: unknown[] } {
  const last = params.at(-1);
  return typeof last === 'string' ? { context: last, extra: params.slice(0, -1) } : { extra: params };
}

export function nestLogger(log: Logger): LoggerService {
  const write = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal') => (message: unknown, ...params: unknown[]) => {
    const { context, extra } = split(params);
    const fields = { nest: context, ...(extra.length > 0 ? { extra } : {}) };
    if (message instanceof Error) log[level]({ ...fields, err: message }, message.message);
    else log[level](fields, typeof message === 'string' ? message : JSON.stringify(message));
  };
  // Nest's "log" level is chatty start-up detail (one line per mapped route): keep it at debug.
  return { log: write('debug'), verbose: write('trace'), debug: write('debug'), warn: write('warn'), error: write('error'), fatal: write('fatal') };
}
