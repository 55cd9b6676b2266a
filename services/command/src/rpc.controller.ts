// `uplink.rpc.command.<method>` (through the gateway): every request validated with its contract
// schema, every reply an RpcReply envelope (errors keep their stable code; nothing is thrown across).
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { parseOrThrow, rpcError, rpcMethods, rpcOk, rpcSubject, UplinkError, type RpcMethod, type RpcReply, type RpcRequest } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { CommandService } from './command-service.js';
import { LOGGER } from './tokens.js';

type Method = RpcMethod<'command'>;

@Controller()
export class CommandRpcController {
  constructor(
    @Inject(CommandService) private readonly commands: CommandService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  @MessagePattern(rpcSubject('command', 'create'))
  create(data: unknown) {
    return this.call('create', data, (r) => this.commands.create(r));
  }

  @MessagePattern(rpcSubject('command', 'get'))
  get(data: unknown) {
    return this.call('get', data, (r) => this.commands.get(r));
  }

  @MessagePattern(rpcSubject('command', 'list'))
  list(data: unknown) {
    return this.call('list', data, (r) => this.commands.list(r));
  }

  @MessagePattern(rpcSubject('command', 'cancel'))
  cancel(data: unknown) {
    return this.call('cancel', data, (r) => this.commands.cancel(r));
  }

  private async call<M extends Method, T>(method: M, data: unknown, fn: (req: RpcRequest<'command', M>) => Promise<T>): Promise<RpcReply<T>> {
    try {
      const req = parseOrThrow(rpcMethods.command[method], data ?? {}, `${method} request`) as RpcRequest<'command', M>;
      return rpcOk(await fn(req));
    } catch (err) {
      if (!(err instanceof UplinkError)) this.log.error({ err, method }, 'rpc failed');
      return rpcError(err);
    }
  }
}
