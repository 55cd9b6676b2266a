// Injection tokens (explicit @Inject everywhere: tsx and vitest emit no decorator metadata).
export const LOGGER = Symbol('LOGGER');
export const RESULT_BATCHER = Symbol('RESULT_BATCHER');
