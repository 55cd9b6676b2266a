import type { z } from 'zod';
import type { GatewayEnv } from '@uplink/contracts';

/** The validated gateway environment (contracts' GatewayEnv, parsed by loadEnv). */
export type GatewayConfig = z.infer<typeof GatewayEnv>;
