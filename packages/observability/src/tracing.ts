// W3C trace context helpers over @opentelemetry/api. Without an SDK registered these are no-ops, and
// nothing here ever throws into the caller.
import { context, propagation, trace, TraceFlags, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

export { context, trace };
export type { Context, Span };

let propagatorInstalled = false;

/**
 * The W3C trace-context propagator and an AsyncLocalStorage context manager, installed once: the API
 * alone propagates nothing and keeps no active context.
 */
function ensurePropagator(): void {
  if (propagatorInstalled) return;
  propagatorInstalled = true;
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

/** Run `fn` in a new trace (a fresh trace id), e.g. for a request that arrived without one. */
export function withNewTrace<T>(fn: () => T): T {
  ensurePropagator();
  const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
  const ctx = trace.setSpanContext(context.active(), { traceId: hex(16), spanId: hex(8), traceFlags: TraceFlags.SAMPLED, isRemote: false });
  return context.with(ctx, fn);
}

export function tracer(name: string) {
  return trace.getTracer(name);
}

/** Inject the active context into a header carrier (traceparent/tracestate). */
export function injectTraceContext(set: (key: string, value: string) => void, ctx: Context = context.active()): void {
  try {
    ensurePropagator();
    propagation.inject(ctx, {}, { set: (_c, k, v) => set(k, v) });
  } catch {
    // observability never breaks the caller
  }
}

/** Extract a context from header values. */
export function extractTraceContext(get: (key: string) => string | undefined): Context {
  try {
    ensurePropagator();
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
