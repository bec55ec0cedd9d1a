import type BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import type { BulkQuery, Query, Unit } from './sql.js';

/** How one unit of a batch ended. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Thrown (and retried by the writer) when SQLite's connection is inside someone else's transaction. */
export class EngineBusy extends Error {
  constructor() {
    super('the connection is inside another transaction');
  }
}

/**
 * Runs units of SQL work on one engine: alone (reads, outside any transaction) or many in one
 * transaction (the group commit), where each unit commits or fails on its own.
 */
export interface SqlEngine {
  readonly provider: 'sqlite' | 'postgres';
  /** Runs a read-only unit. */
  read<T>(unit: Unit<T>): Promise<T>;
  /**
   * Runs every unit, in order, in one transaction. A unit that throws leaves no trace and the
   * others still commit. If the transaction itself cannot commit (the database is unreachable),
   * every unit gets that error. Rejects only with {@link EngineBusy}.
   */
  batch(units: readonly BatchUnit[]): Promise<Settled<unknown>[]>;
}

/** Makes a fresh unit: a batch may have to run a unit again after rolling the others back. */
export type UnitFactory = () => Unit<unknown>;

/** A unit of a batch. */
export interface BatchUnit {
  readonly make: UnitFactory;
  /**
   * Told, synchronously, that this unit failed (it left no trace): before any later unit of the
   * batch runs when it failed alone, or in batch order once the batch is over when the whole
   * transaction failed. Lets a later unit see an earlier one's failure (a sender's next message
   * must not be stored after one that was not: domain/send-order.ts).
   */
  readonly failed?: (error: unknown) => void;
}

/** Every unit failed with `error` (the transaction could not run or commit): told in batch order. */
function allFailed(units: readonly BatchUnit[], error: unknown, told: ReadonlySet<number> = new Set()): Settled<unknown>[] {
  return units.map((unit, i) => {
    if (!told.has(i)) unit.failed?.(error);
    return { ok: false, error } as const;
  });
}

/**
 * SQLite through better-sqlite3, on the very connection Prisma uses (so there is one writer and
 * one page cache). Everything is synchronous: a batch runs from BEGIN to COMMIT without giving the
 * event loop a turn, so nothing else can issue a statement inside it. A batch runs without
 * savepoints; if a unit fails, it runs again with one SAVEPOINT per unit, so the bad unit rolls
 * back alone.
 */
export class SqliteEngine implements SqlEngine {
  readonly provider = 'sqlite';
  private readonly statements = new Map<string, { statement: BetterSqlite3.Statement; order: number[] | null }>();

  /** Transaction control, prepared once: `exec` would parse the SQL again every time. */
  private readonly control: Record<'begin' | 'savepoint' | 'release' | 'rollbackTo' | 'commit' | 'rollback', BetterSqlite3.Statement>;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.control = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      savepoint: db.prepare('SAVEPOINT unit'),
      release: db.prepare('RELEASE unit'),
      rollbackTo: db.prepare('ROLLBACK TO unit'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    };
  }

  /**
   * The statement with `$N` turned into anonymous `?`, and which parameter each `?` takes (null
   * when that is simply `$1, $2, ...` in order, as in most statements: no reordering per call).
   */
  private prepared(sql: string): { statement: BetterSqlite3.Statement; order: number[] | null } {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      const order: number[] = [];
      const statement = this.db.prepare(
        sql.replace(/\$(\d+)/g, (_, n: string) => {
          order.push(Number(n) - 1);
          return '?';
        }),
      );
      // Prisma's adapter turns safe integers on for the connection; our columns fit in a double.
      statement.safeIntegers(false);
      const inOrder = order.every((n, i) => n === i);
      this.statements.set(sql, (prepared = { statement, order: inOrder ? null : order }));
    }
    return prepared;
  }

  private execute(query: Query): unknown {
    if (query.mode === 'bulk') return this.drive(query.op.one(query.args));
    const { statement, order } = this.prepared(query.sql);
    const params = (order ? order.map((i) => query.params[i]) : query.params) as unknown[];
    switch (query.mode) {
      case 'get':
        return statement.get(...params);
      case 'all':
        return statement.all(...params);
      case 'run':
        return statement.run(...params).changes;
    }
  }

  private drive<T>(unit: Unit<T>): T {
    let step = unit.next();
    while (!step.done) step = unit.next(this.execute(step.value));
    return step.value;
  }

  read<T>(unit: Unit<T>): Promise<T> {
    try {
      return Promise.resolve(this.drive(unit));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  batch(units: readonly BatchUnit[]): Promise<Settled<unknown>[]> {
    // A Prisma transaction is open on the shared connection (between its awaits): wait for it.
    if (this.db.inTransaction) return Promise.reject(new EngineBusy());
    const control = this.control;
    // First without savepoints (they cost about 5 µs a unit, as much as a unit's own statements):
    // units rarely fail. If one throws, the transaction is rolled back and the batch runs again,
    // carefully. A unit's side effects outside the database (a rate-limit token) then happen
    // twice; its `failed` is told only by the careful pass.
    try {
      control.begin.run();
    } catch (error) {
      return Promise.resolve(allFailed(units, error));
    }
    const values: unknown[] = [];
    let committing = false;
    try {
      for (const unit of units) values.push(this.drive(unit.make()));
      committing = true;
      control.commit.run();
      return Promise.resolve(values.map((value) => ({ ok: true, value }) as const));
    } catch (error) {
      if (this.db.inTransaction) control.rollback.run();
      if (committing || units.length === 1) return Promise.resolve(allFailed(units, error));
    }
    return Promise.resolve(this.careful(units));
  }

  /** Each unit under its own SAVEPOINT, so a bad one rolls back alone and the others commit. */
  private careful(units: readonly BatchUnit[]): Settled<unknown>[] {
    const control = this.control;
    const results: Settled<unknown>[] = [];
    try {
      control.begin.run();
    } catch (error) {
      return allFailed(units, error);
    }
    const told = new Set<number>();
    try {
      for (const [i, unit] of units.entries()) {
        control.savepoint.run();
        try {
          const value = this.drive(unit.make());
          control.release.run();
          results.push({ ok: true, value });
        } catch (error) {
          control.rollbackTo.run();
          control.release.run();
          results.push({ ok: false, error });
          told.add(i);
          unit.failed?.(error);
        }
      }
      control.commit.run();
    } catch (error) {
      if (this.db.inTransaction) control.rollback.run();
      return allFailed(units, error, told);
    }
    return results;
  }
}

/** `timestamp(3)` (1114) and `timestamptz` (1184) as the text PostgreSQL sends: we convert, not node-postgres's local-time parser. */
const PG_TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 1114 || oid === 1184 ? (value: string) => value : (pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown)) as typeof pg.types.getTypeParser,
};

/**
 * PostgreSQL through `pg`, on the pool Prisma's adapter also uses. Statements are named, so each
 * connection parses and plans each one once. A batch is one transaction without savepoints (each
 * would cost two round trips per unit); if any unit fails, the batch rolls back and its units run
 * again one transaction each, so the bad one fails alone and the rest commit.
 */
export class PostgresEngine implements SqlEngine {
  readonly provider = 'postgres';
  private readonly names = new Map<string, string>();

  constructor(
    private readonly pool: pg.Pool,
    /** True when an error means the database could not be reached (the batch is not retried unit by unit). */
    private readonly unavailable: (err: unknown) => boolean,
  ) {}

  private async execute(client: pg.PoolClient, query: Query): Promise<unknown> {
    if (query.mode === 'bulk') return (await query.op.many((q) => this.execute(client, q), [query.args]))[0];
    let name = this.names.get(query.sql);
    if (!name) this.names.set(query.sql, (name = `rt${this.names.size}`));
    const result = await client.query({ name, text: query.sql, values: query.params as unknown[], types: PG_TYPES });
    switch (query.mode) {
      case 'get':
        return result.rows[0];
      case 'all':
        return result.rows;
      case 'run':
        return result.rowCount ?? 0;
    }
  }

  private async drive<T>(client: pg.PoolClient, unit: Unit<T>, resume?: unknown): Promise<T> {
    // A fresh generator ignores what next() is given; a paused one gets its bulk answer.
    let step = unit.next(resume);
    while (!step.done) step = unit.next(await this.execute(client, step.value));
    return step.value;
  }

  async read<T>(unit: Unit<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await this.drive(client, unit);
    } finally {
      client.release();
    }
  }

  async batch(units: readonly BatchUnit[]): Promise<Settled<unknown>[]> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      return allFailed(units, error);
    }
    let broken = false;
    try {
      if (units.length > 1) {
        try {
          await client.query('BEGIN');
          const values = await this.lockstep(client, units);
          await client.query('COMMIT');
          return values.map((value) => ({ ok: true, value }));
        } catch (error) {
          await client.query('ROLLBACK').catch(() => (broken = true));
          if (broken || this.unavailable(error)) return allFailed(units, error);
        }
      }
      // One unit, or someone's unit failed: each in its own transaction, so the bad one fails alone.
      const settled: Settled<unknown>[] = [];
      for (const unit of units) {
        const outcome = broken ? { ok: false as const, error: new Error('the connection broke during the batch') } : await this.alone(client, unit.make, () => (broken = true));
        if (!outcome.ok) unit.failed?.(outcome.error);
        settled.push(outcome);
      }
      return settled;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Runs a batch's units in one transaction, with their bulk operations merged: each unit runs up
   * to its first bulk query (its plain queries run as they come, in batch order); then each bulk
   * operation runs once for every unit waiting on it, in batch order; then each unit runs to its
   * end. Reordering plain queries before the bulk ones is safe because units of one batch never
   * depend on each other's writes in the other direction (a unit that reads what another writes,
   * say an edit of a message in the same batch, comes after it in the queue and so after its bulk).
   */
  private async lockstep(client: pg.PoolClient, units: readonly BatchUnit[]): Promise<unknown[]> {
    const values: unknown[] = new Array(units.length);
    const waiting: { unit: Unit<unknown>; index: number; query: BulkQuery }[] = [];
    for (const [index, { make }] of units.entries()) {
      const unit = make();
      let step = unit.next();
      while (!step.done && step.value.mode !== 'bulk') step = unit.next(await this.execute(client, step.value));
      if (step.done) values[index] = step.value;
      else waiting.push({ unit, index, query: step.value as BulkQuery });
    }
    const byOp = new Map<BulkQuery['op'], typeof waiting>();
    for (const w of waiting) {
      const group = byOp.get(w.query.op);
      if (group) group.push(w);
      else byOp.set(w.query.op, [w]);
    }
    const answers = new Map<number, unknown>();
    for (const [op, group] of byOp) {
      const results = await op.many((q) => this.execute(client, q), group.map((w) => w.query.args));
      group.forEach((w, i) => answers.set(w.index, results[i]));
    }
    for (const w of waiting) values[w.index] = await this.drive(client, w.unit, answers.get(w.index));
    return values;
  }

  /** One unit in its own transaction. */
  private async alone(client: pg.PoolClient, unit: UnitFactory, onBroken: () => void): Promise<Settled<unknown>> {
    try {
      await client.query('BEGIN');
      const value = await this.drive(client, unit());
      await client.query('COMMIT');
      return { ok: true, value };
    } catch (error) {
      await client.query('ROLLBACK').catch(onBroken);
      return { ok: false, error };
    }
  }
}
