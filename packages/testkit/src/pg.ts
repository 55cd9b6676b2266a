// A fresh Postgres schema per test file, dropped on dispose.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface PgSchema extends AsyncDisposable {
  schema: string;
  /** DATABASE_URL selecting the schema through search_path */
  url: string;
}

/** Base URL: TEST_DATABASE_URL, else the machine's Postgres database `test`. */
export function baseDatabaseUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export async function createPgSchema(prefix = 't'): Promise<PgSchema> {
  const base = baseDatabaseUrl();
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await client.end();
  }
  return {
    schema,
    url: withSearchPath(base, schema),
    async [Symbol.asyncDispose]() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
