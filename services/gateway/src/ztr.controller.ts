// /v1/ztr: zero-touch registration and renewal of sites. No bearer token: a registration proves
// itself with a one-time join token, a renewal with a signature of the registered device key.
// Registration rate-limits both per client address (passed along) and per satellite.
import { Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RenewBody, ZtrBody } from '@uplink/contracts';
import { Public } from './auth.js';
import { RpcGateway } from './rpc-gateway.js';
import { JsonBody } from './validation.js';

@Public()
@Controller('v1/ztr')
export class ZtrController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  @Post()
  @HttpCode(200)
  register(@JsonBody(ZtrBody) body: ZtrBody, @Req() req: FastifyRequest) {
    return this.rpc.call('ztr', 'register', { ...body, ip: req.ip });
  }

  @Post('renew')
  @HttpCode(200)
  renew(@JsonBody(RenewBody) body: RenewBody, @Req() req: FastifyRequest) {
    return this.rpc.call('ztr', 'renew', { ...body, ip: req.ip });
  }
}
