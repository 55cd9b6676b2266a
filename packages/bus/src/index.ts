export { connectNats, drainOnSignal } from './connection.js';
export { provisionStream, provisionStreams, provisionConsumer } from './provision.js';
export { publishMessage, publishToOutbox, messageHeaders, encodeBody, jsFor } from './publish.js';
export { runConsumer } from './consumer.js';
export { createBatchPublisher } from './batch-publisher.js';
export { deadLetter } from './dead-letter.js';
export { JetStreamTransport } from './nest-transport.js';
export { BusError, BusErrorCode, InvalidMessageError, RetryableError, isInvalidMessage } from './errors.js';
export { backoffDelay, sleep, retry } from './backoff.js';

export type { ConnectOptions } from './connection.js';
export type { PublishOptions } from './publish.js';
export type { BatchPublisher, Outgoing, PublishOutcome as BatchPublishOutcome } from './batch-publisher.js';
export type { ConsumerRunner, ConsumerRunnerOptions, MessageContext, MessageHandler } from './consumer.js';
export type { JetStreamTransportOptions } from './nest-transport.js';
export type { BackoffOptions } from './backoff.js';
export type { DeadLetterOptions } from './dead-letter.js';
