import { describe, expect, it, vi } from 'vitest';
import { alice, bob, useChatUnderTest } from '../testing/chat';
import { TYPING_SEND_INTERVAL_MS, TYPING_SHOW_MS } from './presence.svelte';

const t = useChatUnderTest('general');
const typing = () => t().chat.presence.typing('general').map((u) => u.username);

describe('RoomPresence', () => {
  it('shows who is in the room from presence, and forgets it when the socket goes', () => {
    const socket = t().online();
    expect(t().chat.presence.users('general')).toBeNull();
    socket.receive('presence', { room: 'general', users: [alice, bob, { id: 'x' }] });
    expect(t().chat.presence.users('general')).toEqual([alice, bob]);
    socket.drop(1006);
    expect(t().chat.presence.users('general')).toBeNull();
  });

  it('shows a typist for 5 s after their latest typing', () => {
    const socket = t().online();
    socket.receive('typing', { room: 'general', user: bob });
    vi.advanceTimersByTime(TYPING_SHOW_MS - 1000);
    socket.receive('typing', { room: 'general', user: bob });
    vi.advanceTimersByTime(TYPING_SHOW_MS - 1);
    expect(typing()).toEqual(['bob']);
    vi.advanceTimersByTime(1);
    expect(typing()).toEqual([]);
  });

  it("stops showing a typist as soon as their message comes", () => {
    const socket = t().online();
    socket.receive('typing', { room: 'general', user: bob });
    socket.receive('typing', { room: 'general', user: alice });
    socket.message(1, 1, bob, 'done');
    expect(typing()).toEqual(['alice']);
  });

  it('forgets a room it left, but not one re-joined before the left came', () => {
    const socket = t().online();
    socket.receive('presence', { room: 'general', users: [bob] });
    t().chat.leave('general');
    expect(socket.frames('leave')).toHaveLength(1);
    expect(t().chat.presence.users('general')).toBeNull();
    t().chat.timeline.join('general');
    socket.receive('presence', { room: 'general', users: [bob] });
    socket.receive('left', { room: 'general' });
    expect(t().chat.presence.users('general')).toEqual([bob]);
  });

  it('sends our typing only in a joined room, at most once every 2 s', () => {
    t().chat.presence.notifyTyping('general');
    const socket = t().online();
    t().chat.presence.notifyTyping('general');
    t().chat.presence.notifyTyping('general');
    vi.advanceTimersByTime(TYPING_SEND_INTERVAL_MS - 1);
    t().chat.presence.notifyTyping('general');
    expect(socket.frames('typing')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    t().chat.presence.notifyTyping('general');
    expect(socket.frames('typing')).toHaveLength(2);
    // A refused typing is background chatter, never shown.
    socket.receive('error', { code: 'rate_limited', message: 'slow', ref: 'typing:general' });
    expect(t().chat.socket.lastError).toBeNull();
  });
});
