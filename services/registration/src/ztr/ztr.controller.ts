// `uplink.rpc.ztr.<method>`: join tokens, registration and renewal of sites. Requests validated with
// their contract schemas, replies in the RpcReply envelope.
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { parseOrThrow, rpcError, rpcMethods, rpcOk, rpcSubject, UplinkError, type RpcMethod, type RpcReply, type RpcRequest } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { LOGGER } from '../rpc.controller.js';
import { ZeroTouchRegistration } from './zero-touch.js';

type Method = RpcMethod<'ztr'>;

@Controller()
export class ZtrRpcController {
  constructor(
    @Inject(ZeroTouchRegistration) private readonly ztr: ZeroTouchRegistration,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @MessagePattern(rpcSubject('ztr', 'register'))
  register(data: unknown) {
    return this.call('register', data, (r) => this.ztr.register(r));
  }

  @MessagePattern(rpcSubject('ztr', 'renew'))
  renew(data: unknown) {
    return this.call('renew', data, (r) => this.ztr.renew(r));
  }

  @MessagePattern(rpcSubject('ztr', 'issueJoinToken'))
  issueJoinToken(data: unknown) {
    return this.call('issueJoinToken', data, (r) => this.ztr.issueJoinToken(r.name));
  }

  private async call<M extends Method, T>(method: M, data: unknown, fn: (req: RpcRequest<'ztr', M>) => Promise<T>): Promise<RpcReply<T>> {
    try {
      const req = parseOrThrow(rpcMethods.ztr[method], data ?? {}, `${method} request`) as RpcRequest<'ztr', M>;
      return rpcOk(await fn(req));
    } catch (err) {
      if (!(err instanceof UplinkError)) this.log.error({ err, method }, 'rpc failed');
      return rpcError(err);
    }
  }
}
