import { beforeEach, describe, expect, it } from 'vitest';
import type { MessageChange, MessageEntity, RoomEntity, UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { SendOrderGate } from '../domain/send-order.js';
import type { PresenceRepository } from '../repositories/presence.repository.js';
import type { AppendOutcome, ChangeOutcome, RoomRef, RoomRepository } from '../repositories/room.repository.js';
import type { Unit } from '../repositories/sql.js';
import type { UserRepository } from '../repositories/user.repository.js';
import { FakeDatabase, FakeNotifications, FakeRateLimit, NOW, RecordingBus, fakeConfig } from '../testing/fakes.js';
import { ChatService, HISTORY_ON_JOIN, mentionedUsernames } from './chat.service.js';

describe('mentionedUsernames', () => {
  it.each([
    ['hi @bob', ['bob']],
    ['@bob at the start', ['bob']],
    ['@Bob and @BOB are one user', ['bob']],
    ['two: @bob, @carol!', ['bob', 'carol']],
    ['an email like x@bob.com is not a mention', []],
    ['too short @ab', []],
    ['punctuation after @dave.', ['dave']],
    ['@with_under-score', ['with_under-score']],
    ['no mention', []],
  ])('%s', (text, expected) => {
    expect(mentionedUsernames(text)).toEqual(expected);
  });

  it('caps the number of mentions one message can cause', () => {
    const text = Array.from({ length: 50 }, (_, i) => `@user${i}`).join(' ');
    expect(mentionedUsernames(text)).toHaveLength(20);
  });
});

type Change = { kind: 'edited'; text: string } | { kind: 'deleted' };

/** Rooms and their two logs in memory, with the repository's outcomes (stored, duplicate, refused; not_found, forbidden). */
class FakeRooms implements Pick<RoomRepository, 'ref' | 'refByName' | 'findByName' | 'appendMessage' | 'changeMessage' | 'messagesBefore' | 'messagesAfter'> {
  private readonly rooms = new Map<string, RoomEntity & { messages: MessageEntity[] }>();

  add(name: string): RoomEntity {
    const room = { id: this.rooms.size + 1, name, lastSeq: 0, lastRev: 0, createdAt: NOW, messages: [] };
    this.rooms.set(name, room);
    return room;
  }

  messages(name: string): MessageEntity[] {
    return this.rooms.get(name)?.messages ?? [];
  }

  *ref(name: string): Unit<RoomRef | undefined> {
    const room = this.rooms.get(name);
    return room && { id: room.id, name };
  }

  refByName(name: string): Promise<RoomRef | null> {
    const room = this.rooms.get(name);
    return Promise.resolve(room ? { id: room.id, name } : null);
  }

  findByName(name: string): Promise<RoomEntity | null> {
    return Promise.resolve(this.rooms.get(name) ?? null);
  }

  *appendMessage(ref: RoomRef, author: UserEntity, text: string, clientId: string, admit: () => boolean): Unit<AppendOutcome> {
    const room = this.rooms.get(ref.name)!;
    const stored = room.messages.find((m) => m.author.id === author.id && m.clientId === clientId);
    if (stored) return { kind: 'duplicate', message: stored };
    if (!admit()) return { kind: 'refused' };
    const message: MessageEntity = { id: 1000 + room.lastSeq, room: room.name, seq: ++room.lastSeq, author, text, clientId, createdAt: NOW, editedAt: null, deleted: false, rev: 0 };
    room.messages.push(message);
    return { kind: 'stored', message };
  }

  *changeMessage(ref: RoomRef, seq: number, authorId: number, change: Change): Unit<ChangeOutcome> {
    const room = this.rooms.get(ref.name)!;
    const message = room.messages.find((m) => m.seq === seq);
    if (!message || message.deleted) return { ok: false, reason: 'not_found' };
    if (message.author.id !== authorId) return { ok: false, reason: 'forbidden' };
    message.rev = ++room.lastRev;
    message.deleted = change.kind === 'deleted';
    message.text = change.kind === 'edited' ? change.text : '';
    return { ok: true, change: { room: room.name, rev: message.rev, seq, kind: change.kind, text: message.text, at: NOW } };
  }

  messagesBefore(roomId: number, beforeSeq: number | undefined, limit: number): Promise<MessageEntity[]> {
    const all = this.byId(roomId).messages.filter((m) => beforeSeq === undefined || m.seq < beforeSeq);
    return Promise.resolve(all.slice(Math.max(0, all.length - limit)));
  }

  messagesAfter(roomId: number, afterSeq: number, limit: number): Promise<MessageEntity[]> {
    return Promise.resolve(this.byId(roomId).messages.filter((m) => m.seq > afterSeq).slice(0, limit));
  }

  private byId(id: number) {
    return [...this.rooms.values()].find((r) => r.id === id)!;
  }
}

class FakeUsers implements Pick<UserRepository, 'byUsernames'> {
  constructor(private readonly users: UserEntity[]) {}

  *byUsernames(names: readonly string[]): Unit<UserEntity[]> {
    return this.users.filter((u) => names.includes(u.username));
  }
}

class FakePresence implements Pick<PresenceRepository, 'onVanished'> {
  onVanished(): () => void {
    return () => undefined;
  }
}

const alice: UserEntity = { id: 1, username: 'alice' };
const bob: UserEntity = { id: 2, username: 'bob' };
const carol: UserEntity = { id: 3, username: 'carol' };

describe('ChatService', () => {
  let db: FakeDatabase;
  let rooms: FakeRooms;
  let notifications: FakeNotifications;
  let rateLimit: FakeRateLimit;
  let bus: RecordingBus;
  let chat: ChatService;
  let general: RoomEntity;

  beforeEach(() => {
    db = new FakeDatabase();
    rooms = new FakeRooms();
    notifications = new FakeNotifications();
    rateLimit = new FakeRateLimit();
    bus = new RecordingBus();
    general = rooms.add('general');
    chat = new ChatService(
      db.as(),
      rooms as unknown as RoomRepository,
      new FakeUsers([alice, bob, carol]) as unknown as UserRepository,
      notifications.as(),
      new FakePresence() as unknown as PresenceRepository,
      rateLimit.as(),
      bus,
      fakeConfig(),
    );
  });

  describe('post', () => {
    it('acknowledges pipelined messages in the order they were posted, numbered in that order, from one commit', async () => {
      const acked: string[] = [];
      const posts = ['a', 'b', 'c'].map((clientId) => chat.post(alice, 'general', `text ${clientId}`, clientId).then((r) => (acked.push(clientId), r)));
      const results = await Promise.all(posts);
      expect(acked).toEqual(['a', 'b', 'c']);
      expect(results.map((r) => r.message.seq)).toEqual([1, 2, 3]);
      expect(db.commits).toBe(1);
      expect(bus.of('chat.message.created').map((e) => e.message.clientId)).toEqual(['a', 'b', 'c']);
    });

    it('stores the trimmed text and publishes the message, then a notification for each other user mentioned', async () => {
      const { message } = await chat.post(alice, 'general', '  hi @bob and @carol, and me @alice  ', 'm1');
      expect(message).toMatchObject({ room: 'general', seq: 1, text: 'hi @bob and @carol, and me @alice', author: alice });
      expect(bus.published.map((e) => e.type)).toEqual(['chat.message.created', 'stream.appended', 'stream.appended']);
      expect(bus.of('stream.appended').map((e) => e.entry.stream)).toEqual(['user:2', 'user:3']);
      expect(bus.of('stream.appended')[0]!.entry.data).toMatchObject({ kind: 'mention', title: 'alice mentioned you in #general', link: { room: 'general', seq: 1 } });
      expect(notifications.logs.has(alice.id)).toBe(false);
    });

    it('answers a resend of a stored clientId with the stored message, publishing and counting nothing', async () => {
      const first = await chat.post(alice, 'general', 'once', 'same');
      const published = bus.published.length;
      const again = await chat.post(alice, 'general', 'once, resent', 'same');
      expect(again.message).toEqual(first.message);
      expect(rooms.messages('general')).toHaveLength(1);
      expect(bus.published).toHaveLength(published);
      expect(rateLimit.taken.filter((t) => t.policy === 'chat')).toHaveLength(1);
    });

    it('treats a resend in the same commit as the first as a duplicate too', async () => {
      const [a, b] = await Promise.all([chat.post(alice, 'general', 'x', 'twice'), chat.post(alice, 'general', 'x', 'twice')]);
      expect(b.message.seq).toBe(a.message.seq);
      expect(bus.of('chat.message.created')).toHaveLength(1);
    });

    it('refuses a rate-limited message with retryAfterMs, and holds the ones after it on that connection until it comes again', async () => {
      const gate = new SendOrderGate<object>();
      const connection = {};
      const send = (clientId: string) => chat.post(alice, 'general', clientId, clientId, gate.ticket(connection, 'general', clientId, false));
      rateLimit.deny('chat', 1);
      const [m1, m2] = await Promise.allSettled([send('m1'), send('m2')]);
      expect(m1).toMatchObject({ status: 'rejected', reason: { code: 'rate_limited', details: { retryAfterMs: 250 } } });
      expect(m2).toMatchObject({ status: 'rejected', reason: { code: 'out_of_order', details: { expected: 'm1' } } });
      expect(rooms.messages('general')).toEqual([]);
      expect(bus.published).toEqual([]);
      expect((await send('m1')).message.seq).toBe(1);
      expect((await send('m2')).message.seq).toBe(2);
    });

    it('rejects (does not throw) empty or too long text, writing nothing', async () => {
      const blank = chat.post(alice, 'general', '   ', 'e1');
      await expect(blank).rejects.toMatchObject({ code: 'invalid' });
      await expect(chat.post(alice, 'general', 'x'.repeat(41), 'e2')).rejects.toMatchObject({ code: 'invalid' });
      expect(db.commits).toBe(0);
    });

    it('refuses an unknown room, and that verdict holds nothing up on the connection', async () => {
      const gate = new SendOrderGate<object>();
      const connection = {};
      await expect(chat.post(alice, 'nowhere', 'hi', 'n1', gate.ticket(connection, 'nowhere', 'n1', false))).rejects.toMatchObject({ code: 'room_not_found' });
      expect(gate.ticket(connection, 'nowhere', 'n2', false).take()).toBeUndefined();
    });
  });

  describe('edit and delete', () => {
    beforeEach(async () => {
      await chat.post(alice, 'general', 'first', 'c1');
      await chat.post(bob, 'general', 'second', 'c2');
      bus.published.length = 0;
    });

    it('edits the author’s own message with the room’s next revision and publishes the change', async () => {
      const change = await chat.edit(alice, 'general', 1, '  fixed  ');
      const expected: MessageChange = { room: 'general', rev: 1, seq: 1, kind: 'edited', text: 'fixed', at: NOW };
      expect(change).toEqual(expected);
      expect(bus.published).toEqual([{ type: 'chat.message.changed', change: expected }]);
      expect(rateLimit.taken.at(-1)).toEqual({ policy: 'write', key: '1' });
    });

    it('deletes, then a second delete of the same message is message_not_found', async () => {
      expect(await chat.delete(bob, 'general', 2)).toMatchObject({ kind: 'deleted', text: '', rev: 1 });
      await expect(chat.delete(bob, 'general', 2)).rejects.toMatchObject({ code: 'message_not_found' });
      expect(bus.of('chat.message.changed')).toHaveLength(1);
    });

    it('refuses to change someone else’s message (forbidden), publishing nothing', async () => {
      await expect(chat.edit(alice, 'general', 2, 'mine now')).rejects.toEqual(new DomainError('forbidden', 'You can only change your own messages'));
      await expect(chat.delete(alice, 'general', 2)).rejects.toMatchObject({ code: 'forbidden' });
      expect(rooms.messages('general')[1]).toMatchObject({ text: 'second', deleted: false });
      expect(bus.published).toEqual([]);
    });

    it('answers an unknown seq with message_not_found and an unknown room with room_not_found', async () => {
      await expect(chat.edit(alice, 'general', 99, 'x')).rejects.toMatchObject({ code: 'message_not_found' });
      await expect(chat.delete(alice, 'nowhere', 1)).rejects.toMatchObject({ code: 'room_not_found' });
    });

    it('returns a rejection for blank text rather than throwing, so the answer keeps its place in the connection’s order', async () => {
      let returned: Promise<MessageChange> | undefined;
      expect(() => (returned = chat.edit(alice, 'general', 1, '  '))).not.toThrow();
      await expect(returned).rejects.toMatchObject({ code: 'invalid' });
    });

    it('is rate limited on the write policy before anything is changed', async () => {
      rateLimit.deny('write');
      await expect(chat.edit(alice, 'general', 1, 'late')).rejects.toMatchObject({ code: 'rate_limited' });
      expect(rooms.messages('general')[0]!.text).toBe('first');
    });
  });

  describe('history', () => {
    const fill = async (count: number) => {
      for (let i = 1; i <= count; i++) await chat.post(alice, 'general', `m${i}`, `c${i}`);
    };

    it('on join, gives the latest HISTORY_ON_JOIN messages, oldest first, and the position after them', async () => {
      await fill(HISTORY_ON_JOIN + 5);
      const { items, position } = await chat.history(general, undefined, 10);
      expect(items).toHaveLength(HISTORY_ON_JOIN);
      expect(items[0]!.seq).toBe(6);
      expect(position).toBe(HISTORY_ON_JOIN + 5);
    });

    it('gives an empty room position 0, and a reader already at the end its own position', async () => {
      expect(await chat.history(general, undefined, 10)).toEqual({ items: [], position: 0 });
      await fill(3);
      expect(await chat.history(general, 3, 10)).toEqual({ items: [], position: 3 });
    });

    it('after a position, gives at most `limit` messages and the position of the last', async () => {
      await fill(8);
      const { items, position } = await chat.history(general, 2, 4);
      expect(items.map((m) => m.seq)).toEqual([3, 4, 5, 6]);
      expect(position).toBe(6);
    });

    it('scrolls back a page at a time, saying whether older messages remain', async () => {
      await fill(7);
      const page = await chat.historyBefore('general', 6, 3);
      expect(page.messages.map((m) => m.seq)).toEqual([3, 4, 5]);
      expect(page.hasMore).toBe(true);
      const start = await chat.historyBefore('general', 3, 3);
      expect(start.messages.map((m) => m.seq)).toEqual([1, 2]);
      expect(start.hasMore).toBe(false);
      const exact = await chat.historyBefore('general', 4, 3);
      expect(exact.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
      expect(exact.hasMore).toBe(false);
    });
  });
});
