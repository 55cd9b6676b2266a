// A NestJS transport strategy so cloud services declare durable JetStream handlers with
// `@EventPattern('<durable name>')`. The durable name selects stream, consumer spec and message type
// from `hubDurables` in contracts; each handler runs on the one consumer runner. A handler declared with
// extras `{ batch: {} }` (see BatchPatternExtras) receives arrays of `{ body, ctx }` and answers with
// per-item outcomes, run by the batch runner.
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { lastValueFrom, isObservable } from 'rxjs';
import type { NatsConnection } from '@nats-io/transport-node';
import { hubDurables, type DurableSpec } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { runBatchConsumer, runConsumer, type BatchItem, type ConsumerRunner, type MessageContext } from './consumer.js';

export interface JetStreamTransportOptions {
  nc: NatsConnection;
  logger: Logger;
  /** durable specs by name @default hubDurables */
  durables?: Record<string, DurableSpec>;
  /** handlers at once per consumer @default 8 */
  concurrency?: number;
  domain?: string;
  /** settings of batch handlers (their own extras override these) */
  batch?: BatchSettings;
  /** called for each dead-lettered message, with the durable consumer's name */
  onDeadLetter?: (reason: string, subject: string, durable: string) => void;
}

/** `@EventPattern(durable, transportId, { batch: { … } })`: the handler takes a batch (BatchHandler). */
export interface BatchPatternExtras {
  /** true: the transport's `batch` settings */
  batch: true | BatchSettings;
}

export interface BatchSettings {
  batchMax?: number;
  batchWaitMs?: number;
  batchesInFlight?: number;
}

async function valueOf(out: unknown): Promise<unknown> {
  const v = await out;
  return isObservable(v) ? lastValueFrom(v, { defaultValue: undefined }) : v;
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
        const common = {
          nc: this.options.nc,
          stream: durable.stream,
          consumer: durable.spec,
          type: durable.type,
          logger: this.options.logger,
          ...(this.options.domain ? { domain: this.options.domain } : {}),
          ...(this.options.onDeadLetter ? { onDeadLetter: (reason: string, subject: string) => this.options.onDeadLetter?.(reason, subject, pattern) } : {}),
        };
        const batch = (handler.extras as Partial<BatchPatternExtras> | undefined)?.batch;
        this.runners.push(
          batch
            ? runBatchConsumer({
                ...common,
                ...this.options.batch,
                ...(batch === true ? {} : batch),
                handler: async (items: BatchItem<typeof durable.type>[]) => (await valueOf(handler(items))) as (Error | undefined)[] | void,
              })
            : runConsumer({
                ...common,
                concurrency: this.options.concurrency ?? 8,
                handler: async (body: unknown, ctx: MessageContext) => {
                  await valueOf(handler(body, ctx));
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
