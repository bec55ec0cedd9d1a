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

describe('ChatFrameReader, board entries', () => {
  it('reads a board entry as board-entry with its room, by the id a board-picture or board-resume announced', () => {
    const reader = new ChatFrameReader();
    expect(reader.read('["s",4,1,2,1795356000120,7,"#ff0000",10,0,[1,2,3,4]]')).toBeNull(); // room 4 not announced yet
    reader.read('{"event":"board-picture","data":{"room":"art","id":4,"seq":0,"strokes":[],"cleared":null}}');
    expect(reader.read('["s",4,1,2,1795356000120,7,"#ff0000",10,0,[1,2,3,4]]')).toEqual({
      event: 'board-entry',
      data: { room: 'art', entry: ['s', 4, 1, 2, 1795356000120, 7, '#ff0000', 10, 0, [1, 2, 3, 4]] },
    });
    reader.read('{"event":"board-resume","data":{"room":"sketch","id":5,"seq":9}}');
    expect(reader.read('["c",5,10,2,1795356000120,"bob"]')?.data).toEqual({ room: 'sketch', entry: ['c', 5, 10, 2, 1795356000120, 'bob'] });
    // A chat message in the same room is still a message.
    expect(reader.read('[4,1,2,"bob",1795356000120,"hi"]')?.event).toBe('message');
  });

  it('drops a board entry whose fields do not have the types of its kind', () => {
    const reader = new ChatFrameReader();
    reader.read('{"event":"joining","data":{"room":"art","id":4}}');
    expect(reader.read('["p",4,2,2,1,7,1,[1,2]]')?.event).toBe('board-entry');
    expect(reader.read('["p",4,2,2,1,7,1,[1,2,3]]')).toBeNull(); // half a point
    expect(reader.read('["p",4,2,2,1,7,1,[1.5,2]]')).toBeNull();
    expect(reader.read('["s",4,1,2,1,7,"#ff0000",10,2,[1,2]]')).toBeNull(); // eraser is 0 or 1
    expect(reader.read('["u",4,3,2,1,"7"]')).toBeNull();
    expect(reader.read('["c",4,3,2,1,null]')).toBeNull();
    expect(reader.read('["x",4,3,2,1]')).toBeNull(); // not a kind: read as a message, which it is not
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
