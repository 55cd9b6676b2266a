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
  SatelliteLifecycle,
  CreatedSatellite,
  PutSatelliteConfigBody,
  AppliedState,
  SatelliteStateView,
  ErrorBody,
} from './rest.js';
export { FrontedService, ReadinessQuery } from './rest.js';
export { subjects, satelliteOf, outboxTarget } from './subjects.js';
export { TelemetryKind, InventoryImage, Heartbeat, HeartbeatRuntime, SyncEvent } from './telemetry.js';
export {
  SatelliteStatus,
  SatelliteStatusView,
  FleetView,
  TelemetryQuery,
  TelemetryRecord,
  TelemetryPage,
  ImagesView,
  TelemetryStreamQuery,
  TelemetryStreamEvent,
} from './fleet.js';
export { ImagesQuery, ImagesCursor, imagesCursor, IMAGES_PAGE_MAX, IMAGES_PAGE_DEFAULT } from './fleet.js';
export {
  SatelliteLiveness,
  SatelliteNamePrefix,
  FleetSatellitesQuery,
  FleetSatellitesCursor,
  fleetSatellitesCursor,
  FleetSatellite,
  FleetSatellitesPage,
  FLEET_PAGE_MAX,
  FLEET_PAGE_DEFAULT,
} from './fleet.js';
export { hubStreams, siteStreams, hubDurables, siteDurables, consumer } from './streams.js';
export { SCHEMA_HEADER, SIGNATURE_HEADER, StateApplied, messageSchemas, schemaHeader, decodeMessage } from './messages.js';
export { ErrorCode, httpStatusOf, UplinkError, validationError, parseOrThrow, rpcOk, rpcError } from './errors.js';
export { CommonEnv, GatewayEnv, DbEnv, RegistrationEnv, StatePublisherEnv, TelemetryIngestEnv, SatelliteEnv, CommandEnv, ExecutorEnv, ForwarderEnv, envSchemas, ConfigError, loadEnv } from './env.js';

export type { StreamSpec, ConsumerSpec, DurableSpec } from './streams.js';
export type { MessageType, MessageOf, DecodeResult } from './messages.js';
export type { RpcReply } from './errors.js';
export { rpcMethods, rpcSubject } from './rpc.js';
export {
  BEARER_TOKEN_PATTERN,
  bearerTokenHash,
  Role,
  roleAtLeast,
  lesserRole,
  Username,
  Password,
  LoginBody,
  LoginResult,
  UserView,
  CreateUserBody,
  UpdateUserBody,
  TokenId,
  API_TOKEN_DEFAULT_TTL_S,
  API_TOKEN_MAX_TTL_S,
  CreateTokenBody,
  TokenView,
  CreatedToken,
  ListTokensQuery,
  VerifiedToken,
  AuditOutcome,
  AuditEvent,
  auditVerb,
  AuditQuery,
  AuditPage,
  authRpcMethods,
} from './operators.js';
export {
  commandActions,
  CommandAction,
  isCommandAction,
  parseCommandArgs,
  TargetStatus,
  TERMINAL_TARGET_STATUSES,
  ReportedStatus,
  CommandStatus,
  COMMAND_OUTPUT_MAX_CHARS,
  COMMAND_MAX_DEADLINE_MS,
  COMMAND_DEFAULT_DEADLINE_MS,
  Command,
  CommandResult,
  CommandEventName,
  CommandEvent,
  pendingCommandsSubject,
  PENDING_COMMANDS_ALL,
  PendingCommandsRequest,
  PendingCommands,
  CommandTarget,
  RolloutPolicy,
  CreateCommandBody,
  CreatedCommand,
  CommandTargetView,
  CommandSummary,
  CommandView,
  ListCommandsQuery,
  CommandList,
} from './commands.js';
export type { CommandActionName, CommandArgs } from './commands.js';
export type { RpcService, RpcMethod, RpcRequest } from './rpc.js';
export {
  JOIN_TOKEN_PATTERN,
  ZtrBody,
  RenewBody,
  renewPayload,
  RegistryCredential,
  SiteCredentials,
  IssuedJoinToken,
  ztrRpcMethods,
  ZtrEnv,
} from './ztr.js';
