import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient, Prisma } from '../generated/sqlite/client.js';
import { PrismaClient as PostgresPrismaClient } from '../generated/postgres/client.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { answerWithin, waitAtMost } from './deadline.js';
import { sqlitePath } from './migrations.js';

/** A unit of work: repositories given one take part in the caller's transaction. */
export type Tx = Prisma.TransactionClient;

/**
 * Owns the Prisma client, for SQLite (the embedded default) or PostgreSQL, chosen by
 * DATABASE_URL. Both clients are generated from the same models (prisma/models) and have the
 * same query API; only `$transaction`'s isolation-level names differ, which we never pass. So
 * repositories are written once, against the SQLite client's types.
 *
 * Services never see the client: they ask for {@link transaction} when several repository
 * calls must commit together, and pass the opaque `Tx` along.
 */
@Injectable()
export class DatabaseRepository implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  readonly client: PrismaClient;
  readonly provider: AppConfig['databaseProvider'];
  private readonly pool?: pg.Pool;
  /** Transactions started and not yet settled: shutdown waits for them before disconnecting. */
  private inFlight = 0;
  private idle?: () => void;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.provider = config.databaseProvider;
    if (config.databaseProvider === 'postgres') {
      // Our own pool, so an idle connection's error (the server restarted) is logged instead of
      // crashing the process, and a connection attempt to an unreachable server gives up.
      this.pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.databasePoolSize, connectionTimeoutMillis: 5000 });
      this.pool.on('error', (err) => this.logger.warn(`idle PostgreSQL connection failed: ${err.message}`));
      this.client = new PostgresPrismaClient({ adapter: new PrismaPg(this.pool) }) as unknown as PrismaClient;
    } else {
      this.client = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: sqlitePath(config.databaseUrl), timeout: 5000 }) });
    }
  }

  /**
   * SQLite settings for this connection: WAL (set once in the file by the migrator) with
   * `synchronous` from SQLITE_SYNCHRONOUS. NORMAL (the default) syncs the WAL at checkpoints
   * instead of at every commit: no corruption, and nothing lost when the process dies; an OS
   * crash or power cut may lose the last commits. FULL syncs every commit, and better-sqlite3
   * does that on the event loop. Foreign keys are enforced.
   */
  async onModuleInit(): Promise<void> {
    if (this.provider !== 'sqlite') return;
    await this.client.$executeRawUnsafe(`PRAGMA synchronous = ${this.config.sqliteSynchronous}`);
    await this.client.$executeRawUnsafe('PRAGMA foreign_keys = ON');
  }

  /** Runs `fn` in one database transaction; everything it writes commits or rolls back together. */
  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await this.client.$transaction(fn);
    } finally {
      if (--this.inFlight === 0) this.idle?.();
    }
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
    if (this.inFlight === 0) return;
    await waitAtMost(new Promise<void>((resolve) => (this.idle = resolve)), timeoutMs);
    if (this.inFlight > 0) this.logger.warn(`${this.inFlight} transaction(s) still running at shutdown; they roll back`);
  }

  /** Last in the shutdown, after the HTTP server has closed. */
  async onApplicationShutdown(): Promise<void> {
    await this.settled(this.config.shutdownGraceMs);
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

/** True when `err` is a unique-constraint violation (Prisma's P2002, from either client). */
export function isUniqueViolation(err: unknown): boolean {
  return prismaCode(err) === 'P2002';
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
    const text = `${(e as { code?: unknown }).code ?? ''} ${e.message}`;
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
