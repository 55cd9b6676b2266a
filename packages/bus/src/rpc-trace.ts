// W3C trace context across the cloud's request/reply hop (Nest's NATS transport), as publish/consume
// already carry it: the caller sends the active context as `traceparent` headers, the service runs its
// handler inside the context the request carried, so both sides log the same trace id.
import { headers as natsHeaders } from '@nats-io/transport-node';
import { NatsRecordBuilder, type NatsRecord } from '@nestjs/microservices';
import { context, extractTraceContext, injectTraceContext, trace, withNewTrace } from '@uplink/observability';

/**
 * The request for `ClientProxy.send`: a NatsRecord with the active trace context in its headers, or
 * the data itself when no trace is active (nothing to carry).
 */
export function tracedRequest<T>(data: T): NatsRecord<T> | T {
  const carried = new Map<string, string>();
  injectTraceContext((k, v) => carried.set(k, v));
  if (!carried.has('traceparent')) return data;
  const h = natsHeaders();
  for (const [k, v] of carried) h.set(k, v);
  return new NatsRecordBuilder(data).setHeaders(h).build();
}

interface HeaderCarrier {
  get(key: string): string;
}

/** The headers of a Nest transport context (NatsContext.getHeaders()), when it has any. */
function headersOf(ctx: unknown): HeaderCarrier | undefined {
  const getHeaders = (ctx as { getHeaders?: unknown } | null | undefined)?.getHeaders;
  if (typeof getHeaders !== 'function') return undefined;
  const h = (getHeaders as () => unknown).call(ctx) as Partial<HeaderCarrier> | undefined;
  return typeof h?.get === 'function' ? (h as HeaderCarrier) : undefined;
}

/**
 * Run `fn` inside the trace context a request carried (`ctx` is the handler's transport context, e.g.
 * NatsContext); a request without one gets a fresh trace, so the lines it logs still belong together.
 */
export function withRequestTrace<T>(ctx: unknown, fn: () => T): T {
  const h = headersOf(ctx);
  const carried = extractTraceContext((k) => h?.get(k) || undefined);
  if (!trace.getSpanContext(carried)) return withNewTrace(fn);
  return context.with(carried, fn);
}
