// Durable JetStream handlers: one consumer per telemetry kind (nats-server 2.9 has one filter subject
// per consumer), shared by every instance of the service. Both take batches: per-message work is what
// limits the ingest rate.
import { Catch, Controller, Inject, UseFilters, type ExceptionFilter } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { throwError, type Observable } from 'rxjs';
import type { BatchItem, BatchPatternExtras } from '@uplink/bus';
import type { Outcomes, TelemetryIngest } from './ingest.js';
import { INGEST, JETSTREAM } from './tokens.js';

/**
 * Hand a handler's error to the consumer runner unchanged: Nest's default filter would replace it with
 * "Internal server error", and the runner decides between retry and dead letter from the error's code.
 */
@Catch()
class PassErrorsToRunner implements ExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

const BATCH: BatchPatternExtras = { batch: true };

@Controller()
@UseFilters(new PassErrorsToRunner())
export class IngestController {
  constructor(@Inject(INGEST) private readonly ingest: TelemetryIngest) {}

  @EventPattern('telemetry-ingest-heartbeat', JETSTREAM, BATCH)
  heartbeats(@Payload() items: BatchItem<'heartbeat'>[]): Promise<Outcomes> {
    return this.ingest.heartbeats(items);
  }

  @EventPattern('telemetry-ingest-sync', JETSTREAM, BATCH)
  syncEvents(@Payload() items: BatchItem<'sync-event'>[]): Promise<Outcomes> {
    return this.ingest.syncEvents(items);
  }
}
