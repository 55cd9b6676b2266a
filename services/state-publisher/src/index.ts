export { startStatePublisher } from './start.js';
export { StatePublisher } from './state-publisher.js';
export { computeDesiredState, registryName, normalizeRegistryUrl, artifactKey } from './desired-state.js';
export { planRevisions, desiredStateDocument, artifactStatuses } from './revisions.js';
export { pinGroupArtifacts, tagsToResolve } from './group-artifacts.js';
export { createTagResolver } from './tag-resolver.js';

export type { StartStatePublisherOptions, StatePublisherHandle, StatePublisherConfig } from './start.js';
export type { GroupReply } from './state-publisher.js';
export type { GroupInput, PinnedArtifact, DesiredStateInput } from './desired-state.js';
export type { PlannedRevision, CurrentRevision, ArtifactStatus } from './revisions.js';
export type { UnresolvedArtifact, PinResult } from './group-artifacts.js';
export type { TagResolver, TagResolverOptions } from './tag-resolver.js';
