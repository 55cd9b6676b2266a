export { startCommandService } from './start.js';
export { CommandService } from './command-service.js';
export { CommandModule } from './command.module.js';
export { planRollout, rolloutStats } from './rollout.js';
export { nextTargetStatus, commandStatusOf, countStatuses, isTerminal } from './lifecycle.js';
export { createCommandSigner, createCommandSigningKey } from './signing.js';
export { createBatcher } from './batcher.js';

export type { StartCommandServiceOptions, CommandServiceHandle, CommandConfig } from './start.js';
export type { CommandServiceOptions, ReceivedResult } from './command-service.js';
export type { RolloutRules, RolloutTarget, RolloutPlan } from './rollout.js';
export type { CommandSigner } from './signing.js';
export type { Batcher } from './batcher.js';
