// Command results from sites (RESULTS `uplink.result.<sat>`, durable `command-results`), recorded in
// batches; a message is acknowledged once its batch is committed.
import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import type { MessageContext } from '@uplink/bus';
import type { CommandResult } from '@uplink/contracts';
import type { Batcher } from './batcher.js';
import type { ReceivedResult } from './command-service.js';
import { RESULT_BATCHER } from './tokens.js';

export const RESULTS_DURABLE = 'command-results';

@Controller()
export class ResultsController {
  constructor(@Inject(RESULT_BATCHER) private readonly batcher: Batcher<ReceivedResult>) {}

  @EventPattern(RESULTS_DURABLE)
  async result(@Payload() body: CommandResult, @Ctx() ctx: unknown): Promise<void> {
    // the JetStream transport's context is its MessageContext
    await this.batcher.add({ result: body, subject: (ctx as MessageContext).subject });
  }
}
