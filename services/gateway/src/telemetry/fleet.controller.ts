// Fleet health, served by telemetry-ingest: one site's status, the fleet summary and list, a site's
// stored telemetry and which sites hold which images.
import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { FleetSatellitesQuery, ImagesQuery, TelemetryQuery } from '@uplink/contracts';
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

  /** the fleet list: a page of sites (`limit`, `cursor`, `status`, `q`), with `nextCursor` when more follow */
  @Get('fleet/satellites')
  satellites(@Query(query(FleetSatellitesQuery)) q: FleetSatellitesQuery) {
    return this.rpc.call('telemetry', 'satellites', {
      limit: q.limit,
      ...(q.cursor ? { after: q.cursor.after } : {}),
      ...(q.status ? { status: q.status } : {}),
      ...(q.q ? { prefix: q.q } : {}),
    });
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
