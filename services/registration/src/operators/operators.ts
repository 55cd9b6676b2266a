// Operators' identity: users with roles, password logins with per-account lockout and a per-address
// rate limit, bearer tokens (sessions and API tokens, stored as sha256, always expiring), token
// verification for the gateway, and the audit trail the gateway publishes on EVENTS.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  API_TOKEN_DEFAULT_TTL_S,
  ErrorCode,
  UplinkError,
  bearerTokenHash,
  lesserRole,
  roleAtLeast,
  type AuditEvent,
  type AuditPage,
  type CreatedToken,
  type LoginResult,
  type RpcMethod,
  type RpcRequest,
  type TokenView,
  type UserView,
  type VerifiedToken,
} from '@uplink/contracts';
import type { Pool } from '@uplink/db';
import type { Logger } from '@uplink/observability';
import type { LoginRateLimiter } from './login-limiter.js';
import { hashPassword, verifyNothing, verifyPassword, type ScryptParams } from './passwords.js';
import * as store from './store.js';

type Req<M extends RpcMethod<'auth'>> = RpcRequest<'auth', M>;

export interface LoginPolicy {
  /** lifetime of a login's session token */
  sessionTtlSeconds: number;
  /** failed logins within the window that lock the account */
  maxFailures: number;
  failureWindowSeconds: number;
  lockoutSeconds: number;
}

export interface OperatorsOptions {
  pool: Pool;
  logger: Logger;
  limiter: LoginRateLimiter;
  policy: LoginPolicy;
  /** publish an audit event on EVENTS (for changes registration makes by itself, such as the first admin) */
  publishAudit: (event: AuditEvent) => Promise<void>;
  /** @default DEFAULT_SCRYPT (tests may lower it) */
  scrypt?: ScryptParams;
}

/** A new bearer token: 256 random bits. */
export function newBearerToken(): string {
  return `upl_${randomBytes(32).toString('base64url')}`;
}

const newTokenId = () => `tok_${randomBytes(8).toString('hex')}`;
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

const invalidLogin = () => new UplinkError(ErrorCode.UNAUTHORIZED, 'invalid user name or password');

export class Operators {
  private readonly pool: Pool;
  private readonly log: Logger;
  private readonly opts: OperatorsOptions;

  constructor(opts: OperatorsOptions) {
    this.pool = opts.pool;
    this.log = opts.logger;
    this.opts = opts;
  }

  async login({ username, password, ip }: Req<'login'>): Promise<LoginResult> {
    const { policy } = this.opts;
    if (ip !== undefined) {
      const limit = await this.opts.limiter.hit(ip);
      if (!limit.allowed) {
        throw new UplinkError(ErrorCode.TOO_MANY_ATTEMPTS, `too many login attempts from ${ip}: try again in ${limit.retryAfterSeconds} s`, {
          details: { retryAfterSeconds: limit.retryAfterSeconds },
        });
      }
    }
    const user = await store.getUser(this.pool, username);
    if (!user) {
      await verifyNothing(password);
      throw invalidLogin();
    }
    if (user.lockedUntil && new Date(user.lockedUntil).getTime() > Date.now()) throw locked(user.lockedUntil);
    if (!(await verifyPassword(password, user.passwordHash))) {
      const failed = await store.recordFailedLogin(this.pool, username, {
        maxFailures: policy.maxFailures,
        windowSeconds: policy.failureWindowSeconds,
        lockoutSeconds: policy.lockoutSeconds,
      });
      if (failed?.lockedUntil && new Date(failed.lockedUntil).getTime() > Date.now()) {
        this.log.warn({ user: username, ip, lockedUntil: failed.lockedUntil }, 'account locked after repeated failed logins');
        throw locked(failed.lockedUntil);
      }
      throw invalidLogin();
    }
    if (user.disabledAt) throw new UplinkError(ErrorCode.UNAUTHORIZED, `user "${username}" is disabled: ask an admin to enable it`);
    await store.clearFailedLogins(this.pool, username);
    const token = newBearerToken();
    const row = await store.insertToken(this.pool, {
      id: newTokenId(),
      tokenHash: bearerTokenHash(token),
      user: username,
      name: 'login',
      kind: 'session',
      role: user.role,
      expiresAt: new Date(Date.now() + policy.sessionTtlSeconds * 1000),
    });
    this.log.info({ user: username, ip, token: row.id }, 'login');
    return { token, expiresAt: row.expiresAt.toISOString(), role: user.role, username };
  }

  async verifyToken({ tokenHash }: Req<'verifyToken'>): Promise<VerifiedToken> {
    const t = await store.findToken(this.pool, tokenHash);
    if (!t) throw new UplinkError(ErrorCode.UNAUTHORIZED, 'unknown bearer token: log in again (`uplink login`) or ask an admin for a token');
    if (t.revokedAt) throw new UplinkError(ErrorCode.UNAUTHORIZED, `bearer token ${t.id} was revoked at ${iso(t.revokedAt)}: log in again`);
    if (t.expired) throw new UplinkError(ErrorCode.UNAUTHORIZED, `bearer token ${t.id} expired at ${iso(t.expiresAt)}: log in again`);
    if (t.userDisabledAt) throw new UplinkError(ErrorCode.UNAUTHORIZED, `user "${t.user}" is disabled`);
    store.touchToken(this.pool, t.id).catch((err: unknown) => this.log.warn({ err: (err as Error).message, token: t.id }, 'could not note token use'));
    return { tokenId: t.id, user: t.user, role: lesserRole(t.role, t.userRole), kind: t.kind, expiresAt: t.expiresAt.toISOString() };
  }

  async createUser({ name, role, password }: Req<'createUser'>): Promise<UserView> {
    const passwordHash = await hashPassword(password, this.opts.scrypt);
    if (!(await store.insertUser(this.pool, { name, role, passwordHash }))) {
      throw new UplinkError(ErrorCode.ALREADY_EXISTS, `a user named "${name}" already exists`);
    }
    this.log.info({ user: name, role }, 'user created');
    return this.getUser({ name });
  }

  async listUsers(): Promise<UserView[]> {
    return (await store.listUsers(this.pool)).map(toUserView);
  }

  async getUser({ name }: Req<'getUser'>): Promise<UserView> {
    const row = await store.getUser(this.pool, name);
    if (!row) throw new UplinkError(ErrorCode.NOT_FOUND, `no user named "${name}"`);
    return toUserView(row);
  }

  async updateUser({ name, body }: Req<'updateUser'>): Promise<UserView> {
    if ((body.role !== undefined && body.role !== 'admin') || body.disabled === true) {
      const current = await store.getUser(this.pool, name);
      if (current?.role === 'admin' && !current.disabledAt && (await store.countEnabledAdmins(this.pool)) <= 1) {
        throw new UplinkError(ErrorCode.CONFLICT, `"${name}" is the last enabled admin: make another user admin first`);
      }
    }
    const passwordHash = body.password === undefined ? undefined : await hashPassword(body.password, this.opts.scrypt);
    const row = await store.updateUser(this.pool, name, { role: body.role, disabled: body.disabled, passwordHash });
    if (!row) throw new UplinkError(ErrorCode.NOT_FOUND, `no user named "${name}"`);
    // a new password ends the sessions opened with the old one
    if (passwordHash !== undefined) await store.revokeSessions(this.pool, name);
    this.log.info({ user: name, role: body.role, disabled: body.disabled, password: passwordHash !== undefined }, 'user changed');
    return toUserView(row);
  }

  async createApiToken(req: Req<'createApiToken'>): Promise<CreatedToken> {
    const user = await store.getUser(this.pool, req.user);
    if (!user) throw new UplinkError(ErrorCode.NOT_FOUND, `no user named "${req.user}"`);
    if (user.disabledAt) throw new UplinkError(ErrorCode.CONFLICT, `user "${req.user}" is disabled`);
    const role = req.role ?? user.role;
    if (!roleAtLeast(user.role, role)) {
      throw new UplinkError(ErrorCode.VALIDATION_FAILED, `a token cannot grant more than its user: "${req.user}" is ${user.role}, asked ${role}`);
    }
    const token = newBearerToken();
    const row = await store.insertToken(this.pool, {
      id: newTokenId(),
      tokenHash: bearerTokenHash(token),
      user: req.user,
      name: req.name,
      kind: 'api',
      role,
      expiresAt: new Date(Date.now() + (req.expiresInSeconds ?? API_TOKEN_DEFAULT_TTL_S) * 1000),
    });
    this.log.info({ user: req.user, token: row.id, role }, 'api token created');
    return { ...toTokenView(row), token };
  }

  async listApiTokens({ user }: Req<'listApiTokens'>): Promise<TokenView[]> {
    return (await store.listTokens(this.pool, user)).map(toTokenView);
  }

  async revokeApiToken({ id }: Req<'revokeApiToken'>): Promise<TokenView> {
    const row = await store.revokeToken(this.pool, id);
    if (!row) throw new UplinkError(ErrorCode.NOT_FOUND, `no token with id "${id}"`);
    this.log.info({ token: id, user: row.user }, 'token revoked');
    return toTokenView(row);
  }

  async queryAudit(q: Req<'queryAudit'>): Promise<AuditPage> {
    const rows = await store.queryAudit(this.pool, q);
    const page = rows.slice(0, q.limit);
    return {
      events: page.map(toAuditEvent),
      next: rows.length > q.limit ? Number(page.at(-1)!.seq) : null,
    };
  }

  /** Forget tokens expired for more than 30 days (listTokens no longer shows them either). */
  async purgeExpiredTokens(): Promise<void> {
    const n = await store.purgeExpiredTokens(this.pool);
    if (n > 0) this.log.info({ tokens: n }, 'expired tokens purged');
  }

  /** Store one audit event from EVENTS (idempotent on its id). */
  async recordAudit(event: AuditEvent): Promise<void> {
    await store.insertAuditEvent(this.pool, event);
  }

  /** The first admin from the environment: created once, never overwritten (its password may have changed since). */
  async ensureAdmin(name: string, password: string): Promise<boolean> {
    if (await store.getUser(this.pool, name)) return false;
    const passwordHash = await hashPassword(password, this.opts.scrypt);
    if (!(await store.insertUser(this.pool, { name, role: 'admin', passwordHash }))) return false;
    this.log.info({ user: name }, 'first admin created from ADMIN_USERNAME');
    await this.opts
      .publishAudit({
        id: randomUUID(),
        at: new Date().toISOString(),
        actor: 'registration',
        role: null,
        action: 'user.create',
        entity: 'user',
        entityId: name,
        outcome: 'ok',
        status: 201,
        requestId: 'startup',
        ip: null,
        method: 'INIT',
        path: 'ADMIN_USERNAME',
        body: { name, role: 'admin', password: '[redacted]' },
      })
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'audit event of the first admin not published'));
    return true;
  }
}

function locked(until: Date): UplinkError {
  const at = new Date(until);
  const retryAfterSeconds = Math.max(1, Math.ceil((at.getTime() - Date.now()) / 1000));
  return new UplinkError(ErrorCode.ACCOUNT_LOCKED, `account locked after repeated failed logins: try again after ${at.toISOString()}`, {
    details: { lockedUntil: at.toISOString(), retryAfterSeconds },
  });
}

function toUserView(u: store.UserRow): UserView {
  const lockedUntil = u.lockedUntil && new Date(u.lockedUntil).getTime() > Date.now() ? iso(u.lockedUntil) : null;
  return {
    name: u.name,
    role: u.role,
    disabled: u.disabledAt !== null,
    lockedUntil,
    createdAt: iso(u.createdAt)!,
    updatedAt: iso(u.updatedAt)!,
  };
}

function toTokenView(t: store.TokenRow): TokenView {
  return {
    id: t.id,
    name: t.name,
    user: t.user,
    role: t.role,
    kind: t.kind,
    createdAt: iso(t.createdAt)!,
    expiresAt: iso(t.expiresAt)!,
    revokedAt: iso(t.revokedAt),
    lastUsedAt: iso(t.lastUsedAt),
  };
}

function toAuditEvent(r: store.AuditRow): AuditEvent {
  return {
    id: r.id,
    at: iso(r.at)!,
    actor: r.actor,
    role: r.role,
    action: r.action,
    entity: r.entity,
    entityId: r.entityId,
    outcome: r.outcome,
    status: r.status,
    ...(r.code === null ? {} : { code: r.code }),
    requestId: r.requestId,
    ip: r.ip,
    method: r.method,
    path: r.path,
    ...(r.body === null ? {} : { body: r.body }),
  };
}
