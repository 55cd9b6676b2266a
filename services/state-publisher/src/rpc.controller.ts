// `uplink.rpc.state.<method>`: every request validated with its contract schema, every reply an
// RpcReply envelope (errors keep their stable code; nothing is thrown across the wire).
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { parseOrThrow, rpcError, rpcMethods, rpcOk, rpcSubject, UplinkError, type RpcMethod, type RpcReply, type RpcRequest } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { StatePublisher } from './state-publisher.js';

export const LOGGER = Symbol('Logger');

type Method = RpcMethod<'state'>;

@Controller()
export class StateRpcController {
  constructor(
    @Inject(StatePublisher) private readonly state: StatePublisher,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @MessagePattern(rpcSubject('state', 'putGroup'))
  putGroup(data: unknown) {
    return this.call('putGroup', data, (r) => this.state.putGroup(r));
  }

  @MessagePattern(rpcSubject('state', 'getGroup'))
  getGroup(data: unknown) {
    return this.call('getGroup', data, (r) => this.state.getGroup(r));
  }

  @MessagePattern(rpcSubject('state', 'listGroups'))
  listGroups(data: unknown) {
    return this.call('listGroups', data, (r) => this.state.listGroups(r));
  }

  @MessagePattern(rpcSubject('state', 'deleteGroup'))
  deleteGroup(data: unknown) {
    return this.call('deleteGroup', data, (r) => this.state.deleteGroup(r));
  }

  @MessagePattern(rpcSubject('state', 'assign'))
  assign(data: unknown) {
    return this.call('assign', data, (r) => this.state.assign(r));
  }

  @MessagePattern(rpcSubject('state', 'unassign'))
  unassign(data: unknown) {
    return this.call('unassign', data, (r) => this.state.unassign(r));
  }

  @MessagePattern(rpcSubject('state', 'getState'))
  getState(data: unknown) {
    return this.call('getState', data, (r) => this.state.getState(r));
  }

  @MessagePattern(rpcSubject('state', 'putConfig'))
  putConfig(data: unknown) {
    return this.call('putConfig', data, (r) => this.state.putConfig(r));
  }

  @MessagePattern(rpcSubject('state', 'recompute'))
  recompute(data: unknown) {
    return this.call('recompute', data, (r) => this.state.recompute(r));
  }

  private async call<M extends Method, T>(method: M, data: unknown, fn: (req: RpcRequest<'state', M>) => Promise<T>): Promise<RpcReply<T>> {
    try {
      const req = parseOrThrow(rpcMethods.state[method], data ?? {}, `${method} request`) as RpcRequest<'state', M>;
      return rpcOk(await fn(req));
    } catch (err) {
      if (!(err instanceof UplinkError)) this.log.error({ err, method }, 'rpc failed');
      return rpcError(err);
    }
  }
}
