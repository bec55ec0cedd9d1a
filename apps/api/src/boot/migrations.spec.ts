import Database from 'better-sqlite3';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateSqlite, migrationsDir, readMigrations } from './migrations.js';

const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'rt-migrate-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('migrateSqlite', () => {
  it('applies every migration once and records it the way the Prisma CLI does', () => {
    const file = join(tmp(), 'app.db');
    const all = readMigrations(migrationsDir('sqlite')).map((m) => m.name);
    expect(migrateSqlite(file)).toEqual(all);
    expect(migrateSqlite(file)).toEqual([]);
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name').all();
    db.close();
    expect(rows).toEqual(
      readMigrations(migrationsDir('sqlite')).map((m) => ({
        migration_name: m.name,
        checksum: m.checksum,
        finished_at: expect.any(String),
        applied_steps_count: 1,
      })),
    );
  });

  it('keeps existing rows when a later migration rebuilds tables that others reference', () => {
    const source = migrationsDir('sqlite');
    const [first] = readdirSync(source).filter((n) => /^\d/.test(n)).sort();
    const partial = tmp();
    cpSync(join(source, first!), join(partial, first!), { recursive: true });
    const file = join(tmp(), 'app.db');
    migrateSqlite(file, partial);

    const db = new Database(file);
    db.prepare(`INSERT INTO "User" (username, passwordHash) VALUES ('u', 'x')`).run();
    db.prepare(`INSERT INTO "Room" (name, lastSeq) VALUES ('r', 1)`).run();
    db.prepare(`INSERT INTO "Message" (roomId, seq, authorId, text, clientId) VALUES (1, 1, 1, 'kept', 'c1')`).run();
    db.prepare(`INSERT INTO "Notification" (userId, seq, kind, title, body) VALUES (1, 1, 'system', 't', 'b')`).run();
    db.close();

    expect(migrateSqlite(file).length).toBeGreaterThan(0);
    const after = new Database(file, { readonly: true });
    expect(after.prepare('SELECT text FROM "Message"').all()).toEqual([{ text: 'kept' }]);
    expect(after.prepare('SELECT count(*) AS n FROM "Notification"').get()).toEqual({ n: 1 });
    expect(after.pragma('foreign_keys', { simple: true })).toBe(1);
    after.close();
  });

  it('refuses to start when an applied migration was edited afterwards', () => {
    const source = migrationsDir('sqlite');
    const copy = tmp();
    cpSync(source, copy, { recursive: true });
    const file = join(tmp(), 'app.db');
    migrateSqlite(file, copy);
    const [first] = readdirSync(copy).filter((n) => /^\d/.test(n)).sort();
    appendFileSync(join(copy, first!, 'migration.sql'), '\n-- edited\n');
    expect(() => migrateSqlite(file, copy)).toThrow(/modified after it was applied/);
  });
});
