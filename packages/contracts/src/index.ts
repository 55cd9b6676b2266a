export { NAME_PATTERN, Name, SatelliteName, GroupName, Digest, Repository, Tag, Labels } from './names.js';
export {
  Platform,
  RegistryRef,
  DesiredArtifact,
  SatelliteConfig,
  DesiredStateContent,
  DesiredState,
  canonicalJson,
  contentDigest,
} from './desired-state.js';
export {
  GroupArtifactInput,
  PutGroupBody,
  Group,
  CreateSatelliteBody,
  Satellite,
  PutSatelliteConfigBody,
  AppliedState,
  SatelliteStateView,
  ErrorBody,
} from './rest.js';
export { subjects, satelliteOf, outboxTarget } from './subjects.js';
export { TelemetryKind, InventoryImage, Heartbeat, SyncEvent } from './telemetry.js';
export { hubStreams, siteStreams, hubDurables, siteDurables, consumer } from './streams.js';
export { SCHEMA_HEADER, SIGNATURE_HEADER, StateApplied, messageSchemas, schemaHeader, decodeMessage } from './messages.js';
export { ErrorCode, httpStatusOf, UplinkError, validationError, parseOrThrow, rpcOk, rpcError } from './errors.js';
export { CommonEnv, GatewayEnv, DbEnv, RegistrationEnv, StatePublisherEnv, SatelliteEnv, envSchemas, ConfigError, loadEnv } from './env.js';

export type { StreamSpec, ConsumerSpec, DurableSpec } from './streams.js';
export type { MessageType, MessageOf, DecodeResult } from './messages.js';
export type { RpcReply } from './errors.js';
export { rpcMethods, rpcSubject } from './rpc.js';
export type { RpcService, RpcMethod, RpcRequest } from './rpc.js';
