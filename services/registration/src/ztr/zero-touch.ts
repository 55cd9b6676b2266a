// Zero-touch registration of sites: join tokens, the device's registration (a site NATS account
// pushed to the hub, a short-lived user JWT for the device's own key), renewal with proof of key
// possession, and revocation (the site account's `revocations`, pushed at once).
import type { NatsConnection } from '@nats-io/transport-node';
import {
  ErrorCode,
  UplinkError,
  renewPayload,
  type IssuedJoinToken,
  type RpcRequest,
  type SiteCredentials,
} from '@uplink/contracts';
import { withTransaction, type Pool, type Queryable } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import { createNKey, encodeSiteAccount, keyPairFromSeed, listResolverAccounts, mintSiteUser, pushAccountJwt, verifySignature } from '@uplink/nats-auth';
import { newJoinToken, parseJoinToken, secretMatches } from './join-tokens.js';
import type { HarborRobots } from './harbor-robots.js';
import type { ZtrLimiter } from './ztr-limiter.js';
import * as ztrStore from './ztr-store.js';

/** The keys and connection registration mints site credentials with. */
export interface SiteAuthority {
  /** seed of the operator signing key (signs site accounts) */
  operatorSigner: string;
  /** public key of the application account */
  appAccount: string;
  /** seed of an application account signing key (signs activation tokens) */
  appSigner: string;
  /** seed of the site signing key (issues device users; a signing key of every site account) */
  siteSigner: string;
  /** a system account user's connection: pushes account JWTs */
  sys: NatsConnection;
}

export interface ZeroTouchOptions {
  pool: Pool;
  logger: Logger;
  limiter: ZtrLimiter;
  /** unset: registration and renewal answer SERVICE_UNAVAILABLE; revocation only marks the row */
  authority?: SiteAuthority;
  /** @default 86_400 */
  joinTokenTtlSeconds?: number;
  /** @default 86_400 */
  siteJwtTtlSeconds?: number;
  hub: { leafUrl: string; domain: string };
  commandSigningKey?: string;
  caBundle?: string;
  registryCredentials?: Record<string, { username: string; password: string }>;
  /** per-site Harbor robot accounts: created at registration (handed over once), deleted at revocation */
  harbor?: HarborRobots;
  /** how far a renewal's timestamp may be from now @default 300 */
  maxClockSkewSeconds?: number;
}

/** What one push of every site account did. */
export interface AccountPushReport {
  /** accounts the hub acknowledged (it ignores one it already holds) */
  pushed: number;
  /** of those, revoked sites' accounts */
  revoked: number;
  /** accounts encoded anew because no pushed JWT was kept (sites registered before it was) */
  encoded: number;
  /** not pushed: the hub listed them already (only-missing rounds) */
  skipped: number;
  failed: number;
  firstError?: string;
}

type Req<M extends 'register' | 'renew'> = RpcRequest<'ztr', M>;

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Issue a join token for a satellite inside the caller's transaction (its older unused tokens are voided). */
export async function issueJoinTokenIn(c: Queryable, satellite: string, ttlSeconds: number): Promise<IssuedJoinToken> {
  const t = newJoinToken();
  await ztrStore.deleteUnusedJoinTokens(c, satellite);
  const expiresAt = await ztrStore.insertJoinToken(c, { id: t.id, satellite, secretHash: t.secretHash, ttlSeconds });
  return { satellite, joinToken: t.token, joinTokenExpiresAt: expiresAt.toISOString() };
}

export class ZeroTouchRegistration {
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly limiter: ZtrLimiter;
  private readonly authority: SiteAuthority | undefined;
  readonly joinTokenTtlSeconds: number;
  private readonly siteJwtTtlSeconds: number;
  private readonly opts: ZeroTouchOptions;

  constructor(opts: ZeroTouchOptions) {
    this.opts = opts;
    this.pool = opts.pool;
    this.log = opts.logger;
    this.limiter = opts.limiter;
    this.authority = opts.authority;
    this.joinTokenTtlSeconds = opts.joinTokenTtlSeconds ?? 86_400;
    this.siteJwtTtlSeconds = opts.siteJwtTtlSeconds ?? 86_400;
  }

  /** A new join token for an existing, not revoked satellite; earlier unused ones stop working. */
  async issueJoinToken(name: string): Promise<IssuedJoinToken> {
    return withTransaction(this.pool, async (c) => {
      const site = await ztrStore.lockSite(c, name);
      if (!site) throw new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `no satellite named "${name}"`);
      if (site.revokedAt) throw new UplinkError(ErrorCode.SATELLITE_REVOKED, `satellite "${name}" is revoked: delete it and create it again`);
      const issued = await issueJoinTokenIn(c, name, this.joinTokenTtlSeconds);
      this.log.info({ satellite: name, expiresAt: issued.joinTokenExpiresAt }, 'join token issued');
      return issued;
    });
  }

  /** `POST /v1/ztr`: a one-time token and the device's public key -> the site's credentials. */
  async register(req: Req<'register'>): Promise<SiteCredentials> {
    await this.limit('ip', req.ip);
    const authority = this.requireAuthority();
    const parsed = parseJoinToken(req.token);
    if (!parsed) throw invalidToken();
    const result = await withTransaction(this.pool, async (c) => {
      const token = await ztrStore.lockJoinToken(c, parsed.id);
      if (!token || !secretMatches(parsed.secret, token.secretHash)) throw invalidToken();
      await this.limit('satellite', token.satellite);
      if (token.usedAt) throw new UplinkError(ErrorCode.JOIN_TOKEN_USED, 'this join token was already used: ask an operator for a new one');
      if (token.expired) throw new UplinkError(ErrorCode.JOIN_TOKEN_EXPIRED, 'this join token has expired: ask an operator for a new one');
      const site = await ztrStore.lockSite(c, token.satellite);
      if (!site) throw invalidToken();
      if (site.revokedAt) throw new UplinkError(ErrorCode.SATELLITE_REVOKED, `satellite "${site.name}" is revoked`);

      const accountKey = site.accountKey ?? createNKey('account').publicKey;
      const revokedKeys = { ...site.revokedKeys };
      // a new device for this site: the old device's credentials stop working at once
      if (site.deviceKey && site.deviceKey !== req.publicKey) revokedKeys[site.deviceKey] = nowSeconds();
      const accountJwt = await this.pushSiteAccount(authority, site.name, accountKey, revokedKeys, false);
      const user = await mintSiteUser({
        satellite: site.name,
        devicePublicKey: req.publicKey,
        account: accountKey,
        signer: authority.siteSigner,
        ttlSeconds: this.siteJwtTtlSeconds,
      });
      const expiresAt = new Date(user.expiresAt!);
      // last, so that a refusal above creates no robot; its secret is shown only in this reply
      const robot = this.opts.harbor ? { [this.opts.harbor.registry]: await this.opts.harbor.issue(site.name) } : {};
      await ztrStore.recordRegistration(c, { name: site.name, deviceKey: req.publicKey, fingerprint: req.fingerprint, accountKey, accountJwt, expiresAt, revokedKeys });
      await ztrStore.markJoinTokenUsed(c, token.id, req.ip);
      const creds = this.credentials(site.name, accountKey, user.jwt, expiresAt);
      return { ...creds, registryCredentials: { ...creds.registryCredentials, ...robot } };
    });
    this.log.info({ satellite: result.satellite, account: result.account, ip: req.ip, expiresAt: result.expiresAt }, 'site registered');
    return result;
  }

  /** `POST /v1/ztr/renew`: a fresh user JWT for the registered device key, proven by its signature. */
  async renew(req: Req<'renew'>): Promise<SiteCredentials> {
    await this.limit('ip', req.ip);
    const authority = this.requireAuthority();
    const skew = Math.abs(Date.parse(req.timestamp) - Date.now()) / 1000;
    if (!(skew <= (this.opts.maxClockSkewSeconds ?? 300))) {
      throw new UplinkError(ErrorCode.UNAUTHORIZED, 'the renewal timestamp is more than five minutes off: check the device clock');
    }
    if (!verifySignature(req.publicKey, renewPayload(req.satellite, req.publicKey, req.timestamp), req.signature)) {
      throw new UplinkError(ErrorCode.UNAUTHORIZED, 'the renewal signature does not match the public key');
    }
    const result = await withTransaction(this.pool, async (c) => {
      const site = await ztrStore.lockSite(c, req.satellite);
      if (site?.revokedAt) throw new UplinkError(ErrorCode.SATELLITE_REVOKED, `satellite "${req.satellite}" is revoked: it cannot renew`);
      if (!site || !site.accountKey || site.deviceKey !== req.publicKey) {
        throw new UplinkError(ErrorCode.UNAUTHORIZED, `this key is not the registered device key of "${req.satellite}": register again with a new join token`);
      }
      // counted only for the site's own key, so that nobody else can use up its renewals
      await this.limit('satellite', req.satellite);
      const user = await mintSiteUser({
        satellite: site.name,
        devicePublicKey: req.publicKey,
        account: site.accountKey,
        signer: authority.siteSigner,
        ttlSeconds: this.siteJwtTtlSeconds,
      });
      const expiresAt = new Date(user.expiresAt!);
      await ztrStore.recordRenewal(c, site.name, expiresAt);
      return this.credentials(site.name, site.accountKey, user.jwt, expiresAt);
    });
    this.log.info({ satellite: result.satellite, ip: req.ip, expiresAt: result.expiresAt }, 'site credentials renewed');
    return result;
  }

  /**
   * Revoke a satellite: its device key goes into the site account's revocations and the account loses
   * its imports, pushed to the hub at once (the hub drops the leaf); it cannot renew. Returns false
   * when it was already revoked.
   */
  async revoke(name: string): Promise<boolean> {
    const done = await withTransaction(this.pool, async (c) => {
      const site = await ztrStore.lockSite(c, name);
      if (!site) throw new UplinkError(ErrorCode.SATELLITE_NOT_FOUND, `no satellite named "${name}"`);
      if (site.revokedAt) return false;
      const revokedKeys = { ...site.revokedKeys };
      if (site.deviceKey) revokedKeys[site.deviceKey] = nowSeconds();
      let accountJwt: string | undefined;
      if (site.accountKey) {
        if (this.authority) accountJwt = await this.pushSiteAccount(this.authority, name, site.accountKey, revokedKeys, true);
        else this.log.warn({ satellite: name }, 'revoked without NATS keys configured: the site keeps its link until its JWT expires');
      }
      await ztrStore.recordRevocation(c, name, revokedKeys, accountJwt);
      return true;
    });
    if (done) {
      this.log.info({ satellite: name }, 'satellite revoked');
      await this.opts.harbor?.remove(name).catch((err: unknown) => this.log.error({ satellite: name, err: (err as Error).message }, 'the Harbor robot of a revoked site could not be deleted: delete it in Harbor'));
    }
    return done;
  }

  /**
   * Push every site account to the hub again (its resolver may have lost them), as last pushed: a
   * revoked site stays revoked. `onlyMissing`: only those the hub's resolver does not list (cheap when
   * it holds them all; an outdated JWT it holds stays). Batches of sites are locked while they are
   * pushed, so a concurrent registration or revocation is never overtaken by an older JWT. Never
   * throws; stops early when a whole batch fails (the hub is unreachable) and counts the rest as
   * failed, or between batches when `signal` aborts.
   */
  async pushAllAccounts(opts: { onlyMissing?: boolean; batchSize?: number; signal?: AbortSignal } = {}): Promise<AccountPushReport> {
    const report: AccountPushReport = { pushed: 0, revoked: 0, encoded: 0, skipped: 0, failed: 0 };
    const a = this.authority;
    if (!a) return report;
    const batchSize = opts.batchSize ?? 100;
    let held: Set<string> | undefined;
    if (opts.onlyMissing) {
      try {
        held = new Set(await listResolverAccounts(a.sys));
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'the hub did not list its accounts: pushing every site account');
      }
    }
    let after = '';
    try {
      while (!opts.signal?.aborted) {
        const batch = await withTransaction(this.pool, async (c) => {
          const locked = await ztrStore.lockSiteAccounts(c, after, batchSize);
          const rows = held ? locked.filter((r) => !held.has(r.accountKey)) : locked;
          report.skipped += locked.length - rows.length;
          const results = await Promise.allSettled(
            rows.map(async (row) => {
              let jwt = row.accountJwt;
              if (!jwt) {
                // registered before the JWT was kept: encode it once from what the row holds
                jwt = await this.encodeSiteAccount(a, row.name, row.accountKey, row.revokedKeys, row.revokedAt !== null);
                await ztrStore.saveAccountJwt(c, row.name, jwt);
                report.encoded++;
              }
              await pushAccountJwt(a.sys, jwt);
            }),
          );
          results.forEach((r, i) => {
            if (r.status === 'fulfilled') {
              report.pushed++;
              if (rows[i]!.revokedAt) report.revoked++;
            } else {
              report.failed++;
              report.firstError ??= `${rows[i]!.name}: ${(r.reason as Error).message}`;
            }
          });
          return { last: locked.at(-1)?.name, allFailed: rows.length > 0 && results.every((r) => r.status === 'rejected') };
        });
        if (batch.last === undefined) break;
        after = batch.last;
        if (batch.allFailed) {
          report.failed += await ztrStore.countSiteAccountsAfter(this.pool, after);
          break;
        }
      }
    } catch (err) {
      report.firstError ??= (err as Error).message;
      report.failed++;
    }
    return report;
  }

  private encodeSiteAccount(a: SiteAuthority, satellite: string, accountKey: string, revocations: Record<string, number>, revoked: boolean): Promise<string> {
    return encodeSiteAccount({
      satellite,
      accountPublicKey: accountKey,
      appAccount: a.appAccount,
      appSigner: a.appSigner,
      operatorSigner: a.operatorSigner,
      signingKeys: [keyPairFromSeed(a.siteSigner, 'account').getPublicKey()],
      revocations,
      revoked,
    });
  }

  /** Encode and push the site account; the JWT as pushed. */
  private async pushSiteAccount(a: SiteAuthority, satellite: string, accountKey: string, revocations: Record<string, number>, revoked: boolean): Promise<string> {
    const jwt = await this.encodeSiteAccount(a, satellite, accountKey, revocations, revoked);
    try {
      await pushAccountJwt(a.sys, jwt);
    } catch (err) {
      this.log.error({ satellite, err: (err as Error).message }, 'pushing the site account to the hub failed');
      throw new UplinkError(ErrorCode.SERVICE_UNAVAILABLE, `the hub did not take the account of "${satellite}": try again`, { cause: err });
    }
    return jwt;
  }

  private credentials(satellite: string, account: string, jwt: string, expiresAt: Date): SiteCredentials {
    return {
      satellite,
      account,
      jwt,
      expiresAt: expiresAt.toISOString(),
      hub: this.opts.hub,
      ...(this.opts.commandSigningKey ? { commandSigningKey: this.opts.commandSigningKey } : {}),
      ...(this.opts.caBundle ? { caBundle: this.opts.caBundle } : {}),
      registryCredentials: this.opts.registryCredentials ?? {},
    };
  }

  private requireAuthority(): SiteAuthority {
    if (!this.authority) {
      throw new UplinkError(
        ErrorCode.SERVICE_UNAVAILABLE,
        'zero-touch registration is not configured: registration needs NATS_OPERATOR_SIGNING_SEED, NATS_APP_ACCOUNT, NATS_APP_SIGNING_SEED, NATS_SITE_SIGNING_SEED and NATS_SYSTEM_CREDS',
      );
    }
    return this.authority;
  }

  private async limit(scope: 'ip' | 'satellite', key: string): Promise<void> {
    const r = await this.limiter.hit(scope, key);
    if (!r.allowed) {
      throw new UplinkError(ErrorCode.TOO_MANY_ATTEMPTS, `too many registration attempts ${scope === 'ip' ? 'from this address' : 'for this satellite'}: retry in ${r.retryAfterSeconds} s`, {
        details: { retryAfterSeconds: r.retryAfterSeconds },
      });
    }
  }
}

function invalidToken(): UplinkError {
  return new UplinkError(ErrorCode.JOIN_TOKEN_INVALID, 'unknown join token: check it was copied whole, or ask an operator for a new one');
}
