export { startRegistration } from './start.js';
export { Registration } from './registration.js';

export type { RegistrationHandle, RegistrationConfig, StartRegistrationOptions } from './start.js';
export type { CreatedSatellite, RequestRecompute, RegistrationOptions } from './registration.js';
