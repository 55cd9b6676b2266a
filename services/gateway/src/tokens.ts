// Injection tokens of the gateway's shared providers (explicit @Inject everywhere: no decorator metadata).
export const GATEWAY_ENV = Symbol('GATEWAY_ENV');
export const LOGGER = Symbol('LOGGER');
export const NATS_CLIENT = Symbol('NATS_CLIENT');
export const GATEWAY_METRICS = Symbol('GATEWAY_METRICS');
