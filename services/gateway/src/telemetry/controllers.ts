// The gateway's fleet-health and telemetry routes.
import type { Type } from '@nestjs/common';
import { FleetController } from './fleet.controller.js';
import { TelemetryStreamController } from './stream.controller.js';

export const telemetryControllers: Type[] = [FleetController, TelemetryStreamController];
