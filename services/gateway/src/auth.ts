// Bearer-token authentication for every route except those marked @Public(). Tokens are compared as
// sha256 digests with timingSafeEqual, so neither length nor content leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, UplinkError } from '@uplink/contracts';
import type { GatewayConfig } from './env.js';
import { GATEWAY_ENV } from './tokens.js';

/** Marks a controller or handler as reachable without a bearer token (probes, ZTR, login). */
export const Public = Reflector.createDecorator<boolean>({ transform: () => true });

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Whether an Authorization header carries exactly `Bearer <token>`. */
export function bearerMatches(header: string | undefined, expectedDigest: Buffer): boolean {
  const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header ?? '');
  // hash even when absent, so a missing header costs the same as a wrong one
  const given = sha256(m?.[1] ?? '');
  return timingSafeEqual(given, expectedDigest) && m !== null;
}

@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(
    @Inject(GATEWAY_ENV) env: GatewayConfig,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {
    this.expected = sha256(env.ADMIN_TOKEN);
  }

  canActivate(ctx: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride(Public, [ctx.getHandler(), ctx.getClass()])) return true;
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    if (bearerMatches(req.headers.authorization, this.expected)) return true;
    throw new UplinkError(
      ErrorCode.UNAUTHORIZED,
      req.headers.authorization === undefined
        ? 'missing bearer token: send "Authorization: Bearer <token>"'
        : 'invalid bearer token',
    );
  }
}
