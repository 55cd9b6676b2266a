// Operators (ARCHITECTURE §6): users with roles, login, API tokens and the audit trail, as REST bodies,
// RPC requests (`uplink.rpc.auth.*`, served by registration) and the `audit-event` message on EVENTS.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Name } from './names.js';

/** Bearer tokens that users hold: "upl_" and 256 random bits in base64url. */
export const BEARER_TOKEN_PATTERN = /^upl_[A-Za-z0-9_-]{43}$/;

/** What registration stores and the gateway sends for a bearer token: its sha256, in hex. */
export function bearerTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** viewer reads; operator also manages groups, assignments, configs and commands; admin also users, satellites and tokens. */
export const Role = z.enum(['viewer', 'operator', 'admin']);
export type Role = z.infer<typeof Role>;

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` grants at least what `min` grants. */
export function roleAtLeast(role: Role, min: Role): boolean {
  return rank[role] >= rank[min];
}

/** The lesser of two roles (a token never grants more than its user holds). */
export function lesserRole(a: Role, b: Role): Role {
  return rank[a] <= rank[b] ? a : b;
}

export const Username = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must match ^[a-z0-9][a-z0-9._-]{0,62}$ (lower case letters, digits, ".", "-" and "_")')
  .describe('user name');

/** A new password: long enough to resist guessing; login itself accepts any string and just fails. */
export const Password = z.string().min(12, 'must be at least 12 characters').max(1_024, 'must be at most 1024 characters');

/** `POST /v1/login` */
export const LoginBody = z.strictObject({ username: z.string().min(1).max(100), password: z.string().min(1).max(1_024) });
export type LoginBody = z.infer<typeof LoginBody>;

export const LoginResult = z.strictObject({
  /** bearer token of this session, shown only here */
  token: z.string(),
  expiresAt: z.iso.datetime(),
  role: Role,
  username: Username,
});
export type LoginResult = z.infer<typeof LoginResult>;

export const UserView = z.strictObject({
  name: Username,
  role: Role,
  disabled: z.boolean(),
  /** set while repeated failed logins keep the account locked */
  lockedUntil: z.iso.datetime().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type UserView = z.infer<typeof UserView>;

/** `POST /v1/users` */
export const CreateUserBody = z.strictObject({ name: Username, role: Role, password: Password });
export type CreateUserBody = z.infer<typeof CreateUserBody>;

/** `PATCH /v1/users/{name}`: only the fields given change. */
export const UpdateUserBody = z
  .strictObject({ role: Role.optional(), disabled: z.boolean().optional(), password: Password.optional() })
  .refine((b) => b.role !== undefined || b.disabled !== undefined || b.password !== undefined, {
    message: 'give at least one of "role", "disabled", "password"',
  });
export type UpdateUserBody = z.infer<typeof UpdateUserBody>;

export const TokenId = z.string().regex(/^tok_[a-f0-9]{16}$/, 'must be a token id such as "tok_0123456789abcdef"');

const DAY_S = 86_400;
export const API_TOKEN_DEFAULT_TTL_S = 90 * DAY_S;
export const API_TOKEN_MAX_TTL_S = 366 * DAY_S;

/** `POST /v1/tokens`: an API token for a user (default: the caller), at most that user's role. */
export const CreateTokenBody = z.strictObject({
  name: z.string().min(1).max(100).describe('what the token is for, e.g. "ci"'),
  user: Username.optional(),
  role: Role.optional(),
  expiresInSeconds: z.number().int().min(60).max(API_TOKEN_MAX_TTL_S).optional(),
});
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;

export const TokenView = z.strictObject({
  id: TokenId,
  name: z.string(),
  user: Username,
  /** the most this token grants; the user's current role caps it */
  role: Role,
  kind: z.enum(['session', 'api']),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().nullable(),
  lastUsedAt: z.iso.datetime().nullable(),
});
export type TokenView = z.infer<typeof TokenView>;

/** The reply to `POST /v1/tokens`: the only time the token itself is shown. */
export const CreatedToken = TokenView.extend({ token: z.string() });
export type CreatedToken = z.infer<typeof CreatedToken>;

export const ListTokensQuery = z.strictObject({ user: Username.optional() });
export type ListTokensQuery = z.infer<typeof ListTokensQuery>;

/** What a bearer token stands for, as registration answers verifyToken. */
export const VerifiedToken = z.strictObject({
  tokenId: TokenId,
  user: Username,
  /** effective role: the lesser of the token's and the user's */
  role: Role,
  kind: z.enum(['session', 'api']),
  expiresAt: z.iso.datetime(),
});
export type VerifiedToken = z.infer<typeof VerifiedToken>;

/** ok: the change was made; failed: the request was refused or broke; denied: the caller's role is too low. */
export const AuditOutcome = z.enum(['ok', 'failed', 'denied']);
export type AuditOutcome = z.infer<typeof AuditOutcome>;

/** One change (or attempt) through the REST API, on `uplink.events.audit.<entity>-<verb>` and in Postgres. */
export const AuditEvent = z.strictObject({
  id: z.uuid(),
  at: z.iso.datetime(),
  /** user name, "ADMIN_TOKEN" for the bootstrap token, the given user name for a login, null when unknown */
  actor: z.string().max(100).nullable(),
  role: Role.nullable(),
  /** `<entity>.<verb>`, e.g. "group.put", "user.login" */
  action: z.string().regex(/^[a-z0-9_-]{1,40}\.[a-z0-9_-]{1,40}$/),
  entity: Name,
  entityId: z.string().max(200).nullable(),
  outcome: AuditOutcome,
  /** HTTP status of the answer */
  status: z.number().int().min(100).max(599),
  /** error code of a failed or denied attempt */
  code: z.string().max(64).optional(),
  requestId: z.string().max(100),
  ip: z.string().max(100).nullable(),
  method: z.string().max(10),
  path: z.string().max(2_000),
  /** the request body with secrets (passwords, tokens, credentials) replaced by "[redacted]" */
  body: z.unknown().optional(),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

/** The EVENTS verb of an audit event: `<entity>-<verb>` (subject tokens have no dots). */
export function auditVerb(action: string): string {
  return action.replace('.', '-');
}

/** `GET /v1/audit`: newest first; `before` is the `next` cursor of the previous page. */
export const AuditQuery = z.strictObject({
  entity: Name.optional(),
  entityId: z.string().max(200).optional(),
  actor: z.string().max(100).optional(),
  action: z.string().max(81).optional(),
  outcome: AuditOutcome.optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  before: z.coerce.number().int().positive().optional(),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditPage = z.strictObject({
  events: z.array(AuditEvent),
  /** pass as `before` for the next (older) page; null on the last page */
  next: z.number().int().nullable(),
});
export type AuditPage = z.infer<typeof AuditPage>;

const sha256Hex = z.string().regex(/^[a-f0-9]{64}$/, 'must be a sha256 hex digest');

/** `uplink.rpc.auth.<method>` (registration). */
export const authRpcMethods = {
  /** `ip` feeds the per-address login rate limit */
  login: LoginBody.extend({ ip: z.string().max(100).optional() }),
  /** the gateway sends the sha256 of the bearer token, never the token */
  verifyToken: z.strictObject({ tokenHash: sha256Hex }),
  createUser: CreateUserBody,
  listUsers: z.strictObject({}),
  getUser: z.strictObject({ name: Username }),
  updateUser: z.strictObject({ name: Username, body: UpdateUserBody }),
  createApiToken: CreateTokenBody.extend({ user: Username }),
  listApiTokens: ListTokensQuery,
  revokeApiToken: z.strictObject({ id: TokenId }),
  queryAudit: AuditQuery,
} as const;
