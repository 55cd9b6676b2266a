// Request/reply inside the cloud: `uplink.rpc.<service>.<method>` over core NATS (NestJS's NATS
// transport, one queue group per service). Each method names its request schema; every reply is an
// RpcReply envelope so errors keep their stable code across the hop.
import { z } from 'zod';
import { GroupName, SatelliteName } from './names.js';
import { CreateSatelliteBody, PutGroupBody, PutSatelliteConfigBody } from './rest.js';
import { subjects } from './subjects.js';
import { IMAGES_PAGE_DEFAULT, IMAGES_PAGE_MAX, TelemetryQuery } from './fleet.js';
import { FLEET_PAGE_DEFAULT, FLEET_PAGE_MAX, SatelliteLiveness, SatelliteNamePrefix } from './fleet.js';
import { CreateCommandBody, ListCommandsQuery } from './commands.js';
import { ztrRpcMethods } from './ztr.js';
import { authRpcMethods } from './operators.js';

export const rpcMethods = {
  state: {
    putGroup: z.strictObject({ name: GroupName, body: PutGroupBody }),
    getGroup: z.strictObject({ name: GroupName }),
    listGroups: z.strictObject({}),
    deleteGroup: z.strictObject({ name: GroupName }),
    assign: z.strictObject({ group: GroupName, satellite: SatelliteName }),
    unassign: z.strictObject({ group: GroupName, satellite: SatelliteName }),
    getState: z.strictObject({ satellite: SatelliteName }),
    putConfig: z.strictObject({ satellite: SatelliteName, body: PutSatelliteConfigBody }),
    /** recompute and publish the desired state of these satellites (after create/delete) */
    recompute: z.strictObject({ satellites: z.array(SatelliteName).max(10_000) }),
  },
  registration: {
    createSatellite: CreateSatelliteBody,
    listSatellites: z.strictObject({ group: GroupName.optional() }),
    getSatellite: z.strictObject({ name: SatelliteName }),
    deleteSatellite: z.strictObject({ name: SatelliteName }),
  },
  telemetry: {
    getStatus: z.strictObject({ name: SatelliteName }),
    fleet: z.strictObject({}),
    query: z.strictObject({ satellite: SatelliteName, query: TelemetryQuery }),
    /** a page of sites in name order: at most `limit`, those after `after` */
    images: z.strictObject({
      limit: z.number().int().min(1).max(IMAGES_PAGE_MAX).default(IMAGES_PAGE_DEFAULT),
      after: SatelliteName.optional(),
    }),
    /** the fleet list: a page of sites in name order, at most `limit` after `after`, of this liveness and name prefix */
    satellites: z.strictObject({
      limit: z.number().int().min(1).max(FLEET_PAGE_MAX).default(FLEET_PAGE_DEFAULT),
      after: SatelliteName.optional(),
      status: SatelliteLiveness.optional(),
      prefix: SatelliteNamePrefix.optional(),
    }),
  },
  command: {
    create: CreateCommandBody,
    get: z.strictObject({ id: z.uuid() }),
    list: ListCommandsQuery,
    cancel: z.strictObject({ id: z.uuid() }),
  },
  /** join tokens, zero-touch registration and renewal of sites (served by registration) */
  ztr: ztrRpcMethods,
  /** users, logins, API tokens and the audit trail (served by registration) */
  auth: authRpcMethods,
} as const;

export type RpcService = keyof typeof rpcMethods;
export type RpcMethod<S extends RpcService> = keyof (typeof rpcMethods)[S] & string;
export type RpcRequest<S extends RpcService, M extends RpcMethod<S>> = z.infer<(typeof rpcMethods)[S][M] & z.ZodType>;

/** The subject (and NestJS message pattern) of an RPC method. */
export function rpcSubject<S extends RpcService>(service: S, method: RpcMethod<S>): string {
  return subjects.rpc(service, method);
}
