// POST /v1/login {username, password} -> {token, expiresAt, role, username}: a session token for a
// user. Public; registration applies the per-account lockout and the per-address rate limit.
import { Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LoginBody, LoginResult } from '@uplink/contracts';
import { Public } from '../auth.js';
import { RpcGateway } from '../rpc-gateway.js';
import { JsonBody } from '../validation.js';

@Public()
@Controller('v1/login')
export class LoginController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  @Post()
  @HttpCode(200)
  async login(@JsonBody(LoginBody) body: LoginBody, @Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<LoginResult> {
    const result = LoginResult.parse(await this.rpc.call('auth', 'login', { ...body, ip: req.ip }));
    void reply.header('cache-control', 'no-store');
    return result;
  }
}
