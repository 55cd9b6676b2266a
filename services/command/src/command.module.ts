// The Nest module: RPC and results controllers over one CommandService built outside Nest.
import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@uplink/observability';
import type { Batcher } from './batcher.js';
import { CommandService, type ReceivedResult } from './command-service.js';
import { ResultsController } from './results.controller.js';
import { CommandRpcController } from './rpc.controller.js';
import { LOGGER, RESULT_BATCHER } from './tokens.js';

@Module({})
export class CommandModule {
  static with(service: CommandService, batcher: Batcher<ReceivedResult>, logger: Logger): DynamicModule {
    return {
      module: CommandModule,
      controllers: [CommandRpcController, ResultsController],
      providers: [
        { provide: CommandService, useValue: service },
        { provide: RESULT_BATCHER, useValue: batcher },
        { provide: LOGGER, useValue: logger },
      ],
    };
  }
}
