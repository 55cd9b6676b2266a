import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@uplink/observability';
import { baseDatabaseUrl, createPgSchema, tempDir } from '@uplink/testkit';
import { createPool, ensureDatabase, migrate, migrationsDir, readMigrations, withTransaction } from './index.js';

const logger = createLogger({ service: 'db-test', level: 'silent' });

async function poolFor(url: string, onQuery?: (text: string) => void) {
  const pool = createPool({ url, max: 4, logger, ...(onQuery ? { onQuery } : {}) });
  return Object.assign(pool, { [Symbol.asyncDispose]: () => pool.end() });
}

describe('migrate', () => {
  it('applies the repository migrations inside the schema named by the URL, once', async () => {
    await using schema = await createPgSchema('db');
    await using pool = await poolFor(schema.url);
    const first = await migrate(pool, { logger });
    expect(first.schema).toBe(schema.schema);
    expect(first.applied).toContain('001_init.sql');
    const { rows } = await pool.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema.schema],
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['satellites', 'groups', 'group_satellites', 'satellite_states', 'published_states', 'tag_resolutions', 'schema_migrations']),
    );
    // nothing leaked into public
    const pub = await pool.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'satellite_states'");
    expect(pub.rowCount).toBe(0);
    const again = await migrate(pool, { logger });
    expect(again.applied).toEqual([]);
  });

  it('is safe when several processes migrate at once', async () => {
    await using schema = await createPgSchema('db');
    const pools = await Promise.all([1, 2, 3].map(() => poolFor(schema.url)));
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      expect(results.flatMap((r) => r.applied).filter((f) => f === '001_init.sql')).toHaveLength(1);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('applies files in order, each in its own transaction, and stops at a failing one', async () => {
    await using schema = await createPgSchema('db');
    await using dir = await tempDir('uplink-mig-');
    await writeFile(join(dir.path, '002_second.sql'), 'INSERT INTO t VALUES (2);');
    await writeFile(join(dir.path, '001_first.sql'), 'CREATE TABLE t (v int); INSERT INTO t VALUES (1);');
    await writeFile(join(dir.path, '003_broken.sql'), 'INSERT INTO t VALUES (3); SELECT no_such_function();');
    await writeFile(join(dir.path, 'README.md'), 'not a migration');
    await using pool = await poolFor(schema.url);
    await expect(migrate(pool, { dir: dir.path })).rejects.toMatchObject({ code: 'MIGRATION_FAILED', migration: '003_broken.sql' });
    const { rows } = await pool.query<{ v: number }>('SELECT v FROM t ORDER BY v');
    expect(rows.map((r) => r.v)).toEqual([1, 2]);
    const recorded = await pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(recorded.rows.map((r) => r.version)).toEqual([1, 2]);
  });

  it('rejects two files with the same version', async () => {
    await using dir = await tempDir('uplink-mig-');
    await mkdir(dir.path, { recursive: true });
    await writeFile(join(dir.path, '001_a.sql'), 'SELECT 1;');
    await writeFile(join(dir.path, '001_b.sql'), 'SELECT 1;');
    await expect(readMigrations(dir.path)).rejects.toMatchObject({ code: 'MIGRATIONS_INVALID' });
  });

  it('finds the repository migrations directory', async () => {
    const files = await readMigrations(migrationsDir());
    expect(files[0]?.file).toBe('001_init.sql');
  });

  it('keeps revisions of a deleted satellite in a tombstone', async () => {
    await using schema = await createPgSchema('db');
    await using pool = await poolFor(schema.url);
    await migrate(pool);
    await pool.query("INSERT INTO satellites (name) VALUES ('edge-01')");
    await pool.query("INSERT INTO satellite_states (satellite, revision, digest, document) VALUES ('edge-01', 7, 'd', '{}')");
    await pool.query("DELETE FROM satellites WHERE name = 'edge-01'");
    const { rows } = await pool.query('SELECT satellite, last_revision, purged_at FROM state_tombstones');
    expect(rows).toEqual([{ satellite: 'edge-01', last_revision: '7', purged_at: null }]);
  });
});

describe('withTransaction', () => {
  it('commits on success and rolls back on error', async () => {
    await using schema = await createPgSchema('db');
    let statements = 0;
    await using pool = await poolFor(schema.url, () => statements++);
    await pool.query('CREATE TABLE t (v int)');
    await withTransaction(pool, (c) => c.query('INSERT INTO t VALUES (1)'));
    await expect(
      withTransaction(pool, async (c) => {
        await c.query('INSERT INTO t VALUES (2)');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const { rows } = await pool.query<{ v: number }>('SELECT v FROM t');
    expect(rows).toEqual([{ v: 1 }]);
    expect(statements).toBeGreaterThanOrEqual(8);
  });
});

describe('createPool', () => {
  it('logs a lost connection instead of crashing', async () => {
    await using schema = await createPgSchema('db');
    const errors: string[] = [];
    const log = createLogger({ service: 'db-test', level: 'silent' });
    log.error = ((obj: { err?: string }) => void errors.push(obj.err ?? '')) as typeof log.error;
    const pool = createPool({ url: schema.url, max: 1, logger: log, applicationName: 'uplink-db-test-kill' });
    try {
      await pool.query('SELECT 1'); // one idle client now
      const admin = new pg.Client({ connectionString: baseDatabaseUrl() });
      await admin.connect();
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'uplink-db-test-kill'");
      await admin.end();
      await expect.poll(() => errors.length, { timeout: 5_000 }).toBeGreaterThan(0);
      // and the pool still works
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});

describe('ensureDatabase', () => {
  it('creates a missing database once', async () => {
    const name = `uplink_ensure_${Date.now().toString(36)}`;
    const u = new URL(baseDatabaseUrl());
    u.pathname = `/${name}`;
    try {
      expect(await ensureDatabase(u.toString())).toBe(true);
      expect(await ensureDatabase(u.toString())).toBe(false);
      const c = new pg.Client({ connectionString: u.toString() });
      await c.connect();
      await c.end();
    } finally {
      const admin = new pg.Client({ connectionString: baseDatabaseUrl() });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.end();
    }
  });
});
