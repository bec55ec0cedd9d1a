import { BoardPicture, type BoardEntry } from '@rt/protocol';
import { describe, expect, it } from 'vitest';
import type { BoardWrite, UserEntity } from '../domain/entities.js';
import type { BoardOutcome, BoardRepository } from '../repositories/board.repository.js';
import type { RoomRepository } from '../repositories/room.repository.js';
import type { Unit } from '../repositories/sql.js';
import { FakeDatabase, FakeRateLimit, RecordingBus, fakeConfig } from '../testing/fakes.js';
import { BoardService } from './board.service.js';

const alice: UserEntity = { id: 1, username: 'alice' };

/** One board's log in memory, answering with outcomes the test decides (else storing). */
class FakeBoards implements Pick<BoardRepository, 'append' | 'compact' | 'picture' | 'entriesAfter' | 'bounds'> {
  readonly log: BoardEntry[] = [];
  /** The next appends' outcomes, when not a plain store. */
  readonly next: BoardOutcome[] = [];
  readonly compactions: number[] = [];
  pictureReads = 0;

  *append(roomId: number, authorId: number, w: BoardWrite, _max: number, admit: () => boolean): Unit<BoardOutcome> {
    const forced = this.next.shift();
    if (forced) return forced;
    if (!admit()) return { kind: 'refused', reason: 'rate_limited' };
    const seq = this.log.length + 1;
    const entry: BoardEntry = w.kind === 'c' ? ['c', roomId, seq, authorId, 0, w.name] : ['u', roomId, seq, authorId, 0, 'stroke' in w ? w.stroke : 0];
    this.log.push(entry);
    return { kind: 'stored', entry };
  }

  *compact(_roomId: number, keep: number): Unit<number | null> {
    this.compactions.push(this.log.length - keep);
    return null;
  }

  async picture(): Promise<BoardPicture> {
    this.pictureReads++;
    await new Promise((r) => setTimeout(r, 5));
    return new BoardPicture({ seq: this.log.length, strokes: [], cleared: null });
  }

  async entriesAfter(_roomId: number, after: number, limit: number): Promise<BoardEntry[]> {
    return this.log.slice(after, after + limit);
  }

  async bounds(): Promise<{ last: number; floor: number }> {
    return { last: this.log.length, floor: 0 };
  }
}

function setup(boardLogKeep = 1000) {
  const boards = new FakeBoards();
  const bus = new RecordingBus();
  const rate = new FakeRateLimit();
  const db = new FakeDatabase();
  const service = new BoardService(db as never, boards as unknown as BoardRepository, {} as RoomRepository, rate.as(), bus, fakeConfig({ boardLogKeep }));
  return { boards, bus, rate, service };
}

describe('BoardService', () => {
  it('publishes each stored entry once, in call order, and nothing for a resend', async () => {
    const { boards, bus, service } = setup();
    boards.next.push({ kind: 'stored', entry: ['u', 7, 1, 1, 0, 5] }, { kind: 'duplicate' }, { kind: 'stored', entry: ['u', 7, 2, 1, 0, 6] });
    const results = await Promise.all([5, 5, 6].map((stroke) => service.write(alice, 7, { kind: 'u', stroke })));
    expect(results).toEqual([['u', 7, 1, 1, 0, 5], null, ['u', 7, 2, 1, 0, 6]]);
    expect(bus.of('board.appended').map((e) => e.entry[2])).toEqual([1, 2]);
  });

  it('turns refusals into the errors clients act on and publishes nothing', async () => {
    const { boards, bus, rate, service } = setup();
    boards.next.push({ kind: 'refused', reason: 'board_full' }, { kind: 'refused', reason: 'stroke_not_found' });
    await expect(service.write(alice, 7, { kind: 's', stroke: 1, colour: '#000000', width: 2, eraser: 0, points: [1, 1] })).rejects.toMatchObject({ code: 'board_full' });
    await expect(service.write(alice, 7, { kind: 'u', stroke: 9 })).rejects.toMatchObject({ code: 'stroke_not_found', message: expect.stringContaining('9') });
    rate.deny('board', 1);
    await expect(service.write(alice, 7, { kind: 'u', stroke: 3 })).rejects.toMatchObject({ code: 'rate_limited', details: { retryAfterMs: 250 } });
    expect(rate.taken.filter((t) => t.policy === 'board')).toEqual([{ policy: 'board', key: '1' }]);
    expect(bus.published).toEqual([]);
  });

  it('asks for a compaction each time the log has grown by BOARD_LOG_KEEP, from twice that on', async () => {
    const { boards, service } = setup(3);
    for (let i = 1; i <= 13; i++) await service.write(alice, 7, { kind: 'c', id: i, name: 'alice' });
    await new Promise((r) => setImmediate(r));
    expect(boards.compactions).toEqual([3, 6, 9]);
  });

  it('shares one picture read between joiners asking at once, and reads again later', async () => {
    const { boards, service } = setup();
    const [a, b] = await Promise.all([service.picture(7), service.picture(7)]);
    expect(a).toBe(b);
    expect(boards.pictureReads).toBe(1);
    await service.picture(7);
    expect(boards.pictureReads).toBe(2);
  });

  it('publishes cursors within the rate, drops the rest silently, and hides with -1', async () => {
    const { bus, rate, service } = setup();
    await service.cursor(alice, { id: 7, name: 'r' }, 10, 20);
    rate.deny('cursor', 1);
    await service.cursor(alice, { id: 7, name: 'r' }, 11, 21);
    await service.cursor(alice, { id: 7, name: 'r' }, -1, -1);
    expect(bus.of('board.cursor').map(({ x, y }) => [x, y])).toEqual([[10, 20], [-1, -1]]);
    expect(bus.of('board.cursor')[0]).toMatchObject({ roomId: 7, room: 'r', user: { id: 1, username: 'alice' } });
  });
});
