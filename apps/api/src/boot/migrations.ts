/**
 * The database's schema, brought up to date before anything else runs: by createApp before Nest
 * builds a single provider (app.factory.ts), and by `npm run db:migrate` (cli/migrate.ts). A
 * start-up step, not a repository: nothing injects it, and it is done before the app exists.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { repoRoot } from '../config/app-config.js';

/** A standard Prisma migration folder: `<timestamp>_<name>/migration.sql`. */
export interface Migration {
  name: string;
  sql: string;
  /** SHA-256 of the file, as Prisma's CLI records it in `_prisma_migrations.checksum`. */
  checksum: string;
}

export function migrationsDir(provider: 'sqlite' | 'postgres'): string {
  return resolve(repoRoot, 'prisma', provider, 'migrations');
}

export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** The bookkeeping table exactly as Prisma's migrate engine creates it for SQLite. */
const SQLITE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** A row of `_prisma_migrations`, as far as deciding what to apply needs it. */
interface AppliedRow {
  checksum: string;
  finished_at: unknown;
}

/**
 * The migrations still to apply, in order. Refuses to continue past a migration that failed
 * earlier or whose file changed after it was applied.
 */
function pending(migrations: Migration[], applied: Map<string, AppliedRow>): Migration[] {
  return migrations.filter((migration) => {
    const row = applied.get(migration.name);
    if (!row) return true;
    if (row.finished_at === null) throw new MigrationError(`migration ${migration.name} failed earlier; resolve it before starting`);
    if (row.checksum !== migration.checksum) throw new MigrationError(`migration ${migration.name} was modified after it was applied`);
    return false;
  });
}

/**
 * Applies pending migrations to a SQLite file, recording them in `_prisma_migrations` the way
 * `prisma migrate deploy` does, so the official CLI agrees with the result where it can run.
 * Each migration runs in its own transaction. Refuses to continue past a migration that
 * failed earlier or whose file changed after it was applied.
 *
 * @returns the names of the migrations applied by this call.
 */
export function migrateSqlite(filePath: string, dir = migrationsDir('sqlite')): string[] {
  mkdirSync(dirname(filePath), { recursive: true });
  const db = new Database(filePath);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SQLITE_MIGRATIONS_TABLE);
    const applied = new Map(
      (db.prepare('SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations').all() as {
        migration_name: string;
        checksum: string;
        finished_at: string | null;
        rolled_back_at: string | null;
      }[])
        .filter((row) => row.rolled_back_at === null)
        .map((row) => [row.migration_name, row]),
    );
    const done: string[] = [];
    for (const migration of pending(readMigrations(dir), applied)) {
      const now = new Date().toISOString();
      // SQLite's way to change a table is to rebuild it, and with foreign keys enforced, dropping
      // the old table would run its ON DELETE CASCADE actions. `PRAGMA foreign_keys` is a no-op
      // inside a transaction (so the PRAGMA in Prisma's generated SQL does nothing here): turn
      // enforcement off around the transaction and check the result before committing, as
      // SQLite's documented ALTER TABLE procedure does.
      db.pragma('foreign_keys = OFF');
      db.transaction(() => {
        db.exec(migration.sql);
        const violations = db.pragma('foreign_key_check') as unknown[];
        if (violations.length) {
          throw new MigrationError(`migration ${migration.name} leaves ${violations.length} foreign key violation(s)`);
        }
        db.prepare(
          `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)`,
        ).run(randomUUID(), migration.checksum, new Date().toISOString(), migration.name, now);
      })();
      db.pragma('foreign_keys = ON');
      done.push(migration.name);
    }
    return done;
  } finally {
    db.close();
  }
}

/** The bookkeeping table exactly as Prisma's migrate engine creates it for PostgreSQL. */
const POSTGRES_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

/** The advisory lock Prisma's migrate engine takes, so it and we never migrate at once. */
const PRISMA_MIGRATE_LOCK = 72707369;

/**
 * Applies pending migrations to a PostgreSQL database, like {@link migrateSqlite}. Several
 * instances starting at once are safe: each takes Prisma's advisory lock first, so one applies
 * the migrations and the others then find nothing to do. Each migration and its bookkeeping row
 * commit in one transaction (PostgreSQL's DDL is transactional), so a failed migration leaves
 * nothing half-applied.
 */
export async function migratePostgres(url: string, dir = migrationsDir('postgres')): Promise<string[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK]);
    await client.query(POSTGRES_MIGRATIONS_TABLE);
    const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const applied = new Map(rows.map((row) => [row.migration_name, row]));
    const done: string[] = [];
    for (const migration of pending(readMigrations(dir), applied)) {
      const startedAt = new Date();
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)`,
          [randomUUID(), migration.checksum, migration.name, startedAt],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationError(`migration ${migration.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      done.push(migration.name);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]).catch(() => undefined);
    await client.end();
  }
}

/** Applies pending migrations to whichever database the URL names. */
export async function migrate(provider: 'sqlite' | 'postgres', url: string): Promise<string[]> {
  return provider === 'postgres' ? migratePostgres(url) : migrateSqlite(sqlitePath(url));
}

/** `file:relative/or/absolute.db` → absolute path. */
export function sqlitePath(databaseUrl: string): string {
  const path = databaseUrl.replace(/^file:/, '').replace(/\?.*$/, '');
  return resolve(path);
}
