// Durable JetStream handlers: one consumer per telemetry kind (nats-server 2.9 has one filter subject
// per consumer), shared by every instance of the service.
import { Catch, Controller, Inject, UseFilters, type ExceptionFilter } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { throwError, type Observable } from 'rxjs';
import type { MessageContext } from '@uplink/bus';
import type { Heartbeat, SyncEvent } from '@uplink/contracts';
import type { TelemetryIngest } from './ingest.js';
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

@Controller()
@UseFilters(new PassErrorsToRunner())
export class IngestController {
  constructor(@Inject(INGEST) private readonly ingest: TelemetryIngest) {}

  @EventPattern('telemetry-ingest-heartbeat', JETSTREAM)
  heartbeat(@Payload() body: Heartbeat, @Ctx() ctx: unknown): Promise<void> {
    return this.ingest.heartbeat(body, ctx as MessageContext);
  }

  @EventPattern('telemetry-ingest-sync', JETSTREAM)
  sync(@Payload() body: SyncEvent, @Ctx() ctx: unknown): Promise<void> {
    return this.ingest.syncEvent(body, ctx as MessageContext);
  }
}
