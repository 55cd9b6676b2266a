// Who a bearer token stands for. The bootstrap ADMIN_TOKEN is compared here (sha256 digests with
// timingSafeEqual, so neither length nor content leaks through timing); any other token must look like
// one Uplink issues and is looked up by its sha256 through registration (`auth.verifyToken`). Answers
// are cached for AUTH_CACHE_TTL_MS; a change of users or tokens through any gateway (an audit event
// `uplink.events.audit.user-<verb>` or `token-<verb>`) empties the cache, so revocations apply at once.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { BEARER_TOKEN_PATTERN, ErrorCode, UplinkError, VerifiedToken, bearerTokenHash, type Role } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import type { GatewayConfig } from '../env.js';
import { RpcGateway } from '../rpc-gateway.js';
import { GATEWAY_ENV, LOGGER, NATS_CLIENT } from '../tokens.js';

export interface Principal {
  /** user name; "ADMIN_TOKEN" for the bootstrap token */
  user: string;
  role: Role;
  kind: 'bootstrap' | 'session' | 'api';
  /** null for the bootstrap token */
  tokenId: string | null;
}

/** Audit events of users and tokens, after which cached answers may be wrong. */
const AUTH_CHANGE = /^uplink\.events\.audit\.(user|token)-/;

const MAX_ENTRIES = 10_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

type Entry = { until: number; principal: Principal; expiresAt: number } | { until: number; error: UplinkError };

@Injectable()
export class TokenVerifier implements OnApplicationShutdown {
  private readonly adminDigest: Buffer | undefined;
  private readonly cache = new Map<string, Entry>();
  private sub: Subscription | undefined;

  constructor(
    @Inject(GATEWAY_ENV) private readonly env: GatewayConfig,
    @Inject(RpcGateway) private readonly rpc: RpcGateway,
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.adminDigest = env.ADMIN_TOKEN === undefined ? undefined : sha256(env.ADMIN_TOKEN);
  }

  onApplicationShutdown(): void {
    this.sub?.unsubscribe();
  }

  /** The caller a token stands for; UNAUTHORIZED when it stands for no one (any more). */
  async verify(token: string): Promise<Principal> {
    if (this.adminDigest && timingSafeEqual(sha256(token), this.adminDigest)) {
      return { user: 'ADMIN_TOKEN', role: 'admin', kind: 'bootstrap', tokenId: null };
    }
    if (!BEARER_TOKEN_PATTERN.test(token)) throw new UplinkError(ErrorCode.UNAUTHORIZED, 'invalid bearer token');
    this.watchChanges();
    const hash = bearerTokenHash(token);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) {
      if ('error' in hit) throw hit.error;
      if (hit.expiresAt > now) return hit.principal;
    }
    const until = now + this.env.AUTH_CACHE_TTL_MS;
    try {
      const v = VerifiedToken.parse(await this.rpc.call('auth', 'verifyToken', { tokenHash: hash }));
      const principal: Principal = { user: v.user, role: v.role, kind: v.kind, tokenId: v.tokenId };
      this.remember(hash, { until, principal, expiresAt: Date.parse(v.expiresAt) });
      return principal;
    } catch (err) {
      if (err instanceof UplinkError && err.code === ErrorCode.UNAUTHORIZED) this.remember(hash, { until, error: err });
      throw err;
    }
  }

  /** Drop every cached answer (after a change of users or tokens). */
  forget(): void {
    this.cache.clear();
  }

  private remember(hash: string, entry: Entry): void {
    if (this.env.AUTH_CACHE_TTL_MS === 0) return;
    this.cache.delete(hash);
    this.cache.set(hash, entry);
    // Map iteration is insertion order: drop the oldest
    for (const key of this.cache.keys()) {
      if (this.cache.size <= MAX_ENTRIES) break;
      this.cache.delete(key);
    }
  }

  /** Subscribe once NATS is connected; until then the cache TTL bounds staleness. */
  private watchChanges(): void {
    if (this.sub || this.env.AUTH_CACHE_TTL_MS === 0) return;
    let nc: NatsConnection;
    try {
      nc = this.client.unwrap<NatsConnection>();
    } catch {
      return; // not connected yet
    }
    this.sub = nc.subscribe('uplink.events.audit.*', {
      callback: (err, msg) => {
        if (err) this.log.warn({ err: err.message }, 'audit subscription failed');
        else if (AUTH_CHANGE.test(msg.subject)) this.forget();
      },
    });
  }
}
