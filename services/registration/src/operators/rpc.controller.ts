// `uplink.rpc.auth.<method>`: users, logins, tokens and the audit trail. Every request is validated
// with its contract schema, every reply is an RpcReply envelope.
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { parseOrThrow, rpcError, rpcMethods, rpcOk, rpcSubject, UplinkError, type RpcMethod, type RpcReply, type RpcRequest } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { LOGGER } from '../rpc.controller.js';
import { Operators } from './operators.js';

type Method = RpcMethod<'auth'>;

@Controller()
export class AuthRpcController {
  constructor(
    @Inject(Operators) private readonly operators: Operators,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @MessagePattern(rpcSubject('auth', 'login'))
  login(data: unknown) {
    return this.call('login', data, (r) => this.operators.login(r));
  }

  @MessagePattern(rpcSubject('auth', 'verifyToken'))
  verifyToken(data: unknown) {
    return this.call('verifyToken', data, (r) => this.operators.verifyToken(r));
  }

  @MessagePattern(rpcSubject('auth', 'createUser'))
  createUser(data: unknown) {
    return this.call('createUser', data, (r) => this.operators.createUser(r));
  }

  @MessagePattern(rpcSubject('auth', 'listUsers'))
  listUsers(data: unknown) {
    return this.call('listUsers', data, () => this.operators.listUsers());
  }

  @MessagePattern(rpcSubject('auth', 'getUser'))
  getUser(data: unknown) {
    return this.call('getUser', data, (r) => this.operators.getUser(r));
  }

  @MessagePattern(rpcSubject('auth', 'updateUser'))
  updateUser(data: unknown) {
    return this.call('updateUser', data, (r) => this.operators.updateUser(r));
  }

  @MessagePattern(rpcSubject('auth', 'createApiToken'))
  createApiToken(data: unknown) {
    return this.call('createApiToken', data, (r) => this.operators.createApiToken(r));
  }

  @MessagePattern(rpcSubject('auth', 'listApiTokens'))
  listApiTokens(data: unknown) {
    return this.call('listApiTokens', data, (r) => this.operators.listApiTokens(r));
  }

  @MessagePattern(rpcSubject('auth', 'revokeApiToken'))
  revokeApiToken(data: unknown) {
    return this.call('revokeApiToken', data, (r) => this.operators.revokeApiToken(r));
  }

  @MessagePattern(rpcSubject('auth', 'queryAudit'))
  queryAudit(data: unknown) {
    return this.call('queryAudit', data, (r) => this.operators.queryAudit(r));
  }

  private async call<M extends Method, T>(method: M, data: unknown, fn: (req: RpcRequest<'auth', M>) => Promise<T>): Promise<RpcReply<T>> {
    try {
      const req = parseOrThrow(rpcMethods.auth[method], data ?? {}, `${method} request`) as RpcRequest<'auth', M>;
      return rpcOk(await fn(req));
    } catch (err) {
      if (!(err instanceof UplinkError)) this.log.error({ err, method }, 'rpc failed');
      return rpcError(err);
    }
  }
}
