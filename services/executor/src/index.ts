export { startExecutor } from './executor.js';
export { createStandaloneHost } from './host.js';
export { actionHandlers } from './actions.js';
export { checkCommand, runAction } from './execute.js';
export { createCommandVerifier } from './verify.js';
export { openExecutionStore } from './execution-store.js';
export { redact, boundOutput } from './output.js';
export { ExecutorError, ExecutorErrorCode, notAvailable } from './errors.js';

export type { ExecutorSettings, StartExecutorOptions, ExecutorHandle } from './executor.js';
export type { ExecutorHost, HostContext, DiagnosticsBundle, StandaloneHostOptions } from './host.js';
export type { ActionContext, ActionOutcome } from './actions.js';
export type { Verdict, RunOutcome, RunOptions } from './execute.js';
export type { CommandVerifier } from './verify.js';
export type { ExecutionRecord, ExecutionStore, OpenExecutionStoreOptions } from './execution-store.js';
