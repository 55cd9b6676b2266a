// SQL migrations: `NNN_name.sql` files applied in order, each in its own transaction, recorded in
// `schema_migrations`. A Postgres advisory lock (one per schema) serialises services starting at once.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '@uplink/observability';
import { DbError, DbErrorCode, SqlState, sqlState } from './errors.js';
import type { Pool } from './pool.js';

const FILE_PATTERN = /^(\d+)_([a-z0-9][a-z0-9_-]*)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  /** directory of `NNN_name.sql` files @default migrationsDir() */
  dir?: string;
  logger?: Logger;
}

export interface MigrateResult {
  /** file names applied by this call, in order */
  applied: string[];
  /** schema the migrations live in */
  schema: string;
}

/** `infra/migrations` of the repository, found relative to this package (src/ and dist/ alike). */
export function migrationsDir(): string {
  return fileURLToPath(new URL('../../../infra/migrations/', import.meta.url));
}

/** Read and order the migration files of a directory; two files with one version are an error. */
export async function readMigrations(dir: string): Promise<Migration[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new DbError(DbErrorCode.MIGRATIONS_INVALID, `cannot read migrations directory ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const out: Migration[] = [];
  for (const file of names.sort()) {
    const m = FILE_PATTERN.exec(file);
    if (!m) continue;
    const sql = await readFile(join(dir, file), 'utf8');
    out.push({ version: Number(m[1]), name: m[2]!, file, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.version === out[i - 1]!.version) {
      throw new DbError(DbErrorCode.MIGRATIONS_INVALID, `two migrations share version ${out[i]!.version}: ${out[i - 1]!.file}, ${out[i]!.file}`);
    }
  }
  return out;
}

/** Apply every migration not yet recorded. Safe to call from several processes at once; idempotent. */
export async function migrate(pool: Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const dir = opts.dir ?? migrationsDir();
  const migrations = await readMigrations(dir);
  const log = opts.logger;
  const client = await pool.connect();
  let broken = false;
  try {
    const { rows } = await client.query<{ schema: string | null }>('SELECT current_schema() AS schema');
    const schema = rows[0]?.schema;
    if (!schema) {
      throw new DbError(DbErrorCode.MIGRATION_FAILED, 'no schema on the search_path exists: create it first or fix DATABASE_URL');
    }
    // one lock per schema, so separate schemas (tests, tenants) do not wait on each other
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`uplink.migrate:${schema}`]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const done = await client.query<{ version: number; checksum: string; name: string }>('SELECT version, name, checksum FROM schema_migrations');
      const known = new Map(done.rows.map((r) => [r.version, r]));
      const applied: string[] = [];
      for (const m of migrations) {
        const prior = known.get(m.version);
        if (prior) {
          if (prior.checksum !== m.checksum) log?.warn({ migration: m.file }, 'applied migration file changed since it was applied; not re-run');
          continue;
        }
        try {
          await client.query('BEGIN');
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => (broken = true));
          throw new DbError(DbErrorCode.MIGRATION_FAILED, `migration ${m.file} failed: ${(err as Error).message}`, { cause: err, migration: m.file });
        }
        applied.push(m.file);
        log?.info({ migration: m.file, schema }, 'migration applied');
      }
      return { applied, schema };
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`uplink.migrate:${schema}`]).catch(() => (broken = true));
    }
  } finally {
    client.release(broken);
  }
}

/**
 * Create the database named in `url` when it does not exist (connecting to the `postgres` database of
 * the same server). Returns whether it was created.
 */
export async function ensureDatabase(url: string): Promise<boolean> {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new DbError(DbErrorCode.DATABASE_URL_INVALID, `DATABASE_URL is not a URL: ${(err as Error).message}`, { cause: err });
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw new DbError(DbErrorCode.DATABASE_URL_INVALID, 'DATABASE_URL names no database (postgres://user@host:port/<database>)');
  const admin = new URL(u.toString());
  admin.pathname = '/postgres';
  admin.searchParams.delete('options');
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
      return true;
    } catch (err) {
      // another process created it meanwhile
      if (sqlState(err) === SqlState.DUPLICATE_DATABASE || sqlState(err) === SqlState.UNIQUE_VIOLATION) return false;
      throw err;
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
