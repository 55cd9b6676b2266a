// Authentication and authorisation of every route except those marked @Public(): the bearer token is
// verified (TokenVerifier: the bootstrap ADMIN_TOKEN, else a user token looked up by its sha256), the
// caller is attached to the request, and the route's minimum role (@Roles, else the access table) is
// enforced: 401 UNAUTHORIZED without a valid token, 403 FORBIDDEN when the role is too low.
import { Inject, Injectable, createParamDecorator, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, UplinkError, roleAtLeast, type Role } from '@uplink/contracts';
import { minimumRole } from './operators/access.js';
import { AuditRecorder } from './operators/audit.js';
import { TokenVerifier, type Principal } from './operators/token-verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** who made the request, set by the auth guard on every non-public route */
    principal?: Principal;
  }
}

/** Marks a controller or handler as reachable without a bearer token (probes, ZTR, login). */
export const Public = Reflector.createDecorator<boolean>({ transform: () => true });

/** The least role a controller or handler needs, overriding the access table (operators/access.ts). */
export const Roles = Reflector.createDecorator<Role>();

/** The caller of a non-public route, e.g. `@Caller() caller: Principal`. */
export const Caller = createParamDecorator((_data: unknown, ctx: ExecutionContext) => ctx.switchToHttp().getRequest<FastifyRequest>().principal);

/** The token of an Authorization header that carries exactly `Bearer <token>`, else undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '')?.[1];
}

@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
    @Inject(AuditRecorder) private readonly audit: AuditRecorder,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride(Public, targets)) return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) {
      throw new UplinkError(
        ErrorCode.UNAUTHORIZED,
        req.headers.authorization === undefined
          ? 'missing bearer token: send "Authorization: Bearer <token>" (get one with `uplink login`)'
          : 'malformed Authorization header: send "Authorization: Bearer <token>"',
      );
    }
    const principal = await this.verifier.verify(token);
    req.principal = principal;
    const route = req.routeOptions?.url ?? req.url;
    const needed = this.reflector.getAllAndOverride(Roles, targets) ?? minimumRole(req.method, route);
    if (roleAtLeast(principal.role, needed)) return true;
    const denied = new UplinkError(
      ErrorCode.FORBIDDEN,
      `${req.method} ${route} needs the ${needed} role or higher; ${principal.user === 'ADMIN_TOKEN' ? 'this token' : `user "${principal.user}"`} has ${principal.role}`,
      { details: { needed, role: principal.role } },
    );
    await this.audit.recordFailure(req, denied);
    throw denied;
  }
}
