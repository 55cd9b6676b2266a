export { OciError, OciErrorCode, isOciError } from './errors.js';
export { DIGEST_PATTERN, REPOSITORY_PATTERN, TAG_PATTERN, isDigest, isRepository, isTag, sha256Digest } from './digest.js';
export { MediaType, MANIFEST_MEDIA_TYPES, MANIFEST_ACCEPT, isIndexMediaType, parseManifest, blobsOf, matchesPlatform } from './manifest.js';
export { withRetry, backoffDelay } from './backoff.js';
export { createBandwidthLimiter } from './bandwidth.js';
export { createRegistryClient, parseChallenge } from './client.js';
export { openContentStore, REF_NAME_ANNOTATION, REPOSITORY_ANNOTATION, PINNED_ANNOTATION } from './store.js';
export { createRegistryHandler, parseRange } from './registry-handler.js';
export { replicate } from './replicate.js';
export { createPullThrough, compileAllowList } from './pull-through.js';
export { storedTree } from './tree.js';

export type { OciErrorOptions } from './errors.js';
export type { Descriptor, Platform, ParsedManifest } from './manifest.js';
export type { RetryOptions } from './backoff.js';
export type { BandwidthLimiter, BandwidthLimiterOptions, BandwidthStats } from './bandwidth.js';
export type {
  RegistryClient,
  RegistryClientOptions,
  RegistryClientStats,
  RegistryCredentials,
  RegistryTlsOptions,
  ResolvedManifest,
  FetchedManifest,
  FetchBlobOptions,
  FetchBlobResult,
} from './client.js';
export type {
  ContentStore,
  ContentStoreOptions,
  StoredManifest,
  ManifestEntry,
  BlobRange,
  BlobReader,
  PutManifestOptions,
  GcOptions,
  GcResult,
  StoreUsage,
  VerifyResult,
} from './store.js';
export type { RegistryHandler, RegistryHandlerOptions, RegistryCounters } from './registry-handler.js';
export type { ReplicateArtifact, ReplicateOptions, ReplicateResult } from './replicate.js';
export type { PullThrough, PullThroughOptions, PullThroughRequest, PullThroughStats, EvictionResult } from './pull-through.js';
export type { OciLogger } from './logger.js';
