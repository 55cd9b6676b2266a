// One Nest microservice served by several transports: each handler goes to the first transport that
// accepts its pattern (e.g. JetStream durables for @EventPattern, core NATS request/reply for the rest).
// Request handlers run inside the trace context their request carried (events get theirs from the
// consumer runner).
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { withRequestTrace } from './rpc-trace.js';

/** The part of a Nest transport server used here (any `Server`, whatever its status and event types). */
export interface TransportServer {
  addHandler(pattern: unknown, callback: MessageHandler, isEventHandler?: boolean, extras?: Record<string, unknown>): void;
  listen(callback: (...optionalParams: unknown[]) => unknown): unknown;
  close(): unknown;
}

export interface TransportRoute {
  server: TransportServer;
  accepts(pattern: string, isEventHandler: boolean): boolean;
}

export class HybridTransport extends Server implements CustomTransportStrategy {
  /** a failing event handler reaches its transport (JetStream naks and retries), not just Nest's log */
  override readonly propagatesEventHandlerErrors = true;

  constructor(private readonly routes: TransportRoute[]) {
    super();
  }

  override addHandler(pattern: unknown, callback: MessageHandler, isEventHandler = false, extras: Record<string, unknown> = {}): void {
    const key = typeof pattern === 'string' ? pattern : JSON.stringify(pattern);
    const route = this.routes.find((r) => r.accepts(key, isEventHandler));
    if (!route) throw new Error(`no transport serves the pattern ${key}`);
    const handler: MessageHandler = isEventHandler ? callback : (data: unknown, ctx?: unknown) => withRequestTrace(ctx, () => callback(data, ctx));
    route.server.addHandler(pattern, handler, isEventHandler, extras);
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    Promise.all(
      this.routes.map(
        (r) =>
          new Promise<void>((resolve, reject) => {
            void r.server.listen((err?: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
          }),
      ),
    ).then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.routes.map(async (r) => r.server.close()));
  }

  on(): never {
    throw new Error('HybridTransport has no events to subscribe to');
  }

  unwrap<T>(): T {
    return this.routes.map((r) => r.server) as T;
  }
}
