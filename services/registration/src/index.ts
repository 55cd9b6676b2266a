export { startRegistration } from './start.js';
export { Registration } from './registration.js';
export { ZeroTouchRegistration } from './ztr/zero-touch.js';

export type { RegistrationHandle, RegistrationConfig, StartRegistrationOptions } from './start.js';
export type { RequestRecompute, RegistrationOptions } from './registration.js';
export type { SiteAuthority, ZeroTouchOptions } from './ztr/zero-touch.js';
