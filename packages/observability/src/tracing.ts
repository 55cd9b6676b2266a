// W3C trace context helpers over @opentelemetry/api. Without an SDK registered these are no-ops, and
// nothing here ever throws into the caller.
import { context, propagation, trace, type Context, type Span } from '@opentelemetry/api';

export { context, trace };
export type { Context, Span };

export function tracer(name: string) {
  return trace.getTracer(name);
}

/** Inject the active context into a header carrier (traceparent/tracestate). */
export function injectTraceContext(set: (key: string, value: string) => void, ctx: Context = context.active()): void {
  try {
    propagation.inject(ctx, {}, { set: (_c, k, v) => set(k, v) });
  } catch {
    // observability never breaks the caller
  }
}

/** Extract a context from header values. */
export function extractTraceContext(get: (key: string) => string | undefined): Context {
  try {
    return propagation.extract(context.active(), {}, {
      get: (_c, k) => get(k),
      keys: () => ['traceparent', 'tracestate'],
    });
  } catch {
    return context.active();
  }
}

/** The trace id of the active span, for log lines. */
export function currentTraceId(): string | undefined {
  const id = trace.getSpan(context.active())?.spanContext().traceId;
  return id && id !== '00000000000000000000000000000000' ? id : undefined;
}
