import { describe, expect, it } from 'vitest';
import type { MessageEntity, RoomEntity } from '../domain/entities.js';
import { WsFrame } from '../repositories/websocket.repository.js';
import type { ChatService } from './chat.service.js';
import { FanoutService } from './fanout.service.js';

const room: RoomEntity = { id: 7, name: 'bench', lastSeq: 12, lastRev: 0, createdAt: '2026-01-01T00:00:00.000Z' };
const message = (seq: number): MessageEntity => ({
  id: seq,
  room: 'bench',
  seq,
  author: { id: 1, username: 'ann' },
  text: `m${seq}`,
  clientId: `c${seq}`,
  createdAt: '2026-01-01T00:00:00.000Z',
  editedAt: null,
  deleted: false,
  rev: 0,
});

/** A ChatService that counts its history reads and answers from a log of `lastSeq` messages. */
function fakeChat(gate: Promise<void> = Promise.resolve()) {
  const reads: (number | undefined)[] = [];
  const chat = {
    history: async (_room: RoomEntity, after: number | undefined, limit: number) => {
      reads.push(after);
      await gate;
      const items = Array.from({ length: Math.min(limit, room.lastSeq - (after ?? 0)) }, (_, i) => message((after ?? 0) + i + 1));
      return { items, position: items.at(-1)?.seq ?? after ?? 0 };
    },
  };
  return { reads, chat: chat as unknown as ChatService };
}

describe('FanoutService resume pages', () => {
  it('resumes from one position asked in the same turn share one read and one set of frames', async () => {
    const { reads, chat } = fakeChat();
    const fanout = new FanoutService(null as never, null as never, null as never, chat, null as never, null as never);
    const pages = await Promise.all([10, 10, 10, 11].map((after) => fanout.roomSources(room, after, undefined).messages.initial()));
    expect(reads.sort()).toEqual([10, 11]);
    expect(pages[0]!.items.map((i) => i.seq)).toEqual([11, 12]);
    expect(pages[1]!.items).toBe(pages[0]!.items);
    expect(pages[0]!.items[0]!.frame).toBeInstanceOf(WsFrame);
    expect(pages[3]!.items.map((i) => i.seq)).toEqual([12]);
    expect(pages.map((p) => p.position)).toEqual([12, 12, 12, 12]);
  });

  it('a resume asked while the shared read runs reads afresh (it may have subscribed after that read began)', async () => {
    let release!: () => void;
    const { reads, chat } = fakeChat(new Promise((r) => (release = r)));
    const fanout = new FanoutService(null as never, null as never, null as never, chat, null as never, null as never);
    const first = fanout.roomSources(room, 10, undefined).messages.initial();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(reads).toEqual([10]); // the first read has begun and not finished
    const second = fanout.roomSources(room, 10, undefined).messages.initial();
    release();
    await Promise.all([first, second]);
    expect(reads).toEqual([10, 10]);
  });

  it('a join without a position still gets the latest history, read for it alone', async () => {
    const { reads, chat } = fakeChat();
    const fanout = new FanoutService(null as never, null as never, null as never, chat, null as never, null as never);
    const page = await fanout.roomSources(room, undefined, undefined).messages.initial();
    expect(reads).toEqual([undefined]);
    expect(page.more).toBe(false);
    expect(typeof page.items[0]!.frame).toBe('string');
  });
});
