// The Nest module: the RPC and applied-report controllers over one StatePublisher built outside Nest.
import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@uplink/observability';
import { AppliedController } from './applied.controller.js';
import { LOGGER, StateRpcController } from './rpc.controller.js';
import { StatePublisher } from './state-publisher.js';

@Module({})
export class StatePublisherModule {
  static with(service: StatePublisher, logger: Logger): DynamicModule {
    return {
      module: StatePublisherModule,
      controllers: [StateRpcController, AppliedController],
      providers: [
        { provide: StatePublisher, useValue: service },
        { provide: LOGGER, useValue: logger },
      ],
    };
  }
}
