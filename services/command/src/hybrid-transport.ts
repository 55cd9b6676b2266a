// One Nest microservice served by two transports: @EventPattern handlers naming a JetStream durable go
// to the JetStream transport, every other pattern to core NATS request/reply.
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';

interface TransportServer {
  addHandler(pattern: unknown, callback: MessageHandler, isEventHandler?: boolean, extras?: Record<string, unknown>): void;
  listen(callback: (...optionalParams: unknown[]) => unknown): unknown;
  close(): unknown;
}

export interface TransportRoute {
  server: TransportServer;
  accepts(pattern: string, isEventHandler: boolean): boolean;
}

export class HybridTransport extends Server implements CustomTransportStrategy {
  constructor(private readonly routes: TransportRoute[]) {
    super();
  }

  override addHandler(pattern: unknown, callback: MessageHandler, isEventHandler = false, extras: Record<string, unknown> = {}): void {
    const key = typeof pattern === 'string' ? pattern : JSON.stringify(pattern);
    const route = this.routes.find((r) => r.accepts(key, isEventHandler));
    if (!route) throw new Error(`no transport serves the pattern ${key}`);
    route.server.addHandler(pattern, callback, isEventHandler, extras);
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
