export { startSatellite } from './satellite.js';
export { applyDesiredState } from './apply.js';
export { planApply, planIntake } from './plan.js';
export { SatelliteError, SatelliteErrorCode } from './errors.js';

export type { SatelliteHandle, SatelliteSettings, StartSatelliteOptions } from './satellite.js';
export type { SatelliteStatus } from './status-server.js';
export type { ApplyContext, ApplyDeps, ApplyResult, Realise } from './apply.js';
export type { ApplyDecision, IntakeDecision } from './plan.js';
export type { StateStore } from './state-store.js';
