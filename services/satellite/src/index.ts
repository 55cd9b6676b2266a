export { startSatellite } from './satellite.js';
export { applyDesiredState } from './apply.js';
export { planApply, planIntake } from './plan.js';
export { SatelliteError, SatelliteErrorCode } from './errors.js';
export { startHeartbeat, inventoryHash, effectiveInterval, outboxFromForwarder, DEFAULT_HEARTBEAT_SECONDS } from './heartbeat.js';
export { createSystemSampler } from './system-sample.js';
export { inSyncWindow, syncWindowState, nextSyncWindowAt, parseSyncWindow } from './sync-window.js';
export { mirrorUrlOf } from './runtime-config.js';

export type { SatelliteHandle, SatelliteSettings, StartSatelliteOptions } from './satellite.js';
export type { SatelliteStatus } from './status-server.js';
export type { RuntimeStatus, RuntimeApplyReason } from './runtime-config.js';
export type { SyncWindowStatus, SyncResult } from './replicator.js';
export type { ParsedWindow, SyncWindowState } from './sync-window.js';
export type { ApplyContext, ApplyDeps, ApplyResult, Realise } from './apply.js';
export type { ApplyDecision, IntakeDecision } from './plan.js';
export type { StateStore } from './state-store.js';
export type { HeartbeatHandle, HeartbeatOptions, HeartbeatParts, InventoryEntry, OutboxDepth } from './heartbeat.js';
export type { SystemSample, SystemSampler, SystemSamplerOptions } from './system-sample.js';
