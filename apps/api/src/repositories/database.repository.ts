import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient, Prisma } from '../generated/sqlite/client.js';
import { PrismaClient as PostgresPrismaClient } from '../generated/postgres/client.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import type BetterSqlite3 from 'better-sqlite3';
import { answerWithin, waitAtMost } from '../domain/deadline.js';
import { GroupCommitWriter } from './group-commit.js';
import { sqlitePath } from '../boot/migrations.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { PostgresEngine, SqliteEngine, type SqlEngine } from './sql-engine.js';
import type { Unit } from './sql.js';

/**
 * Owns the database connection, for SQLite (the embedded default) or PostgreSQL, chosen by
 * DATABASE_URL, and the two ways to use it:
 * - the Prisma client, for the cold paths (accounts, rooms, blogs, listings). Both clients are
 *   generated from the same models (prisma/models) and have the same query API, so repositories
 *   are written once, against the SQLite client's types;
 * - the hot path below the ORM (repositories/sql.ts): every append goes through {@link write},
 *   the group-commit writer, and replay reads through {@link read}, as prepared statements on
 *   the same connection (SQLite) or pool (PostgreSQL).
 *
 * Services never see either: repositories hand them units of work, which they compose into one
 * transaction with `yield*` and pass to {@link write}.
 */
@Injectable()
export class DatabaseRepository implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  readonly client: PrismaClient;
  readonly provider: AppConfig['databaseProvider'];
  private readonly pool?: pg.Pool;
  /** The SQLite connection Prisma's adapter opens, shared with the hot path. */
  private readonly sqliteAdapter?: Promise<{ client: BetterSqlite3.Database }>;
  private engine?: SqlEngine;
  private writer?: GroupCommitWriter;
  /** WAL checkpoints off the event loop (SQLite, SQLITE_CHECKPOINT_MS > 0). */
  checkpointer?: SqliteCheckpointer;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.provider = config.databaseProvider;
    if (config.databaseProvider === 'postgres') {
      // Our own pool, so an idle connection's error (the server restarted) is logged instead of
      // crashing the process, and a connection attempt to an unreachable server gives up.
      this.pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.databasePoolSize, connectionTimeoutMillis: 5000 });
      this.pool.on('error', (err) => this.logger.warn(`idle PostgreSQL connection failed: ${err.message}`));
      this.client = new PostgresPrismaClient({ adapter: new PrismaPg(this.pool) }) as unknown as PrismaClient;
      this.engine = new PostgresEngine(this.pool, isDatabaseUnavailable);
      this.writer = new GroupCommitWriter(this.engine, config.writeBatchMax);
    } else {
      // One connection for Prisma and the hot path: open the adapter ourselves and hand Prisma
      // the opened one, so both use the same better-sqlite3 handle (one writer, one page cache).
      const factory = new PrismaBetterSqlite3({ url: sqlitePath(config.databaseUrl), timeout: 5000 });
      const adapter = factory.connect();
      this.sqliteAdapter = adapter as unknown as Promise<{ client: BetterSqlite3.Database }>;
      const shared = { provider: factory.provider, adapterName: factory.adapterName, connect: () => adapter } as unknown as PrismaBetterSqlite3;
      this.client = new PrismaClient({ adapter: shared });
    }
  }

  /**
   * SQLite settings for this connection: WAL (set once in the file by the migrator) with
   * `synchronous` from SQLITE_SYNCHRONOUS. NORMAL (the default) syncs the WAL at checkpoints
   * instead of at every commit: no corruption, and nothing lost when the process dies; an OS
   * crash or power cut may lose the last commits. FULL syncs every commit, and better-sqlite3
   * does that on the event loop. Foreign keys are enforced. WAL checkpoints run in a worker
   * thread (SqliteCheckpointer) unless SQLITE_CHECKPOINT_MS is 0.
   */
  async onModuleInit(): Promise<void> {
    if (!this.sqliteAdapter) return;
    const { client: sqlite } = await this.sqliteAdapter;
    sqlite.pragma(`synchronous = ${this.config.sqliteSynchronous}`);
    sqlite.pragma('foreign_keys = ON');
    if (this.config.sqliteCheckpointMs > 0) {
      this.checkpointer = new SqliteCheckpointer(sqlitePath(this.config.databaseUrl), this.config.sqliteSynchronous, this.config.sqliteCheckpointMs, (m) => this.logger.warn(m), (work) => this.writer?.pauseWhile(work));
      this.checkpointer.start(sqlite);
    }
    this.engine = new SqliteEngine(sqlite);
    this.writer = new GroupCommitWriter(this.engine, this.config.writeBatchMax);
  }

  /**
   * Runs a unit of writes in the next group commit: it commits, or fails and leaves no trace,
   * on its own. `make` builds the unit (it may be called again if the batch has to be retried).
   * `failed` is told synchronously, in commit order, if it fails (GroupCommitWriter.write).
   */
  write<T>(make: () => Unit<T>, failed?: (error: unknown) => void): Promise<T> {
    if (!this.writer) {
      const error = new Error('the database is not open yet');
      failed?.(error);
      return Promise.reject(error);
    }
    return this.writer.write(make, failed);
  }

  /** Runs a read-only unit as prepared statements, outside any transaction. */
  read<T>(unit: Unit<T>): Promise<T> {
    if (!this.engine) return Promise.reject(new Error('the database is not open yet'));
    return this.engine.read(unit);
  }

  /** Throws unless the database answers a trivial query within `timeoutMs` (readiness). */
  async ping(timeoutMs: number): Promise<void> {
    await answerWithin(this.client.$queryRawUnsafe('SELECT 1'), timeoutMs);
  }

  /**
   * Resolves once no transaction is running, or after `timeoutMs`: at shutdown, writes already
   * started (a message being stored for a socket that just closed) finish before we disconnect.
   */
  async settled(timeoutMs: number): Promise<void> {
    if (!this.writer || this.writer.pending === 0) return;
    await waitAtMost(this.writer.drained(), timeoutMs);
    if (this.writer.pending > 0) this.logger.warn(`${this.writer.pending} write(s) still running at shutdown; they roll back`);
  }

  /** Last in the shutdown, after the HTTP server has closed. */
  async onApplicationShutdown(): Promise<void> {
    await this.settled(this.config.shutdownGraceMs);
    await this.checkpointer?.stop();
    await this.client.$disconnect();
    await this.pool?.end();
  }
}

/**
 * Runs an upsert that creates a row if missing, once more if it lost a race: Prisma runs such an
 * upsert as a read then an insert, so two callers at once (two tabs joining a room, two instances
 * starting) can both read "missing" and one insert fails on the unique key. The retry then reads
 * the row the winner wrote. (SQLite's single connection never races; PostgreSQL's pool does.)
 */
export async function idempotent<T>(upsert: () => Promise<T>): Promise<T> {
  try {
    return await upsert();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    return upsert();
  }
}

/** True when `err` is a unique-constraint violation: Prisma's P2002 (either client), SQLite's or PostgreSQL's own code. */
export function isUniqueViolation(err: unknown): boolean {
  if (prismaCode(err) === 'P2002') return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * True when `err` says the database could not be reached or dropped the connection (rather than
 * refusing a query): the request may be retried later, and nothing of it was committed.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = prismaCode(err);
  if (code && ['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028'].includes(code)) return true;
  if (err instanceof Prisma.PrismaClientInitializationError || err instanceof Prisma.PrismaClientRustPanicError) return true;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const text = `${(e as { code?: string }).code ?? ''} ${e.message}`;
    if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|Connection terminated|connection timeout|terminating connection|server closed the connection|the database system is (starting up|shutting down)|Can't reach database|DatabaseNotReachable|SQLITE_BUSY|database is locked/i.test(text)) {
      return true;
    }
  }
  return false;
}

function prismaCode(err: unknown): string | undefined {
  // Each generated client has its own error classes: compare by shape, not by class.
  if (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'PrismaClientKnownRequestError') {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
