/**
 * The hot path's SQL, below the ORM: a unit of work is a generator that yields {@link Query}s
 * and receives their results. The same unit runs on either engine: synchronously on SQLite
 * (better-sqlite3, so a whole batch commits without yielding the event loop) and over the wire on
 * PostgreSQL (`pg`, named prepared statements). Repositories write units; services compose them
 * into one transaction with `yield*`; the group-commit writer runs many units in one commit.
 *
 * SQL is written once, in PostgreSQL's dialect subset that SQLite also speaks: double-quoted
 * identifiers, `$1` parameters (rewritten to `?1` for SQLite), `RETURNING`,
 * `ON CONFLICT (...) DO NOTHING`. Timestamps go in as ISO-8601 text and come out through
 * {@link isoTime}, because the two engines store them differently (SQLite: Prisma's ISO text;
 * PostgreSQL: `timestamp(3)` in UTC).
 */

export type QueryMode = 'get' | 'all' | 'run';

export interface SqlQuery {
  readonly sql: string;
  readonly params: readonly unknown[];
  readonly mode: QueryMode;
}

/**
 * An operation that many units of one batch may each ask for and that an engine can run for all
 * of them at once (PostgreSQL: a few set-based statements instead of a round trip per unit).
 * `one` is the per-unit form, as ordinary queries (SQLite runs it inline, microseconds each).
 * `many` gets the arguments in batch order and must answer each in that order.
 */
export interface BulkOp<A, R> {
  readonly name: string;
  one(args: A): Unit<R>;
  many(run: (query: SqlQuery) => Promise<unknown>, args: readonly A[]): Promise<R[]>;
}

export interface BulkQuery {
  readonly mode: 'bulk';
  readonly op: BulkOp<unknown, unknown>;
  readonly args: unknown;
}

export type Query = SqlQuery | BulkQuery;

/** A unit of database work yielding queries and returning `T`. */
export type Unit<T> = Generator<Query, T, unknown>;

/** One row or undefined. */
export function* one<R>(sql: string, params: readonly unknown[]): Unit<R | undefined> {
  return (yield { sql, params, mode: 'get' }) as R | undefined;
}

/** Every row. */
export function* many<R>(sql: string, params: readonly unknown[]): Unit<R[]> {
  return (yield { sql, params, mode: 'all' }) as R[];
}

/** A statement without rows; the number of rows it changed. */
export function* exec(sql: string, params: readonly unknown[]): Unit<number> {
  return (yield { sql, params, mode: 'run' }) as number;
}

/** A bulk-capable operation (see {@link BulkOp}). */
export function* bulk<A, R>(op: BulkOp<A, R>, args: A): Unit<R> {
  return (yield { mode: 'bulk', op, args }) as R;
}

let lastNow = 0;
let lastNowText = new Date(0).toISOString();

/** Now, as the ISO-8601 text both engines accept for a timestamp column (formatted once per millisecond). */
export function sqlNow(): string {
  const now = Date.now();
  if (now !== lastNow) {
    lastNow = now;
    lastNowText = new Date(now).toISOString();
  }
  return lastNowText;
}

/**
 * A timestamp as read from either engine, as ISO-8601 UTC: SQLite holds Prisma's
 * `2026-12-02T00:25:00.000+00:00` (or `2026-12-02 00:25:00` from a column default); PostgreSQL's
 * `timestamp(3)` arrives as `2026-12-02 00:25:00.123` (UTC, see the type parser in sql-engine.ts).
 */
export function isoTime(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return new Date(value).toISOString();
  const text = String(value);
  if (/[zZ]$|[+-]\d\d:?\d\d$/.test(text)) return new Date(text).toISOString();
  return new Date(`${text.replace(' ', 'T')}Z`).toISOString();
}

export function isoTimeOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : isoTime(value);
}
