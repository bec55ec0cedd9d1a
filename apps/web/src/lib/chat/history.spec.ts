import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../api';
import { alice, useChatUnderTest } from '../testing/chat';
import { MAX_MESSAGES_PER_ROOM } from './timeline.svelte';

const t = useChatUnderTest('general');
const seqs = () => t().chat.timeline.messages('general').map((m) => m.seq);

function stored(seq: number, text = `m${seq}`): ChatMessage {
  return { room: 'general', seq, author: alice, text, createdAt: '2026-01-01T00:00:00.000Z', editedAt: null, deleted: false };
}

describe('HistoryPager', () => {
  it('puts the page before the oldest held in front, sorted and once each, and knows when it reached the start', async () => {
    t().online('general', (s) => {
      s.message(1, 51, alice, 'm51');
      s.message(1, 52, alice, 'm52');
    });
    expect(t().chat.history.state('general').atStart).toBe(false);
    const loading = t().chat.history.loadOlder('general');
    expect(t().chat.history.state('general').loading).toBe(true);
    // A second scroll while loading asks for nothing more.
    void t().chat.history.loadOlder('general');
    expect(t().pages).toHaveLength(1);
    expect(t().pages[0]).toMatchObject({ room: 'general', before: 51 });
    t().pages[0].resolve({ messages: [stored(50), stored(49), stored(49), stored(51)], hasMore: false });
    await loading;
    expect(seqs()).toEqual([49, 50, 51, 52]);
    expect(t().chat.history.state('general')).toEqual({ loading: false, atStart: true, error: null });
  });

  it('applies an edit that came for a message older than the ones held when its page arrives', async () => {
    const socket = t().online('general', (s) => s.message(1, 10, alice, 'm10'));
    socket.receive('message-edited', { room: 'general', seq: 9, rev: 5, text: 'edited 9', editedAt: '2026-01-02T00:00:00.000Z' });
    const loading = t().chat.history.loadOlder('general');
    t().pages[0].resolve({ messages: [stored(9, 'old 9')], hasMore: true });
    await loading;
    expect(t().chat.timeline.messages('general')[0]).toMatchObject({ seq: 9, text: 'edited 9' });
    expect(t().chat.history.state('general').atStart).toBe(false);
  });

  it('drops a page that no longer joins up (live messages pushed the oldest out meanwhile)', async () => {
    const socket = t().online('general', (s) => s.message(1, 100, alice, 'm100'));
    const loading = t().chat.history.loadOlder('general');
    for (let seq = 101; seq <= 100 + MAX_MESSAGES_PER_ROOM; seq++) socket.message(1, seq, alice, `m${seq}`);
    expect(seqs()[0]).toBe(101);
    t().pages[0].resolve({ messages: [stored(99)], hasMore: false });
    await loading;
    expect(seqs()[0]).toBe(101);
    expect(t().chat.history.state('general')).toEqual({ loading: false, atStart: false, error: null });
  });

  it('is no longer at the start once the oldest messages dropped off the top', async () => {
    const socket = t().online('general', (s) => s.message(1, 2, alice, 'm2'));
    const loading = t().chat.history.loadOlder('general');
    t().pages[0].resolve({ messages: [stored(1)], hasMore: false });
    await loading;
    expect(t().chat.history.state('general').atStart).toBe(true);
    for (let seq = 3; seq <= 2 + MAX_MESSAGES_PER_ROOM; seq++) socket.message(1, seq, alice, `m${seq}`);
    expect(t().chat.history.state('general').atStart).toBe(false);
  });

  it('says why a page could not be loaded, and loads it on the next try', async () => {
    t().online('general', (s) => s.message(1, 5, alice, 'm5'));
    const failing = t().chat.history.loadOlder('general');
    t().pages[0].reject(new Error('Network down'));
    await failing;
    expect(t().chat.history.state('general')).toEqual({ loading: false, atStart: false, error: 'Network down' });
    const again = t().chat.history.loadOlder('general');
    t().pages[1].resolve({ messages: [stored(4)], hasMore: true });
    await again;
    expect(seqs()).toEqual([4, 5]);
    expect(t().chat.history.state('general').error).toBeNull();
  });
});
