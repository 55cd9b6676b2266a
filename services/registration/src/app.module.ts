// The Nest module: the RPC controller over one Registration built outside Nest.
import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@uplink/observability';
import { Operators } from './operators/operators.js';
import { AuthRpcController } from './operators/rpc.controller.js';
import { Registration } from './registration.js';
import { LOGGER, RegistrationRpcController } from './rpc.controller.js';
import { ZeroTouchRegistration } from './ztr/zero-touch.js';
import { ZtrRpcController } from './ztr/ztr.controller.js';

@Module({})
export class RegistrationModule {
  static with(registration: Registration, logger: Logger, operators: Operators): DynamicModule {
    return {
      module: RegistrationModule,
      controllers: [RegistrationRpcController, AuthRpcController, ZtrRpcController],
      providers: [
        { provide: Registration, useValue: registration },
        { provide: ZeroTouchRegistration, useValue: registration.ztr },
        { provide: Operators, useValue: operators },
        { provide: LOGGER, useValue: logger },
      ],
    };
  }
}
