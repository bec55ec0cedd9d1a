import { describe, expect, it } from 'vitest';
import { GaplessCursor, type CursorSource } from './gapless-cursor.js';

interface Item {
  seq: number;
}

/** A fake log 1..end, with reads that wait until the test releases them. */
function fakeLog(end: number) {
  const log: Item[] = Array.from({ length: end }, (_, i) => ({ seq: i + 1 }));
  const pending: (() => void)[] = [];
  const calls: string[] = [];
  const wait = () => new Promise<void>((r) => pending.push(r));
  const source = (initialAfter: number | 'latest', latest = 3): CursorSource<Item> => ({
    initial: async () => {
      calls.push(`initial ${initialAfter}`);
      await wait();
      if (initialAfter === 'latest') {
        const items = log.slice(-latest);
        return { items, position: items.at(-1)?.seq ?? 0 };
      }
      const items = log.filter((i) => i.seq > initialAfter);
      return { items, position: items.at(-1)?.seq ?? initialAfter };
    },
    after: async (after, limit) => {
      calls.push(`after ${after}`);
      await wait();
      return log.filter((i) => i.seq > after).slice(0, limit);
    },
  });
  return {
    log,
    calls,
    source,
    append: () => {
      const item = { seq: log.length + 1 };
      log.push(item);
      return item;
    },
    /** Lets the oldest waiting read complete, then lets the cursor run. */
    release: async () => {
      pending.shift()?.();
      await new Promise((r) => setImmediate(r));
    },
  };
}

function makeCursor(source: CursorSource<Item>, pageSize?: number) {
  const delivered: number[] = [];
  const events: string[] = [];
  const errors: unknown[] = [];
  const cursor = new GaplessCursor<Item>({
    source,
    deliver: (item) => {
      delivered.push(item.seq);
      events.push(`item ${item.seq}`);
    },
    onCaughtUp: (position) => events.push(`caught up ${position}`),
    onError: (err) => errors.push(err),
    pageSize,
  });
  return { cursor, delivered, events, errors };
}

describe('GaplessCursor', () => {
  it('catchUp reads what the bus dropped, pages through it, and takes live items after it once', async () => {
    const log = fakeLog(2);
    const { cursor, delivered, errors } = makeCursor(log.source(2), 2);
    const started = cursor.start();
    await log.release();
    await started;
    // Three entries were committed while the bus was down: nothing announced them.
    log.append();
    log.append();
    log.append();
    cursor.catchUp();
    cursor.catchUp(); // already reading: no second read
    expect(log.calls.filter((c) => c.startsWith('after'))).toEqual(['after 2']);
    const six = log.append();
    cursor.offer(six); // live during the catch-up: held, not delivered out of order
    await log.release(); // 3, 4: a full page, so it reads on
    expect(delivered).toEqual([3, 4]);
    await log.release(); // 5, 6: a full page again
    expect(delivered).toEqual([3, 4, 5, 6]);
    const seven = log.append();
    cursor.offer(seven); // still reading: held
    await log.release(); // the read after 6 finds 7; the held 7 is then a duplicate
    expect(delivered).toEqual([3, 4, 5, 6, 7]);
    cursor.offer(log.append()); // 8, live again: delivered at once
    expect(delivered).toEqual([3, 4, 5, 6, 7, 8]);
    expect(errors).toEqual([]);
  });

  it('delivers the replay, then what arrived during it, each once and in order', async () => {
    const log = fakeLog(5);
    const { cursor, events } = makeCursor(log.source(2));
    const started = cursor.start();
    cursor.offer(log.append()); // 6, committed before the replay read
    cursor.offer(log.append()); // 7
    await log.release();
    await started;
    expect(events).toEqual(['item 3', 'item 4', 'item 5', 'item 6', 'item 7', 'caught up 7']);
  });

  it('drops live duplicates of replayed items and keeps later ones', async () => {
    const log = fakeLog(3);
    const { cursor, delivered } = makeCursor(log.source(0));
    const started = cursor.start();
    const four = log.append();
    await log.release();
    await started;
    cursor.offer(log.log[1]!); // 2 again
    cursor.offer(four); // 4 was replayed already
    cursor.offer(log.append()); // 5
    expect(delivered).toEqual([1, 2, 3, 4, 5]);
  });

  it('holds a live item that arrives ahead of its predecessor and fills the hole from the log', async () => {
    const log = fakeLog(1);
    const { cursor, delivered, errors } = makeCursor(log.source(1));
    const started = cursor.start();
    await log.release();
    await started;
    const two = log.append();
    const three = log.append();
    cursor.offer(three); // 2 was committed first but its event is late
    expect(delivered).toEqual([]);
    expect(log.calls.at(-1)).toBe('after 1');
    await log.release();
    expect(delivered).toEqual([2, 3]);
    cursor.offer(two); // the late event: a duplicate now
    expect(delivered).toEqual([2, 3]);
    expect(errors).toEqual([]);
  });

  it('sorts a buffer that arrived out of order', async () => {
    const log = fakeLog(0);
    const { cursor, delivered } = makeCursor(log.source(0));
    const started = cursor.start();
    const [a, b, c] = [log.append(), log.append(), log.append()];
    cursor.offer(c);
    cursor.offer(a);
    cursor.offer(b);
    await log.release();
    await started;
    expect(delivered).toEqual([1, 2, 3]);
  });

  it('starts at the latest items without a position and skips older live ones', async () => {
    const log = fakeLog(10);
    const { cursor, delivered, events } = makeCursor(log.source('latest', 3));
    const started = cursor.start();
    await log.release();
    await started;
    cursor.offer({ seq: 9 });
    cursor.offer(log.append());
    expect(delivered).toEqual([8, 9, 10, 11]);
    expect(events).toContain('caught up 10');
  });

  it('pages through a long replay before anything live', async () => {
    const log = fakeLog(0);
    for (let i = 0; i < 12; i++) log.append();
    const source = log.source(0);
    const { cursor, delivered, events } = makeCursor(
      {
        initial: async () => {
          const first = await source.after(0, 5);
          return { items: first, position: 5, more: true };
        },
        after: (from, limit) => source.after(from, limit),
      },
      5,
    );
    const started = cursor.start();
    cursor.offer(log.append()); // 13, live during the replay
    for (let i = 0; i < 4; i++) await log.release();
    await started;
    expect(delivered).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(events.at(-1)).toBe('caught up 13'); // 13 was committed before the last page was read
  });

  it('reports an error (and stops) when the log lacks an entry that must exist', async () => {
    const log = fakeLog(1);
    const { cursor, delivered, errors } = makeCursor(log.source(1));
    const started = cursor.start();
    await log.release();
    await started;
    cursor.offer({ seq: 5 }); // the log ends at 1: 2..4 are missing
    await log.release();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/no entry 2/);
    cursor.offer({ seq: 2 });
    expect(delivered).toEqual([]);
  });

  it('reports a failing read and delivers nothing after stop()', async () => {
    const errors: unknown[] = [];
    const delivered: number[] = [];
    const cursor = new GaplessCursor<Item>({
      source: { initial: () => Promise.reject(new Error('db down')), after: () => Promise.resolve([]) },
      deliver: (i) => delivered.push(i.seq),
      onError: (e) => errors.push(e),
    });
    await cursor.start();
    expect(errors.map(String)).toEqual(['Error: db down']);
    cursor.offer({ seq: 1 });
    expect(delivered).toEqual([]);
  });
});

describe('GaplessCursor over a sparse log', () => {
  it('skips superseded entries the log no longer has, without error', async () => {
    // Revisions 1..5 were handed out; 2 and 4 were superseded (their messages changed again at 3 and 5).
    const log: Item[] = [{ seq: 1 }, { seq: 3 }, { seq: 5 }];
    const delivered: number[] = [];
    const errors: unknown[] = [];
    const cursor = new GaplessCursor<Item>({
      source: {
        initial: async () => ({ items: [], position: 0 }),
        after: async (after, limit) => log.filter((i) => i.seq > after).slice(0, limit),
      },
      deliver: (i) => delivered.push(i.seq),
      onError: (e) => errors.push(e),
      sparse: true,
    });
    await cursor.start();
    cursor.offer({ seq: 1 });
    cursor.offer({ seq: 3 }); // 2 is gone: read the log
    await new Promise((r) => setImmediate(r));
    cursor.offer({ seq: 2 }); // late, superseded
    cursor.offer({ seq: 5 });
    await new Promise((r) => setImmediate(r));
    cursor.offer({ seq: 4 });
    expect(delivered).toEqual([1, 3, 5]);
    expect(errors).toEqual([]);
  });
});
