// Idempotent provisioning of streams and consumers from the specs in contracts: create when missing,
// update when different, never delete data.
import type { JetStreamManager, StreamConfig, ConsumerConfig } from '@nats-io/jetstream';
import type { ConsumerSpec, StreamSpec } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';

function toStreamConfig(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: spec.subjects,
    retention: spec.retention as StreamConfig['retention'],
    storage: spec.storage as StreamConfig['storage'],
    discard: spec.discard as StreamConfig['discard'],
    max_age: spec.max_age,
    max_bytes: spec.max_bytes,
    max_msgs_per_subject: spec.max_msgs_per_subject,
    duplicate_window: spec.duplicate_window,
    allow_direct: spec.allow_direct,
    num_replicas: spec.num_replicas,
    description: spec.description,
  };
}

export function toConsumerConfig(spec: ConsumerSpec): Partial<ConsumerConfig> {
  return {
    durable_name: spec.durable_name,
    ...(spec.filter_subject ? { filter_subject: spec.filter_subject } : {}),
    ack_policy: spec.ack_policy as ConsumerConfig['ack_policy'],
    deliver_policy: spec.deliver_policy as ConsumerConfig['deliver_policy'],
    ack_wait: spec.ack_wait,
    max_deliver: spec.max_deliver,
    max_ack_pending: spec.max_ack_pending,
    description: spec.description,
  };
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || e?.api_error?.err_code === 10014 || /not found/i.test(e?.message ?? '');
}

const MUTABLE_STREAM_FIELDS = ['subjects', 'max_age', 'max_bytes', 'max_msgs_per_subject', 'duplicate_window', 'allow_direct', 'discard', 'description'] as const;

export async function provisionStream(jsm: JetStreamManager, spec: StreamSpec, log?: Logger): Promise<'created' | 'updated' | 'unchanged'> {
  const want = toStreamConfig(spec);
  try {
    const info = await jsm.streams.info(spec.name);
    const have = info.config as unknown as Record<string, unknown>;
    const differs = MUTABLE_STREAM_FIELDS.some((k) => JSON.stringify(have[k]) !== JSON.stringify((want as Record<string, unknown>)[k]));
    if (!differs) return 'unchanged';
    await jsm.streams.update(spec.name, { ...info.config, ...want } as StreamConfig);
    log?.info({ stream: spec.name }, 'stream updated');
    return 'updated';
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.streams.add(want);
    log?.info({ stream: spec.name }, 'stream created');
    return 'created';
  }
}

export async function provisionConsumer(jsm: JetStreamManager, stream: string, spec: ConsumerSpec, log?: Logger): Promise<'created' | 'updated' | 'unchanged'> {
  const want = toConsumerConfig(spec);
  try {
    const info = await jsm.consumers.info(stream, spec.durable_name);
    const have = info.config as unknown as Record<string, unknown>;
    const fields = ['ack_wait', 'max_deliver', 'max_ack_pending', 'description', 'filter_subject'] as const;
    if (fields.every((k) => JSON.stringify(have[k] ?? undefined) === JSON.stringify((want as Record<string, unknown>)[k] ?? undefined))) return 'unchanged';
    await jsm.consumers.update(stream, spec.durable_name, want);
    log?.info({ stream, consumer: spec.durable_name }, 'consumer updated');
    return 'updated';
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(stream, want);
    log?.info({ stream, consumer: spec.durable_name }, 'consumer created');
    return 'created';
  }
}

/** Provision every stream of a set (e.g. `hubStreams`). */
export async function provisionStreams(jsm: JetStreamManager, specs: Record<string, StreamSpec> | StreamSpec[], log?: Logger): Promise<void> {
  for (const spec of Array.isArray(specs) ? specs : Object.values(specs)) await provisionStream(jsm, spec, log);
}
