export { startEdge, defaultRuntimeDir } from './edge/edge.js';
export { openCredentialStore, StoredCredentials } from './edge/credential-store.js';
export { systemIdentity, primaryMac } from './edge/identity.js';
export { registerDevice, renewCredentials, GroundControlError } from './edge/ground-control.js';

export type { EdgeOptions, EdgeHandle, EdgePorts } from './edge/edge.js';
export type { CredentialStore } from './edge/credential-store.js';
export type { MachineIdentity, IdentityProvider } from './edge/identity.js';
