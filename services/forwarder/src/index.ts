export { startForwarder } from './forwarder.js';
export { createDropTracker } from './drops.js';
export { planByteTrim, firstSeqNotOlderThan } from './limits.js';

export type { ForwarderHandle, ForwarderSettings, ForwarderStats, ForwardedBatch, StartForwarderOptions } from './forwarder.js';
export type { DropTracker } from './drops.js';
export type { StreamDepth, TrimPlan } from './limits.js';
