// /v1/tokens: API tokens with an expiry (admin only, see access.ts). A token is shown once, in the
// answer to its creation; it grants at most the role of its user (default: the caller).
import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { CreateTokenBody, ErrorCode, ListTokensQuery, TokenId, UplinkError } from '@uplink/contracts';
import { Caller } from '../auth.js';
import { RpcGateway } from '../rpc-gateway.js';
import { JsonBody, pathParam, query } from '../validation.js';
import type { Principal } from './token-verifier.js';

@Controller('v1/tokens')
export class TokensController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  @Get()
  list(@Query(query(ListTokensQuery)) q: ListTokensQuery) {
    return this.rpc.call('auth', 'listApiTokens', q);
  }

  /** `{ name, user?, role?, expiresInSeconds? }` -> the token and its record */
  @Post()
  @HttpCode(201)
  create(@JsonBody(CreateTokenBody) body: CreateTokenBody, @Caller() caller: Principal) {
    const user = body.user ?? (caller.kind === 'bootstrap' ? undefined : caller.user);
    if (user === undefined) {
      throw new UplinkError(ErrorCode.VALIDATION_FAILED, 'the bootstrap admin token belongs to no user: give "user"', {
        details: [{ path: 'user', message: 'required with the bootstrap admin token' }],
      });
    }
    return this.rpc.call('auth', 'createApiToken', { ...body, user });
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@Param('id', pathParam('id', TokenId)) id: string): Promise<void> {
    await this.rpc.call('auth', 'revokeApiToken', { id });
  }
}
