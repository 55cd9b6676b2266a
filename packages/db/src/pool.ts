// The Postgres pool of a service and the transaction helper.
import pg from 'pg';
import type { Logger } from '@uplink/observability';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** What both a pool and a checked-out client can do. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface CreatePoolOptions {
  /** Postgres URL; `?options=-c search_path=<schema>` selects a schema (pg passes it to the server) */
  url: string;
  /** @default 10 */
  max?: number;
  logger: Logger;
  /** connection name shown in pg_stat_activity */
  applicationName?: string;
  /** called with the text of every statement sent (tests count statements with it) */
  onQuery?: (text: string) => void;
}

/**
 * A pg pool that never takes the process down: an idle client losing its connection emits 'error' on
 * the pool, which is logged (the pool drops that client and connects a new one when needed).
 */
export function createPool(opts: CreatePoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? 10,
    ...(opts.applicationName ? { application_name: opts.applicationName } : {}),
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (err) => opts.logger.error({ err: err.message }, 'postgres connection lost'));
  if (opts.onQuery) {
    const onQuery = opts.onQuery;
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        const first = args[0];
        const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '');
        onQuery(text);
        return query(...args);
      };
    });
  }
  return pool;
}

/** Run `fn` inside BEGIN/COMMIT on one client; ROLLBACK and rethrow when it throws. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // the connection itself is gone: do not return it to the pool
      broken = true;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}
