// Registration's domain: the fleet's satellites. Creating one writes it and its group assignments in
// one transaction, then asks the state-publisher to compute its desired state (which also finds
// satellites without a state by itself, should that request be lost) and hands out its one-time
// join token. Deleting one revokes it (its credentials stop working at once, it stays listed as
// revoked); deleting a revoked one removes it and has the state-publisher purge its desired state.
import { ErrorCode, UplinkError, type CreatedSatellite, type RpcMethod, type RpcRequest, type Satellite } from '@uplink/contracts';
import { SqlState, sqlState, withTransaction, type Pool } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import * as store from './store.js';
import { issueJoinTokenIn, type ZeroTouchRegistration } from './ztr/zero-touch.js';

type Req<M extends RpcMethod<'registration'>> = RpcRequest<'registration', M>;

/** Asks the state-publisher to recompute (and publish, or purge) these satellites' desired states. */
export type RequestRecompute = (satellites: string[]) => Promise<void>;

export interface RegistrationOptions {
  pool: Pool;
  logger: Logger;
  requestRecompute: RequestRecompute;
  /** join tokens, site credentials and their revocation */
  ztr: ZeroTouchRegistration;
}

export class Registration {
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly requestRecompute: RequestRecompute;
  readonly ztr: ZeroTouchRegistration;

  constructor(opts: RegistrationOptions) {
    this.pool = opts.pool;
    this.log = opts.logger;
    this.requestRecompute = opts.requestRecompute;
    this.ztr = opts.ztr;
  }

  async createSatellite(req: Req<'createSatellite'>): Promise<CreatedSatellite> {
    const groups = [...new Set(req.groups ?? [])].sort();
    const labels = req.labels ?? {};
    const issued = await withTransaction(this.pool, async (c) => {
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
      return issueJoinTokenIn(c, req.name, this.ztr.joinTokenTtlSeconds);
    });
    this.log.info({ satellite: req.name, groups }, 'satellite created');
    await this.recompute(req.name);
    const row = await store.getSatellite(this.pool, req.name);
    // deleted in the meantime: answer with what was created
    const satellite: Satellite = row ? toSatellite(row) : { name: req.name, labels, groups, status: 'pending', createdAt: new Date().toISOString() };
    return { ...satellite, joinToken: issued.joinToken, joinTokenExpiresAt: issued.joinTokenExpiresAt };
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

  /** The first delete revokes the satellite; deleting a revoked one removes it. */
  async deleteSatellite({ name }: Req<'deleteSatellite'>): Promise<{ name: string; revoked: true } | { name: string; deleted: true }> {
    const row = await store.getSatellite(this.pool, name);
    if (row && !row.revokedAt && (await this.ztr.revoke(name))) return { name, revoked: true };
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

/**
 * Registration's lifecycle (heartbeat-based online/stale/offline is telemetry's): pending until the
 * device registers, active while its credentials are valid, stale once they expired unrenewed, revoked.
 */
function toSatellite(row: store.SatelliteRow): Satellite {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : undefined);
  const status = row.revokedAt
    ? 'revoked'
    : !row.registeredAt
      ? 'pending'
      : row.credentialsExpireAt && new Date(row.credentialsExpireAt).getTime() > Date.now()
        ? 'active'
        : 'stale';
  const registeredAt = iso(row.registeredAt);
  const credentialsExpireAt = iso(row.credentialsExpireAt);
  const revokedAt = iso(row.revokedAt);
  return {
    name: row.name,
    labels: row.labels,
    groups: row.groups,
    status,
    createdAt: new Date(row.createdAt).toISOString(),
    ...(registeredAt ? { registeredAt } : {}),
    ...(credentialsExpireAt ? { credentialsExpireAt } : {}),
    ...(revokedAt ? { revokedAt } : {}),
  };
}
