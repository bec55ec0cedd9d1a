import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
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

describe('SqliteCheckpointer', () => {
  it('has the WAL start over although the writing connection never checkpoints and never stops writing', async () => {
    const { db, file } = database();
    const writer = new Writer();
    const checkpointer = new SqliteCheckpointer(file, 'NORMAL', 20, () => undefined, writer.pause);
    checkpointer.start(db);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await checkpointer.ready; // the worker has started (a thread takes a moment)
    // Written without a pause of its own: a PASSIVE pass racing it never copies the WAL's end,
    // so the WAL starts over only thanks to the catch-up passes the writer is held for.
    let written = 0;
    while (checkpointer.restarts < 2 && written < 64) {
      await writer.write(db, 4);
      written += 4;
    }
    expect(checkpointer.running).toBe(true);
    expect(checkpointer.restarts).toBeGreaterThanOrEqual(2);
    expect(writer.pauses).toBe(checkpointer.catchUps);
    expect(checkpointer.catchUps).toBeGreaterThanOrEqual(checkpointer.restarts);
    await checkpointer.stop();
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: written * 256 });
    db.close();
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
