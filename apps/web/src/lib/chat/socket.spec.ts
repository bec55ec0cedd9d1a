import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeServer } from '../testing/fake-websocket';
import { ChatSocket, PING_INTERVAL_MS, PONG_TIMEOUT_MS, type ChatSignal } from './socket.svelte';

let server: FakeServer;

function socket(options: { onSessionExpired?: () => Promise<boolean>; random?: () => number } = {}): ChatSocket {
  const chat = new ChatSocket({ url: 'ws://test/ws', createSocket: server.createSocket, random: options.random ?? (() => 0.999), ...options });
  chat.start();
  return chat;
}

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ChatSocket frame handlers', () => {
  it('runs every handler of a frame type in registration order, and none of the others', () => {
    const chat = socket();
    const calls: string[] = [];
    chat.on('whiteboard-stroke', (data) => calls.push(`first ${String(data.id)}`));
    chat.on('whiteboard-stroke', (data) => calls.push(`second ${String(data.id)}`));
    chat.on('reaction', () => calls.push('reaction'));
    server.current.open();
    server.current.receive('whiteboard-stroke', { id: 7 });
    expect(calls).toEqual(['first 7', 'second 7']);
  });

  it('stops calling a handler once it is unregistered, and ignores unknown and malformed frames', () => {
    const chat = socket();
    const seen: unknown[] = [];
    const off = chat.on('reaction', (data) => seen.push(data.emoji));
    server.current.open();
    server.current.receive('reaction', { emoji: 'a' });
    off();
    server.current.receive('reaction', { emoji: 'b' });
    server.current.receive('never-heard-of', { x: 1 });
    server.current.receiveRaw('not json');
    expect(seen).toEqual(['a']);
  });

  it('tells observers about every frame before the handlers act on it', () => {
    const chat = socket();
    const order: string[] = [];
    chat.observe((signal) => order.push(signal.type));
    chat.on('reaction', () => order.push('handler'));
    server.current.open();
    server.current.receive('reaction', {});
    expect(order).toEqual(['open', 'frame', 'handler']);
  });

  it('sends nothing while no socket is open, and says so', () => {
    const chat = socket();
    expect(chat.send('typing', { room: 'general' })).toBe(false);
    server.current.open();
    expect(chat.send('typing', { room: 'general' }, 'typing:general')).toBe(true);
    expect(server.current.sent).toEqual([{ event: 'typing', data: { room: 'general' }, ref: 'typing:general' }]);
  });

  it('asks the feature claims about an error frame in order; an unclaimed one becomes lastError', () => {
    const chat = socket();
    const asked: string[] = [];
    chat.claimErrors((error) => (asked.push('a'), error.ref === 'whiteboard:1'));
    chat.claimErrors((error) => (asked.push('b'), error.ref === 'reaction:1'));
    server.current.open();
    server.current.receive('error', { code: 'invalid', message: 'bad stroke', ref: 'whiteboard:1' });
    expect(asked).toEqual(['a']);
    expect(chat.lastError).toBeNull();
    server.current.receive('error', { code: 'invalid', message: 'nope', ref: 'join:x' });
    expect(chat.lastError).toEqual({ code: 'invalid', message: 'nope', ref: 'join:x' });
    // A refused ping is background chatter: never shown.
    chat.dismissError();
    server.current.receive('error', { code: 'rate_limited', message: 'slow down', ref: 'ping:3' });
    expect(chat.lastError).toBeNull();
  });

  it('calls open on every new socket and down when it goes', () => {
    const chat = socket();
    const events: string[] = [];
    chat.lifecycle({ open: () => events.push('open'), down: () => events.push('down'), closed: () => events.push('closed') });
    server.current.open();
    server.current.drop(1006);
    vi.runOnlyPendingTimers();
    server.current.open();
    chat.close();
    expect(events).toEqual(['open', 'down', 'open', 'closed']);
    expect(chat.status).toBe('offline');
  });
});

describe('ChatSocket reconnects', () => {
  /** Drop the current socket with `code` and measure how long until the next one is opened. */
  function waitAfterDrop(code: number): number {
    const before = server.sockets.length;
    server.current.drop(code);
    const started = Date.now();
    while (server.sockets.length === before) vi.advanceTimersByTime(1);
    return Date.now() - started;
  }

  it('backs off with full jitter from 0.5 s, doubling up to 10 s, while sockets fail', () => {
    socket({ random: () => 0.5 });
    const waits = Array.from({ length: 7 }, () => waitAfterDrop(1006));
    // Half of each ceiling: 500, 1000, 2000, 4000, 8000, then the 10 s cap.
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });

  it('after a 1012 from a working socket retries on the deploy pace (0.5 s + 0–0.5 s), not the growing backoff', () => {
    const chat = socket({ random: () => 0.5 });
    waitAfterDrop(1006);
    waitAfterDrop(1006);
    // A socket that works: a feature saw its `joined`.
    server.current.open();
    chat.markHealthy();
    const waits = [waitAfterDrop(1012), ...Array.from({ length: 4 }, () => waitAfterDrop(1006))];
    expect(waits).toEqual([750, 750, 750, 750, 750]);
  });

  it('leaves the deploy pace after a minute without an answer', () => {
    const chat = socket({ random: () => 0.5 });
    server.current.open();
    chat.markHealthy();
    const started = Date.now();
    let wait = waitAfterDrop(1012);
    while (Date.now() - started < 60_000) wait = waitAfterDrop(1006);
    expect(wait).toBe(750);
    // The window is over: the ordinary backoff, from its start (the 1012 socket had proved itself).
    expect([waitAfterDrop(1006), waitAfterDrop(1006)]).toEqual([250, 500]);
  });

  it('a 1012 from a socket that never proved itself gets the ordinary backoff', () => {
    socket({ random: () => 0.5 });
    server.current.open();
    expect([waitAfterDrop(1012), waitAfterDrop(1012), waitAfterDrop(1012)]).toEqual([250, 500, 1000]);
  });

  it('reconnects at once after 4008 from a working socket', () => {
    const chat = socket();
    server.current.open();
    chat.markHealthy();
    server.current.drop(4008);
    expect(server.sockets.length).toBe(2);
  });

  it('after 4001 renews the session, then reconnects at once', async () => {
    let renew!: (renewed: boolean) => void;
    const onSessionExpired = vi.fn(() => new Promise<boolean>((resolve) => (renew = resolve)));
    const chat = socket({ onSessionExpired });
    server.current.open();
    chat.markHealthy();
    server.current.drop(4001);
    expect(onSessionExpired).toHaveBeenCalledOnce();
    expect(server.sockets.length).toBe(1);
    renew(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(server.sockets.length).toBe(2);
  });

  it('a late close of a replaced socket changes nothing', () => {
    const chat = socket();
    const signals: ChatSignal['type'][] = [];
    chat.observe((signal) => signals.push(signal.type));
    const first = server.current;
    first.open();
    chat.markHealthy();
    first.drop(4008);
    const second = server.current;
    second.open();
    first.drop(1006);
    expect(chat.status).toBe('online');
    expect(server.sockets.length).toBe(2);
    expect(signals).toEqual(['open', 'close', 'open']);
  });
});

describe('ChatSocket heartbeat', () => {
  it('pings every 20 s and gives up on a socket that sends nothing for 10 s after a ping', () => {
    const chat = socket();
    const first = server.current;
    first.open();
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    expect(first.frames('ping')).toHaveLength(1);
    vi.advanceTimersByTime(PONG_TIMEOUT_MS - 1);
    expect(first.closedWith).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(first.closedWith).toBe(4000);
    expect(chat.status).toBe('reconnecting');
  });

  it('any frame after a ping keeps the socket, and a pong gives the round trip and clock offset', () => {
    const chat = socket();
    const first = server.current;
    first.open();
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    const ping = first.frames('ping')[0];
    vi.advanceTimersByTime(40);
    first.receive('pong', { id: ping.data.id, t: ping.data.t, serverTime: Number(ping.data.t) + 1000 });
    vi.advanceTimersByTime(PONG_TIMEOUT_MS);
    expect(first.closedWith).toBeUndefined();
    expect(chat.rttMs).not.toBeNull();
    expect(chat.rttMs!).toBeGreaterThanOrEqual(0);
    expect(chat.clockOffsetMs).toBeCloseTo(1000 - chat.rttMs! / 2, 0);
  });

  it('learns the connection id from hello and forgets it when the socket goes', () => {
    const chat = socket();
    server.current.open();
    server.current.receive('hello', { connectionId: 'c-1' });
    expect(chat.connectionId).toBe('c-1');
    server.current.drop(1006);
    expect(chat.connectionId).toBeNull();
  });
});
