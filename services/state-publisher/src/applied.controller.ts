// Applied reports from satellites (TELEMETRY `uplink.telemetry.<sat>.applied`, durable
// `state-publisher-applied`): the applied revision of each satellite, shown by getState.
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { MessageContext } from '@uplink/bus';
import type { StateApplied } from '@uplink/contracts';
import { StatePublisher } from './state-publisher.js';

export const APPLIED_DURABLE = 'state-publisher-applied';

@Controller()
export class AppliedController {
  constructor(@Inject(StatePublisher) private readonly state: StatePublisher) {}

  @EventPattern(APPLIED_DURABLE)
  async applied(@Payload() body: StateApplied, @Ctx() ctx: unknown): Promise<void> {
    // the JetStream transport's context (Nest types event handler arguments after the first as unknown)
    await this.state.recordApplied(body, (ctx as MessageContext).subject);
  }
}
