import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function database(): { db: Database.Database; file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  dirs.push(dir);
  const file = join(dir, 'test.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  return { db, file, dir };
}

/** A writer as the group-commit one behaves: it starts no write while paused. */
class Writer {
  paused?: Promise<unknown>;
  pauses = 0;
  pause = (work: Promise<unknown>) => {
    this.pauses++;
    this.paused = work.finally(() => (this.paused = undefined));
  };

  /** Writes about `mib` MiB in small transactions, yielding between them as the event loop would. */
  async write(db: Database.Database, mib: number): Promise<void> {
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    const body = 'x'.repeat(4000);
    for (let i = 0; i < mib * 256; i++) {
      while (this.paused) await this.paused;
      insert.run(body);
      if (i % 16 === 15) await new Promise((r) => setImmediate(r));
    }
  }
}

const walBytes = (file: string) => statSync(`${file}-wal`).size;

describe('SqliteCheckpointer', () => {
  it('keeps the WAL from growing although the writing connection never checkpoints', async () => {
    const withWorker = database();
    const writer = new Writer();
    const checkpointer = new SqliteCheckpointer(withWorker.file, 'NORMAL', 20, () => undefined, writer.pause);
    checkpointer.start(withWorker.db);
    expect(withWorker.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await writer.write(withWorker.db, 24);
    expect(checkpointer.running).toBe(true);
    // The WAL passed 1,000 frames: the writer was held for the worker's catch-up pass.
    expect(writer.pauses).toBeGreaterThan(0);
    expect(checkpointer.catchUps).toBe(writer.pauses);
    await checkpointer.stop();

    // The same writes with automatic checkpoints off and no worker: the WAL holds all of them.
    const without = database();
    without.db.pragma('wal_autocheckpoint = 0');
    await new Writer().write(without.db, 24);

    expect(walBytes(without.file)).toBeGreaterThan(20 * 1024 * 1024);
    expect(walBytes(withWorker.file)).toBeLessThan(walBytes(without.file) / 3);
    expect(withWorker.db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 24 * 256 });
    withWorker.db.close();
    without.db.close();
  });

  it('gives checkpoints back to SQLite when the worker cannot run', async () => {
    const { db, dir } = database();
    const warnings: string[] = [];
    // A directory is not a database file: the worker's connection fails to open.
    const checkpointer = new SqliteCheckpointer(dir, 'NORMAL', 20, (m) => warnings.push(m), () => undefined);
    checkpointer.start(db);
    for (let i = 0; i < 100 && checkpointer.running; i++) await new Promise((r) => setTimeout(r, 20));
    expect(checkpointer.running).toBe(false);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(warnings.join('\n')).toMatch(/checkpoints are automatic again/);
    db.close();
  });
});
