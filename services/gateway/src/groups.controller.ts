// /v1/groups: groups of satellites and the artifacts assigned to them (state-publisher).
import { Controller, Delete, Get, HttpCode, Inject, Param, Put } from '@nestjs/common';
import { PutGroupBody } from '@uplink/contracts';
import { RpcGateway } from './rpc-gateway.js';
import { JsonBody, groupParam, satelliteParam } from './validation.js';

@Controller('v1/groups')
export class GroupsController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  @Get()
  list() {
    return this.rpc.call('state', 'listGroups', {});
  }

  @Get(':group')
  get(@Param('group', groupParam()) name: string) {
    return this.rpc.call('state', 'getGroup', { name });
  }

  @Put(':group')
  put(@Param('group', groupParam()) name: string, @JsonBody(PutGroupBody) body: PutGroupBody) {
    return this.rpc.call('state', 'putGroup', { name, body });
  }

  @Delete(':group')
  @HttpCode(204)
  async delete(@Param('group', groupParam()) name: string): Promise<void> {
    await this.rpc.call('state', 'deleteGroup', { name });
  }

  @Put(':group/satellites/:name')
  assign(@Param('group', groupParam()) group: string, @Param('name', satelliteParam()) satellite: string) {
    return this.rpc.call('state', 'assign', { group, satellite });
  }

  @Delete(':group/satellites/:name')
  @HttpCode(204)
  async unassign(@Param('group', groupParam()) group: string, @Param('name', satelliteParam()) satellite: string): Promise<void> {
    await this.rpc.call('state', 'unassign', { group, satellite });
  }
}
