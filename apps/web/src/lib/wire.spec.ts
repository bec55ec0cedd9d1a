import { describe, expect, it } from 'vitest';
import { ChatFrameReader, readStreamData } from './wire';

describe('ChatFrameReader', () => {
  it('reads a message frame by the room id its joining announced, and everything else as {event, data}', () => {
    const reader = new ChatFrameReader();
    expect(reader.read('{"event":"joining","data":{"room":"general","id":3}}')).toEqual({ event: 'joining', data: { room: 'general', id: 3 } });
    expect(reader.read('[3,42,2,"bob",1795356000120,"hi @alice"]')).toEqual({
      event: 'message',
      data: { room: 'general', seq: 42, author: { id: 2, username: 'bob' }, text: 'hi @alice', createdAt: '2026-11-22T14:00:00.120Z', editedAt: null, deleted: false, t: 1795356000120 },
    });
    // Edited (history), and deleted (text "").
    expect(reader.read('[3,7,2,"bob",1795356000120,"fixed",1795356060000]')?.data).toMatchObject({ text: 'fixed', editedAt: '2026-11-22T14:01:00.000Z', deleted: false });
    expect(reader.read('[3,8,2,"bob",1795356000120,""]')?.data).toMatchObject({ text: '', deleted: true });
  });

  it('gives our own message the clientId of its ack when the ack came first, and only that one', () => {
    const reader = new ChatFrameReader();
    reader.read('{"event":"joining","data":{"room":"general","id":3}}');
    reader.read('{"event":"ack","data":{"clientId":"c-1","seq":43,"room":"general"}}');
    expect(reader.read('[3,42,2,"bob",1795356000120,"before"]')?.data.clientId).toBeUndefined();
    expect(reader.read('[3,43,1,"me",1795356000120,"mine"]')?.data.clientId).toBe('c-1');
    expect(reader.read('[3,43,1,"me",1795356000120,"mine"]')?.data.clientId).toBeUndefined(); // once
  });

  it('drops what it cannot read: bad JSON, a room it was not told of, wrong types', () => {
    const reader = new ChatFrameReader();
    expect(reader.read('not json')).toBeNull();
    expect(reader.read('[9,1,2,"bob",1,"x"]')).toBeNull(); // no joining for room 9
    reader.read('{"event":"joining","data":{"room":"general","id":9}}');
    expect(reader.read('[9,"1",2,"bob",1,"x"]')).toBeNull();
    expect(reader.read('[9,1,2,"bob",1,{"x":1}]')).toBeNull();
    expect(reader.read('{"event":"ack"}')).toBeNull();
    expect(reader.read('"message"')).toBeNull();
  });
});

describe('readStreamData', () => {
  const at = (positions: Record<string, number>) => (topic: string) => positions[topic];

  it('reads the compact notification and update events of /api/events', () => {
    expect(readStreamData('notification', ['notifications', 'mention', 1795356000123, 'bob mentioned you', 'hey'], at({ notifications: 12 }))).toEqual({
      topic: 'notifications',
      id: 12,
      kind: 'mention',
      title: 'bob mentioned you',
      body: 'hey',
      createdAt: '2026-11-22T14:00:00.123Z',
      read: false,
      link: null,
      t: 1795356000123,
    });
    expect(readStreamData('notification', ['notifications', 'mention', 1795356000123, 'bob mentioned you', 'hey', 'general', 42], at({ notifications: 13 }))).toMatchObject({
      id: 13,
      link: { room: 'general', seq: 42 },
    });
    expect(readStreamData('update', ['blog:3', 40, 1795356000123, 'We are live'], at({}))).toEqual({
      topic: 'blog:3',
      id: 40,
      body: 'We are live',
      createdAt: '2026-11-22T14:00:00.123Z',
      editedAt: null,
      t: 1795356000123,
    });
  });

  it('leaves object data alone and refuses a malformed array', () => {
    const read = { topic: 'notifications', ids: [7], all: false, unread: 3 };
    expect(readStreamData('notification-read', read, at({}))).toBe(read);
    expect(readStreamData('update', ['blog:3', 40, 'soon', 'x'], at({}))).toBeNull();
  });

  it('reads a board entry as its tuple, with its topic and stored time, and refuses a malformed one', () => {
    const entry = ['p', 4, 17, 2, 1795356000123, 9, 3, [10, 20, 11, 21]];
    expect(readStreamData('board', entry, at({}))).toEqual({ topic: 'board:4', entry, t: 1795356000123 });
    expect(readStreamData('board', ['p', 'x', 17], at({}))).toBeNull();
    expect(readStreamData('board', { not: 'a tuple' }, at({}))).toBeNull();
  });
});
