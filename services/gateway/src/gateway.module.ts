// The gateway's Nest module. Shared providers (env, logger, metrics, the NATS client and RpcGateway,
// the auth guard and the error filter) live here; each API area is one controller in `controllers`, so
// later areas (commands, telemetry, fleet, images, SSE, login, ZTR) are added as more controllers.
import { readFileSync } from 'node:fs';
import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { credsAuthenticator } from '@nats-io/transport-node';
import type { Logger } from '@uplink/observability';
import type { GatewayConfig } from './env.js';
import { BearerAuthGuard } from './auth.js';
import { CommandsController } from './commands/commands.controller.js';
import { DashboardController } from './dashboard/dashboard.controller.js';
import { ErrorFilter } from './error-filter.js';
import { GroupsController } from './groups.controller.js';
import { HealthController } from './health.controller.js';
import type { GatewayMetrics } from './metrics.js';
import { operatorControllers, operatorProviders } from './operators/controllers.js';
import { RpcGateway } from './rpc-gateway.js';
import { SatellitesController } from './satellites.controller.js';
import { telemetryControllers } from './telemetry/controllers.js';
import { ZtrController } from './ztr.controller.js';
import { GATEWAY_ENV, GATEWAY_METRICS, LOGGER, NATS_CLIENT } from './tokens.js';

export const controllers: Type[] = [HealthController, GroupsController, SatellitesController, CommandsController, ...telemetryControllers, ZtrController, ...operatorControllers, DashboardController];

export interface GatewayModuleDeps {
  env: GatewayConfig;
  logger: Logger;
  metrics: GatewayMetrics;
}

function natsClient(env: GatewayConfig) {
  return ClientProxyFactory.create({
    transport: Transport.NATS,
    options: {
      servers: env.NATS_URL.split(',').map((s) => s.trim()),
      name: 'uplink-gateway',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 2_000,
      // a connect that hangs (server gone mid-handshake) must not hold requests for nats.js's 20 s
      timeout: 5_000,
      // the HTTP side starts without NATS; requests answer 503 until it is reachable
      waitOnFirstConnect: false,
      ...(env.NATS_CREDS ? { authenticator: credsAuthenticator(new Uint8Array(readFileSync(env.NATS_CREDS))) } : {}),
    },
  });
}

@Module({})
export class GatewayModule {
  static forRoot(deps: GatewayModuleDeps): DynamicModule {
    return {
      module: GatewayModule,
      controllers,
      providers: [
        { provide: GATEWAY_ENV, useValue: deps.env },
        { provide: LOGGER, useValue: deps.logger },
        { provide: GATEWAY_METRICS, useValue: deps.metrics },
        { provide: NATS_CLIENT, useFactory: () => natsClient(deps.env) },
        RpcGateway,
        ...operatorProviders,
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
      ],
      exports: [RpcGateway, GATEWAY_ENV, LOGGER, GATEWAY_METRICS],
    };
  }
}
