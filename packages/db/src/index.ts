export { createPool, withTransaction } from './pool.js';
export { migrate, migrationsDir, readMigrations, ensureDatabase } from './migrate.js';
export { DbError, DbErrorCode, SqlState, sqlState } from './errors.js';

export type { Pool, PoolClient, Queryable, CreatePoolOptions } from './pool.js';
export type { Migration, MigrateOptions, MigrateResult } from './migrate.js';
