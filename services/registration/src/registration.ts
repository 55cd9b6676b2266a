// Registration's domain: the fleet's satellites. Creating one writes it and its group assignments in
// one transaction, then asks the state-publisher to compute its desired state (which also finds
// satellites without a state by itself, should that request be lost); deleting one has the
// state-publisher purge the satellite's desired state from the hub.
import { ErrorCode, UplinkError, type RpcMethod, type RpcRequest, type Satellite } from '@uplink/contracts';
import { SqlState, sqlState, withTransaction, type Pool } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import * as store from './store.js';

type Req<M extends RpcMethod<'registration'>> = RpcRequest<'registration', M>;

/**
 * The reply to createSatellite: the satellite, and later the one-time join token for zero-touch
 * registration (`joinToken`), which only this reply will ever show.
 */
export type CreatedSatellite = Satellite;

/** Asks the state-publisher to recompute (and publish, or purge) these satellites' desired states. */
export type RequestRecompute = (satellites: string[]) => Promise<void>;

export interface RegistrationOptions {
  pool: Pool;
  logger: Logger;
  requestRecompute: RequestRecompute;
}

export class Registration {
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly requestRecompute: RequestRecompute;

  constructor(opts: RegistrationOptions) {
    this.pool = opts.pool;
    this.log = opts.logger;
    this.requestRecompute = opts.requestRecompute;
  }

  async createSatellite(req: Req<'createSatellite'>): Promise<CreatedSatellite> {
    const groups = [...new Set(req.groups ?? [])].sort();
    const labels = req.labels ?? {};
    await withTransaction(this.pool, async (c) => {
      const missing = await store.missingGroups(c, groups);
      if (missing.length > 0) {
        throw new UplinkError(ErrorCode.GROUP_NOT_FOUND, `no group named ${missing.map((g) => `"${g}"`).join(', ')}: create it first`, {
          details: { groups: missing },
        });
      }
      if (!(await store.insertSatellite(c, req.name, labels))) {
        throw new UplinkError(ErrorCode.ALREADY_EXISTS, `a satellite named "${req.name}" already exists`);
      }
      try {
        await store.assignGroups(c, req.name, groups);
      } catch (err) {
        // a group deleted since the check above
        if (sqlState(err) === SqlState.FOREIGN_KEY_VIOLATION) throw new UplinkError(ErrorCode.GROUP_NOT_FOUND, 'a group was deleted meanwhile: try again', { cause: err });
        throw err;
      }
    });
    this.log.info({ satellite: req.name, groups }, 'satellite created');
    await this.recompute(req.name);
    const row = await store.getSatellite(this.pool, req.name);
    // deleted in the meantime: answer with what was created
    return row ? toSatellite(row) : { name: req.name, labels, groups, status: 'pending', createdAt: new Date().toISOString() };
  }

  async listSatellites({ group }: Req<'listSatellites'>): Promise<Satellite[]> {
    if (group && !(await store.groupExists(this.pool, group))) throw new UplinkError(ErrorCode.GROUP_NOT_FOUND, `no group named "${group}"`);
    return (await store.listSatellites(this.pool, group)).map(toSatellite);
  }

  async getSatellite({ name }: Req<'getSatellite'>): Promise<Satellite> {
    const row = await store.getSatellite(this.pool, name);
    if (!row) throw new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `no satellite named "${name}"`);
    return toSatellite(row);
  }

  async deleteSatellite({ name }: Req<'deleteSatellite'>): Promise<{ name: string; deleted: true }> {
    if (!(await store.deleteSatellite(this.pool, name))) throw new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `no satellite named "${name}"`);
    this.log.info({ satellite: name }, 'satellite deleted');
    await this.recompute(name);
    return { name, deleted: true };
  }

  /** Best effort: the state-publisher's own retry loop covers a lost request. */
  private async recompute(satellite: string): Promise<void> {
    try {
      await this.requestRecompute([satellite]);
    } catch (err) {
      this.log.warn({ satellite, err: (err as Error).message }, 'state-publisher did not recompute the satellite; its retry loop will');
    }
  }
}

/** Heartbeat-based status (online, stale, offline) is telemetry's; here a satellite is pending or revoked. */
function toSatellite(row: store.SatelliteRow): Satellite {
  return {
    name: row.name,
    labels: row.labels,
    groups: row.groups,
    status: row.revokedAt ? 'revoked' : 'pending',
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
