// telemetry-ingest's Nest module: the durable handlers, the RPC handlers and the HTTP endpoint over
// objects built (and closed) by app.ts.
import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@uplink/observability';
import { HttpController, type HealthCheck } from './http.controller.js';
import { IngestController } from './ingest.controller.js';
import type { TelemetryIngest } from './ingest.js';
import type { IngestMetrics } from './metrics.js';
import type { TelemetryQueries } from './queries.js';
import { TelemetryRpcController } from './rpc.controller.js';
import { HEALTH, INGEST, LOGGER, METRICS, QUERIES } from './tokens.js';

export interface IngestModuleDeps {
  ingest: TelemetryIngest;
  queries: TelemetryQueries;
  metrics: IngestMetrics;
  health: HealthCheck;
  logger: Logger;
}

@Module({})
export class IngestModule {
  static forRoot(deps: IngestModuleDeps): DynamicModule {
    return {
      module: IngestModule,
      controllers: [IngestController, TelemetryRpcController, HttpController],
      providers: [
        { provide: INGEST, useValue: deps.ingest },
        { provide: QUERIES, useValue: deps.queries },
        { provide: METRICS, useValue: deps.metrics },
        { provide: HEALTH, useValue: deps.health },
        { provide: LOGGER, useValue: deps.logger },
      ],
    };
  }
}
