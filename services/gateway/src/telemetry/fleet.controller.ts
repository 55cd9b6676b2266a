// Fleet health, served by telemetry-ingest: one site's status, the fleet summary, a site's stored
// telemetry and which sites hold which images.
import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ImagesQuery, TelemetryQuery } from '@uplink/contracts';
import { RpcGateway } from '../rpc-gateway.js';
import { query, satelliteParam } from '../validation.js';

@Controller('v1')
export class FleetController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  @Get('satellites/:name/status')
  status(@Param('name', satelliteParam()) name: string) {
    return this.rpc.call('telemetry', 'getStatus', { name });
  }

  @Get('fleet')
  fleet() {
    return this.rpc.call('telemetry', 'fleet', {});
  }

  /** a page of sites (`limit`, `cursor`), with `nextCursor` when more follow */
  @Get('images')
  images(@Query(query(ImagesQuery)) q: ImagesQuery) {
    return this.rpc.call('telemetry', 'images', { limit: q.limit, ...(q.cursor ? { after: q.cursor.after } : {}) });
  }

  @Get('telemetry/:name')
  telemetry(@Param('name', satelliteParam()) satellite: string, @Query(query(TelemetryQuery)) q: TelemetryQuery) {
    return this.rpc.call('telemetry', 'query', { satellite, query: q });
  }
}
