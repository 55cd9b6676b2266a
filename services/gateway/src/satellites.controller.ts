// /v1/satellites: registration of edge sites (registration) and their desired state and config
// (state-publisher).
import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query } from '@nestjs/common';
import { z } from 'zod';
import { CreateSatelliteBody, GroupName, PutSatelliteConfigBody } from '@uplink/contracts';
import { RpcGateway } from './rpc-gateway.js';
import { JsonBody, query, satelliteParam } from './validation.js';

const ListSatellitesQuery = z.strictObject({ group: GroupName.optional() });

@Controller('v1/satellites')
export class SatellitesController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  @Post()
  @HttpCode(201)
  create(@JsonBody(CreateSatelliteBody) body: CreateSatelliteBody) {
    return this.rpc.call('registration', 'createSatellite', body);
  }

  @Get()
  list(@Query(query(ListSatellitesQuery)) q: z.infer<typeof ListSatellitesQuery>) {
    return this.rpc.call('registration', 'listSatellites', q.group === undefined ? {} : { group: q.group });
  }

  @Get(':name')
  get(@Param('name', satelliteParam()) name: string) {
    return this.rpc.call('registration', 'getSatellite', { name });
  }

  /** a new one-time join token (earlier unused ones stop working) */
  @Post(':name/token')
  @HttpCode(201)
  issueJoinToken(@Param('name', satelliteParam()) name: string) {
    return this.rpc.call('ztr', 'issueJoinToken', { name });
  }

  /** revokes the satellite; deleting a revoked one removes it */
  @Delete(':name')
  @HttpCode(204)
  async delete(@Param('name', satelliteParam()) name: string): Promise<void> {
    await this.rpc.call('registration', 'deleteSatellite', { name });
  }

  @Get(':name/state')
  state(@Param('name', satelliteParam()) satellite: string) {
    return this.rpc.call('state', 'getState', { satellite });
  }

  @Put(':name/config')
  putConfig(@Param('name', satelliteParam()) satellite: string, @JsonBody(PutSatelliteConfigBody) body: PutSatelliteConfigBody) {
    return this.rpc.call('state', 'putConfig', { satellite, body });
  }
}
