import { describe, expect, it, vi } from 'vitest';
import { alice, bob, useChatUnderTest } from '../testing/chat';

const t = useChatUnderTest('general');
const seqs = () => t().chat.timeline.messages('general').map((m) => m.seq);

describe('RoomTimeline', () => {
  it('keeps messages sorted by seq, once each, whatever order and however often they come', () => {
    const socket = t().online('general', (s) => {
      s.message(1, 1, alice, 'one');
      s.message(1, 2, bob, 'two');
    });
    socket.message(1, 2, bob, 'two again');
    socket.message(1, 5, alice, 'five');
    socket.message(1, 3, alice, 'three');
    socket.message(1, 4, bob, 'four');
    expect(seqs()).toEqual([1, 2, 3, 4, 5]);
    expect(t().chat.timeline.messages('general')[1].text).toBe('two');
    expect(t().chat.timeline.lastSeq('general')).toBe(5);
  });

  it('joins first for the latest history, and re-joins a new socket after what it holds', () => {
    const first = t().server.current;
    first.open();
    expect(first.frames('join').map((f) => f.data)).toEqual([{ room: 'general' }]);
    first.receive('joining', { room: 'general', id: 1 });
    first.message(1, 3, alice, 'three');
    first.receive('joined', { room: 'general', lastSeq: 3, lastRev: 1 });
    first.receive('message-edited', { room: 'general', seq: 3, rev: 2, text: 'three!' });
    first.drop(1006);
    vi.runOnlyPendingTimers();
    const second = t().server.current;
    second.open();
    expect(second.frames('join').map((f) => f.data)).toEqual([{ room: 'general', afterSeq: 3, afterRev: 2 }]);
  });

  it('remembers the position of an empty room, so a re-join asks for what follows 0', () => {
    const first = t().online('general', undefined, { lastSeq: 0, lastRev: 0 });
    expect(t().chat.history.state('general').atStart).toBe(true);
    first.drop(1006);
    vi.runOnlyPendingTimers();
    t().server.current.open();
    expect(t().server.current.frames('join')[0].data).toEqual({ room: 'general', afterSeq: 0, afterRev: 0 });
  });

  it('applies each edit and delete once, by rev, and a late edit never brings a deleted text back', () => {
    const socket = t().online('general', (s) => s.message(1, 1, alice, 'hello'));
    socket.receive('message-edited', { room: 'general', seq: 1, rev: 1, text: 'hello!', editedAt: '2026-01-01T00:00:00.000Z' });
    // A replayed older revision changes nothing.
    socket.receive('message-edited', { room: 'general', seq: 1, rev: 1, text: 'stale' });
    expect(t().chat.timeline.messages('general')[0]).toMatchObject({ text: 'hello!', editedAt: '2026-01-01T00:00:00.000Z' });
    socket.receive('message-deleted', { room: 'general', seq: 1, rev: 2 });
    socket.receive('message-edited', { room: 'general', seq: 1, rev: 3, text: 'back?' });
    expect(t().chat.timeline.messages('general')[0]).toMatchObject({ text: '', deleted: true });
  });

  it('sends edits and deletes only while the room is joined on an open socket', () => {
    expect(t().chat.timeline.edit('general', 1, 'new')).toBe(false);
    const socket = t().online();
    expect(t().chat.timeline.edit('general', 1, '  new  ')).toBe(true);
    expect(t().chat.timeline.edit('general', 1, '   ')).toBe(false);
    expect(t().chat.timeline.remove('general', 2)).toBe(true);
    expect(socket.sent.filter((f) => f.event !== 'join')).toEqual([
      { event: 'edit', data: { room: 'general', seq: 1, text: 'new' }, ref: 'edit:general:1' },
      { event: 'delete', data: { room: 'general', seq: 2 }, ref: 'delete:general:2' },
    ]);
  });

  it('stops asking for a room the server does not have, and says so', () => {
    t().chat.timeline.join('gone');
    const first = t().server.current;
    first.open();
    first.receive('error', { code: 'room_not_found', message: 'No such room', ref: 'join:gone' });
    expect(t().chat.socket.lastError?.code).toBe('room_not_found');
    first.drop(1006);
    vi.runOnlyPendingTimers();
    t().server.current.open();
    expect(t().server.current.frames('join').map((f) => f.data.room)).toEqual(['general']);
  });

  it('counts the unread messages from others, leaving out deleted ones', () => {
    const socket = t().online('general', (s) => {
      for (let seq = 1; seq <= 5; seq++) s.message(1, seq, seq % 2 ? bob : alice, `m${seq}`);
    });
    socket.receive('message-deleted', { room: 'general', seq: 5, rev: 1 });
    // Others' messages after 1: seq 3 (5 is deleted).
    expect(t().chat.timeline.countFromOthers('general', alice.id, 1)).toBe(1);
    expect(t().chat.timeline.countFromOthers('general', alice.id, 0, 3)).toBe(2);
  });
});
