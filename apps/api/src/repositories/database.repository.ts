import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient, Prisma } from '../generated/sqlite/client.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import { sqlitePath } from './migrations.js';

/** A unit of work: repositories given one take part in the caller's transaction. */
export type Tx = Prisma.TransactionClient;

/**
 * Owns the Prisma client. Services never see it: they ask for {@link transaction} when several
 * repository calls must commit together, and pass the opaque `Tx` along.
 */
@Injectable()
export class DatabaseRepository implements OnModuleInit, OnModuleDestroy {
  readonly client: PrismaClient;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    if (!config.databaseUrl.startsWith('file:')) {
      throw new Error('Only SQLite (DATABASE_URL=file:...) is supported in this build');
    }
    const adapter = new PrismaBetterSqlite3({ url: sqlitePath(config.databaseUrl), timeout: 5000 });
    this.client = new PrismaClient({ adapter });
  }

  /**
   * SQLite settings for this connection: WAL (set once in the file by the migrator) with
   * `synchronous` from SQLITE_SYNCHRONOUS. NORMAL (the default) syncs the WAL at checkpoints
   * instead of at every commit: no corruption, and nothing lost when the process dies; an OS
   * crash or power cut may lose the last commits. FULL syncs every commit, and better-sqlite3
   * does that on the event loop. Foreign keys are enforced.
   */
  async onModuleInit(): Promise<void> {
    await this.client.$executeRawUnsafe(`PRAGMA synchronous = ${this.config.sqliteSynchronous}`);
    await this.client.$executeRawUnsafe('PRAGMA foreign_keys = ON');
  }

  /** Runs `fn` in one database transaction; everything it writes commits or rolls back together. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.client.$transaction(fn);
  }

  async onModuleDestroy(): Promise<void> {
    await this.client.$disconnect();
  }
}

/** True when `err` is a unique-constraint violation (Prisma's P2002). */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}
