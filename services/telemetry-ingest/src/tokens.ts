// Injection tokens (explicit @Inject everywhere: no decorator metadata under tsx/vitest).
export const INGEST = Symbol('INGEST');
export const QUERIES = Symbol('QUERIES');
export const METRICS = Symbol('METRICS');
export const HEALTH = Symbol('HEALTH');
export const LOGGER = Symbol('LOGGER');

/** Transport id of the JetStream durable handlers, so the RPC server does not take them and vice versa. */
export const JETSTREAM = Symbol('jetstream');
