// Errors of the database layer. Match on `code`.

export const DbErrorCode = {
  MIGRATION_FAILED: 'MIGRATION_FAILED',
  MIGRATIONS_INVALID: 'MIGRATIONS_INVALID',
  DATABASE_URL_INVALID: 'DATABASE_URL_INVALID',
} as const;
export type DbErrorCode = (typeof DbErrorCode)[keyof typeof DbErrorCode];

export class DbError extends Error {
  override name = 'DbError';
  readonly code: DbErrorCode;
  /** the migration file, when a migration failed */
  readonly migration: string | undefined;
  constructor(code: DbErrorCode, message: string, opts: { cause?: unknown; migration?: string } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.migration = opts.migration;
  }
}

/** Postgres SQLSTATE of an error from pg, if any (e.g. '23505' unique violation). */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** SQLSTATEs worth naming in code. */
export const SqlState = {
  UNIQUE_VIOLATION: '23505',
  FOREIGN_KEY_VIOLATION: '23503',
  DUPLICATE_DATABASE: '42P04',
  INVALID_CATALOG_NAME: '3D000',
} as const;
