import { describe, expect, it, vi } from 'vitest';
import { useChatUnderTest } from '../testing/chat';
import { READ_INTERVAL_MS } from './read.svelte';

const t = useChatUnderTest('general');

describe('ReadReceipts', () => {
  it('sends a read at once, then at most one a second, the latest position winning', () => {
    const socket = t().online();
    t().chat.reads.markRead('general', 3);
    t().chat.reads.markRead('general', 5);
    t().chat.reads.markRead('general', 4);
    t().chat.reads.markRead('general', 7);
    expect(socket.frames('read').map((f) => f.data.seq)).toEqual([3]);
    vi.advanceTimersByTime(READ_INTERVAL_MS - 1);
    expect(socket.frames('read')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(socket.frames('read').map((f) => f.data.seq)).toEqual([3, 7]);
    expect(t().chat.reads.readSeq('general')).toBe(7);
  });

  it('never sends a position at or below the one sent', () => {
    const socket = t().online();
    t().chat.reads.markRead('general', 5);
    vi.advanceTimersByTime(READ_INTERVAL_MS);
    t().chat.reads.markRead('general', 5);
    t().chat.reads.markRead('general', 2);
    t().chat.reads.markRead('general', 0);
    vi.advanceTimersByTime(READ_INTERVAL_MS);
    expect(socket.frames('read').map((f) => f.data.seq)).toEqual([5]);
  });

  it('keeps a read made while offline and sends it once the room is joined again', () => {
    const first = t().online();
    first.drop(1006);
    t().chat.reads.markRead('general', 9);
    expect(t().chat.reads.readSeq('general')).toBeUndefined();
    vi.runOnlyPendingTimers();
    const second = t().online();
    expect(second.frames('read').map((f) => f.data)).toEqual([{ room: 'general', seq: 9 }]);
  });
});
