// /v1/commands: remote commands to satellites, groups or label selections (command service).
import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { z } from 'zod';
import { CreateCommandBody, ListCommandsQuery } from '@uplink/contracts';
import { RpcGateway } from '../rpc-gateway.js';
import { JsonBody, pathParam, query } from '../validation.js';

const commandId = () => pathParam('id', z.uuid('must be a command id (a UUID)'));

@Controller('v1/commands')
export class CommandsController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  /** `{ target, action, args, timeoutSeconds, deadline?, rollout? }` -> `{ id, targets }`; args are checked against the action's schema here */
  @Post()
  @HttpCode(201)
  create(@JsonBody(CreateCommandBody) body: CreateCommandBody) {
    return this.rpc.call('command', 'create', body);
  }

  @Get()
  list(@Query(query(ListCommandsQuery)) q: ListCommandsQuery) {
    return this.rpc.call('command', 'list', q);
  }

  @Get(':id')
  get(@Param('id', commandId()) id: string) {
    return this.rpc.call('command', 'get', { id });
  }

  @Post(':id/cancel')
  @HttpCode(200)
  cancel(@Param('id', commandId()) id: string) {
    return this.rpc.call('command', 'cancel', { id });
  }
}
