// `uplink.rpc.registration.<method>`: every request validated with its contract schema, every reply
// an RpcReply envelope (errors keep their stable code; nothing is thrown across the wire).
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { parseOrThrow, rpcError, rpcMethods, rpcOk, rpcSubject, UplinkError, type RpcMethod, type RpcReply, type RpcRequest } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { Registration } from './registration.js';

export const LOGGER = Symbol('Logger');

type Method = RpcMethod<'registration'>;

@Controller()
export class RegistrationRpcController {
  constructor(
    @Inject(Registration) private readonly registration: Registration,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @MessagePattern(rpcSubject('registration', 'createSatellite'))
  createSatellite(data: unknown) {
    return this.call('createSatellite', data, (r) => this.registration.createSatellite(r));
  }

  @MessagePattern(rpcSubject('registration', 'listSatellites'))
  listSatellites(data: unknown) {
    return this.call('listSatellites', data, (r) => this.registration.listSatellites(r));
  }

  @MessagePattern(rpcSubject('registration', 'getSatellite'))
  getSatellite(data: unknown) {
    return this.call('getSatellite', data, (r) => this.registration.getSatellite(r));
  }

  @MessagePattern(rpcSubject('registration', 'deleteSatellite'))
  deleteSatellite(data: unknown) {
    return this.call('deleteSatellite', data, (r) => this.registration.deleteSatellite(r));
  }

  private async call<M extends Method, T>(method: M, data: unknown, fn: (req: RpcRequest<'registration', M>) => Promise<T>): Promise<RpcReply<T>> {
    try {
      const req = parseOrThrow(rpcMethods.registration[method], data ?? {}, `${method} request`) as RpcRequest<'registration', M>;
      return rpcOk(await fn(req));
    } catch (err) {
      if (!(err instanceof UplinkError)) this.log.error({ err, method }, 'rpc failed');
      return rpcError(err);
    }
  }
}
