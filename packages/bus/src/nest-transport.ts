// A NestJS transport strategy so cloud services declare durable JetStream handlers with
// `@EventPattern('<durable name>')`. The durable name selects stream, consumer spec and message type
// from `hubDurables` in contracts; each handler runs on the one consumer runner.
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { lastValueFrom, isObservable } from 'rxjs';
import type { NatsConnection } from '@nats-io/transport-node';
import { hubDurables, type DurableSpec } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { runConsumer, type ConsumerRunner, type MessageContext } from './consumer.js';

export interface JetStreamTransportOptions {
  nc: NatsConnection;
  logger: Logger;
  /** durable specs by name @default hubDurables */
  durables?: Record<string, DurableSpec>;
  /** handlers at once per consumer @default 8 */
  concurrency?: number;
  domain?: string;
  /** called for each dead-lettered message, with the durable consumer's name */
  onDeadLetter?: (reason: string, subject: string, durable: string) => void;
}

export class JetStreamTransport extends Server implements CustomTransportStrategy {
  private readonly runners: ConsumerRunner[] = [];

  constructor(private readonly options: JetStreamTransportOptions) {
    super();
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    const durables: Record<string, DurableSpec> = this.options.durables ?? hubDurables;
    try {
      for (const [pattern, handler] of this.messageHandlers) {
        const durable = durables[pattern];
        if (!durable) throw new Error(`@EventPattern('${pattern}') names no durable consumer in contracts`);
        this.runners.push(
          runConsumer({
            nc: this.options.nc,
            stream: durable.stream,
            consumer: durable.spec,
            type: durable.type,
            logger: this.options.logger,
            concurrency: this.options.concurrency ?? 8,
            ...(this.options.domain ? { domain: this.options.domain } : {}),
            ...(this.options.onDeadLetter ? { onDeadLetter: (reason: string, subject: string) => this.options.onDeadLetter?.(reason, subject, pattern) } : {}),
            handler: async (body: unknown, ctx: MessageContext) => {
              const out: unknown = await handler(body, ctx);
              if (isObservable(out)) await lastValueFrom(out, { defaultValue: undefined });
            },
          }),
        );
      }
    } catch (err) {
      callback(err);
      return;
    }
    void Promise.all(this.runners.map((r) => r.ready)).then(() => callback());
  }

  async close(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop()));
  }

  on(): never {
    throw new Error('JetStreamTransport has no events to subscribe to');
  }

  unwrap<T>(): T {
    return this.options.nc as T;
  }
}
