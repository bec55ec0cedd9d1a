import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeBroadcastBus, FakeLocks, FakeStreams } from '../testing/fake-tabs';
import { EventHub } from './hub.svelte';
import { INHERIT_MS } from './stream-owner';

let bus: FakeBroadcastBus;
let locks: FakeLocks;
let streams: FakeStreams;
const hubs: EventHub[] = [];

function tab(): EventHub {
  const hub = new EventHub({ shared: { channel: bus.channel(), locks }, createStream: streams.create });
  hubs.push(hub);
  return hub;
}

function follow(hub: EventHub, topic: string, from: number): number[] {
  const seen: number[] = [];
  hub.subscribe(topic, from, (event) => seen.push(event.seq), () => Promise.resolve(from));
  return seen;
}

/** Let the tabs talk: channel messages, lock grants and the leader's debounced reopen. */
const settle = () => vi.advanceTimersByTimeAsync(100);

beforeEach(() => {
  vi.useFakeTimers();
  bus = new FakeBroadcastBus();
  locks = new FakeLocks();
  streams = new FakeStreams();
});
afterEach(() => {
  for (const hub of hubs.splice(0)) hub.close();
  vi.useRealTimers();
});

describe('EventHub across tabs', () => {
  it('one tab leads and opens one stream for every tab; each subscriber gets its events once', async () => {
    const a = tab();
    const b = tab();
    await settle();
    expect([a.isLeader, b.isLeader]).toEqual([true, false]);
    const inA = follow(a, 'notifications', 5);
    const inB = follow(b, 'notifications', 5);
    const blogInB = follow(b, 'blog:1', 0);
    await settle();
    expect(streams.all).toHaveLength(1);
    const stream = streams.all[0];
    expect(stream.starts.at(-1)).toEqual({ topics: ['notifications', 'blog:1'], start: { notifications: 5, 'blog:1': 0 } });

    stream.emit('notifications', 6);
    stream.emit('notifications', 6); // an overlapping replay
    stream.emit('blog:1', 1, 'update');
    await settle();
    expect(inA).toEqual([6]);
    expect(inB).toEqual([6]);
    expect(blogInB).toEqual([1]);
  });

  it('the status of the stream is the same in every tab', async () => {
    const a = tab();
    const b = tab();
    await settle();
    streams.all[0].callbacks.onStatus('live');
    await settle();
    expect([a.status, b.status]).toEqual(['live', 'live']);
  });

  it('when the leader goes another tab takes over and carries on from the last position it saw: nothing lost, nothing twice', async () => {
    const a = tab();
    const b = tab();
    await settle();
    follow(a, 'notifications', 0);
    follow(a, 'blog:1', 0);
    const inB = follow(b, 'notifications', 0);
    await settle();
    streams.all[0].emit('notifications', 1);
    streams.all[0].emit('notifications', 2);
    streams.all[0].emit('blog:1', 1, 'update');
    await settle();

    a.close();
    hubs.splice(hubs.indexOf(a), 1);
    await settle();
    expect(b.isLeader).toBe(true);
    expect(streams.all[0].closed).toBe(true);
    expect(streams.all).toHaveLength(2);
    const next = streams.all[1];
    // The old stream's topics carry on for a moment (the tabs that wanted them announce again).
    expect(next.starts).toEqual([{ topics: ['notifications', 'blog:1'], start: { notifications: 2, 'blog:1': 1 } }]);
    // The server replays from there; a replayed older event is not applied again.
    next.emit('notifications', 2);
    next.emit('notifications', 3);
    await settle();
    expect(inB).toEqual([1, 2, 3]);
    // No tab wants blog:1 any more: dropped once the inheritance is over.
    await vi.advanceTimersByTimeAsync(INHERIT_MS);
    expect(next.starts.at(-1)).toEqual({ topics: ['notifications'], start: { notifications: 3 } });
  });

  it('a tab that subscribes behind the stream gets what it missed: from what it kept, else by a rewind from its position', async () => {
    const a = tab();
    const b = tab();
    await settle();
    follow(a, 'notifications', 0);
    await settle();
    const stream = streams.all[0];
    for (const seq of [1, 2, 3]) stream.emit('notifications', seq);
    await settle();
    // B passed 1..3 on already (no subscriber then) and kept them.
    expect(follow(b, 'notifications', 1)).toEqual([2, 3]);
    // A tab opened now kept nothing: the leader's answer to its want says the stream is at 3.
    const c = tab();
    const inC = follow(c, 'notifications', 1);
    await settle();
    expect(stream.starts.at(-1)).toEqual({ topics: ['notifications'], start: { notifications: 1 } });
    stream.emit('notifications', 2);
    stream.emit('notifications', 3);
    await settle();
    expect(inC).toEqual([2, 3]);
  });

  it('without Web Locks or BroadcastChannel the tab keeps its own stream', async () => {
    const alone = new EventHub({ shared: null, createStream: streams.create });
    hubs.push(alone);
    const seen = follow(alone, 'notifications', 0);
    await settle();
    expect(alone.isLeader).toBe(true);
    streams.all[0].emit('notifications', 1);
    expect(seen).toEqual([1]);
  });
});
