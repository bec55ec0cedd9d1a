import { describe, expect, it, vi } from 'vitest';
import { alice, useChatUnderTest } from '../testing/chat';
import type { FakeWebSocket } from '../testing/fake-websocket';

const t = useChatUnderTest(null);
const outbox = () => t().chat.outbox;
const texts = (socket: FakeWebSocket) => socket.frames('message').map((f) => f.data.text);

/** The server stores the message frame `frame` as `seq`: ack, then the broadcast. */
function store(socket: FakeWebSocket, index: number, seq: number): void {
  const frame = socket.frames('message')[index];
  socket.receive('ack', { room: 'general', clientId: frame.data.clientId, seq });
  socket.message(1, seq, alice, String(frame.data.text));
}

describe('Outbox', () => {
  it('holds what is written before the room is joined, then sends it in order, only the first marked first', () => {
    expect(outbox().send('general', ' one ')).toBe(true);
    outbox().send('general', 'two');
    expect(outbox().send('general', '   ')).toBe(false);
    expect(outbox().state('general')).toMatchObject({ sending: 0, waiting: 2 });
    const socket = t().online();
    expect(socket.frames('message').map((f) => [f.data.text, f.data.first])).toEqual([
      ['one', true],
      ['two', undefined],
    ]);
    expect(outbox().state('general')).toMatchObject({ sending: 2, waiting: 0 });
  });

  it('forgets a message once it is shown back, and shows it once', () => {
    const socket = t().online();
    outbox().send('general', 'hello');
    store(socket, 0, 1);
    expect(outbox().pending('general')).toEqual([]);
    expect(t().chat.timeline.messages('general').map((m) => m.text)).toEqual(['hello']);
  });

  it('re-sends what was not stored after a reconnect, with the same clientIds, in order, once the history is in', () => {
    const first = t().online();
    outbox().send('general', 'a');
    outbox().send('general', 'b');
    outbox().send('general', 'c');
    store(first, 0, 1);
    const sentIds = first.frames('message').map((f) => f.data.clientId);
    first.drop(1006);
    expect(outbox().state('general')).toMatchObject({ sending: 0, waiting: 2 });
    vi.runOnlyPendingTimers();
    const second = t().server.current;
    second.open();
    // Nothing goes out before `joined`: the history may show some were stored after all.
    expect(second.frames('message')).toEqual([]);
    second.receive('joining', { room: 'general', id: 1 });
    second.receive('joined', { room: 'general', lastSeq: 1, lastRev: 0 });
    expect(second.frames('message').map((f) => [f.data.text, f.data.clientId, f.data.first])).toEqual([
      ['b', sentIds[1], true],
      ['c', sentIds[2], undefined],
    ]);
  });

  it('drops its copy of a message the server had stored before the drop (acked again, already in the history)', () => {
    const first = t().online();
    outbox().send('general', 'b');
    first.drop(1006); // stored as seq 1, but neither its ack nor its broadcast came through
    vi.runOnlyPendingTimers();
    const second = t().server.current;
    second.open();
    second.receive('joining', { room: 'general', id: 1 });
    second.message(1, 1, alice, 'b');
    second.receive('joined', { room: 'general', lastSeq: 1, lastRev: 0 });
    const resent = second.frames('message')[0];
    second.receive('ack', { room: 'general', clientId: resent.data.clientId, seq: 1 });
    expect(outbox().pending('general')).toEqual([]);
    expect(t().chat.timeline.messages('general').map((m) => m.seq)).toEqual([1]);
  });

  it('after a rate limit waits as told, then starts again from the refused message, one at a time, doubling with each ack', () => {
    const socket = t().online();
    for (const text of ['a', 'b', 'c', 'd']) outbox().send('general', text);
    store(socket, 0, 1);
    const refused = socket.frames('message')[1];
    socket.receive('error', { code: 'rate_limited', message: 'Slow down', ref: refused.ref, retryAfterMs: 2000 });
    expect(outbox().state('general')).toMatchObject({ waiting: 3, hold: { reason: 'rate_limited' } });
    expect(t().chat.socket.lastError).toBeNull();
    vi.advanceTimersByTime(1999);
    expect(texts(socket)).toEqual(['a', 'b', 'c', 'd']);
    vi.advanceTimersByTime(1);
    expect(texts(socket)).toEqual(['a', 'b', 'c', 'd', 'b']);
    expect(socket.frames('message')[4].data.first).toBe(true);
    store(socket, 4, 2);
    // Window 2 now: both of the rest go.
    expect(texts(socket)).toEqual(['a', 'b', 'c', 'd', 'b', 'c', 'd']);
  });

  it('ignores the answer to a transmission it has since sent again', () => {
    const socket = t().online();
    outbox().send('general', 'a');
    const stale = socket.frames('message')[0].ref;
    socket.receive('error', { code: 'unavailable', message: 'try later', ref: stale });
    vi.runOnlyPendingTimers();
    expect(socket.frames('message')).toHaveLength(2);
    socket.receive('error', { code: 'invalid', message: 'late answer', ref: stale });
    expect(outbox().pending('general')[0].failed).toBeNull();
  });

  it('backs off refusals without a wait on the reconnect policy, the wait growing with each in a row', () => {
    const socket = t().online();
    outbox().send('general', 'a');
    const until: number[] = [];
    for (let i = 0; i < 3; i++) {
      const frame = socket.frames('message').at(-1)!;
      const at = Date.now();
      socket.receive('error', { code: 'unavailable', message: 'down', ref: frame.ref });
      until.push(outbox().state('general').hold!.until - at);
      vi.runOnlyPendingTimers();
    }
    // random 0.5: half of 500, 1000, 2000.
    expect(until).toEqual([250, 500, 1000]);
  });

  it('shows a message refused for good as failed, holding nothing up; retry sends it after the others', () => {
    const socket = t().online();
    outbox().send('general', 'bad');
    outbox().send('general', 'good');
    socket.receive('error', { code: 'invalid', message: 'Too long', ref: socket.frames('message')[0].ref });
    expect(t().chat.socket.lastError?.message).toBe('Too long');
    expect(outbox().state('general')).toMatchObject({ failed: 1, sending: 1 });
    const bad = outbox().pending('general')[0];
    outbox().retry(bad.clientId);
    expect(outbox().pending('general').map((p) => p.text)).toEqual(['good', 'bad']);
    expect(socket.frames('message').at(-1)?.data).toMatchObject({ text: 'bad', clientId: bad.clientId });
  });
});
