// telemetry-ingest against real servers (a hub, a Postgres schema, Redis) with an RPC client, for the
// tests of its request/reply methods; debug lines are kept with the trace id current when written.
import { randomBytes } from 'node:crypto';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import pg from 'pg';
import { firstValueFrom } from 'rxjs';
import { tracedRequest } from '@uplink/bus';
import { loadEnv, rpcSubject, TelemetryIngestEnv, type RpcReply } from '@uplink/contracts';
import { createLogger, currentTraceId } from '@uplink/observability';
import { createPgSchema, startHub } from '@uplink/testkit';
import { startTelemetryIngest } from '../app.js';

export async function startRpcFixture(name: string, env: Record<string, string> = {}) {
  const hub = await startHub();
  const schema = await createPgSchema(name.replace(/[^a-z]/g, '').slice(0, 8) || 'ti');
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'telemetry-ingest-test', level: 'silent' });
  logger.debug = ((obj: object, msg?: string) => void logs.push({ ...obj, msg, traceId: currentTraceId() })) as typeof logger.debug;
  const svc = await startTelemetryIngest(
    loadEnv(TelemetryIngestEnv, {
      NATS_URL: hub.url,
      DATABASE_URL: schema.url,
      REDIS_KEY_PREFIX: `t${randomBytes(4).toString('hex')}:`,
      STATUS_SWEEP_INTERVAL_S: '60',
      ...env,
    }),
    { logger, name },
  );
  const pool = new pg.Pool({ connectionString: schema.url, max: 2 });
  const client: ClientProxy = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [hub.url] } });
  return {
    pool,
    logs,
    /** one telemetry RPC, in the caller's trace */
    call<T>(method: string, req: unknown): Promise<RpcReply<T>> {
      return firstValueFrom(client.send<RpcReply<T>>(rpcSubject('telemetry', method as never), tracedRequest(req)));
    },
    async [Symbol.asyncDispose]() {
      await client.close();
      await svc.close();
      await pool.end();
      await schema[Symbol.asyncDispose]();
      await hub[Symbol.asyncDispose]();
    },
  };
}
