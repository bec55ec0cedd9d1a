import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TopicSubscribers } from './subscribers';
import type { TopicEvent } from './types';

let rewinds: { topic: string; from: number }[];
let subscribers: TopicSubscribers;

const wire = (topic: string, seq: number, event = 'notification') => ({ id: `${topic}=${seq}`, event, data: { topic, n: seq } });

function collect(topic: string, from: number, onReset: () => Promise<number> = () => Promise.resolve(from)) {
  const seen: number[] = [];
  const off = subscribers.subscribe(topic, from, (event: TopicEvent) => seen.push(event.seq), onReset);
  return { seen, off };
}

beforeEach(() => {
  vi.useFakeTimers();
  rewinds = [];
  subscribers = new TopicSubscribers({ rewind: (topic, from) => rewinds.push({ topic, from }), wantsChanged: () => {} });
});
afterEach(() => {
  subscribers.close();
  vi.useRealTimers();
});

describe('TopicSubscribers', () => {
  it('gives each subscriber the events after its position, in order, once', () => {
    const a = collect('notifications', 0);
    const b = collect('notifications', 2);
    for (const seq of [1, 2, 2, 3, 1, 3, 4]) subscribers.dispatch(1, wire('notifications', seq));
    expect(a.seen).toEqual([1, 2, 3, 4]);
    expect(b.seen).toEqual([3, 4]);
    expect(rewinds).toEqual([]);
  });

  it('only gives a subscriber its own topic, and nothing once unsubscribed', () => {
    const blog = collect('blog:1', 0);
    subscribers.dispatch(1, wire('notifications', 1));
    subscribers.dispatch(1, wire('blog:1', 1, 'update'));
    blog.off();
    subscribers.dispatch(1, wire('blog:1', 2, 'update'));
    expect(blog.seen).toEqual([1]);
  });

  it('asks for a rewind from its position when an event skips ahead of it, and takes nothing out of order', () => {
    const a = collect('notifications', 0);
    subscribers.dispatch(1, wire('notifications', 1));
    subscribers.dispatch(1, wire('notifications', 3));
    expect(a.seen).toEqual([1]);
    expect(rewinds).toEqual([{ topic: 'notifications', from: 1 }]);
    expect(subscribers.waitingRewinds()).toEqual([{ topic: 'notifications', from: 1 }]);
    // The rewound stream (generation 2, from 1) brings the missing one, then the rest.
    subscribers.streamStarted(2, new Map([['notifications', 1]]));
    subscribers.dispatch(2, wire('notifications', 2));
    subscribers.dispatch(2, wire('notifications', 3));
    expect(a.seen).toEqual([1, 2, 3]);
    expect(subscribers.waitingRewinds()).toEqual([]);
  });

  it('catches a late subscriber up from the events it kept, without a rewind', () => {
    for (const seq of [1, 2, 3]) subscribers.dispatch(1, wire('notifications', seq));
    const late = collect('notifications', 1);
    expect(late.seen).toEqual([2, 3]);
    expect(rewinds).toEqual([]);
  });

  it('asks for a rewind when the stream is ahead of a new subscriber and nothing kept fills the gap', () => {
    subscribers.streamAt(1, { notifications: 40 });
    collect('notifications', 10);
    expect(rewinds).toEqual([{ topic: 'notifications', from: 10 }]);
  });

  it('asks again if the rewind does not come within 10 s', () => {
    subscribers.streamAt(1, { notifications: 40 });
    collect('notifications', 10);
    vi.advanceTimersByTime(10_000);
    expect(rewinds).toHaveLength(2);
  });

  it('after a reset reloads the snapshot, holds the events meanwhile and applies the ones after it', async () => {
    let resolve!: (lastId: number) => void;
    const onReset = vi.fn(() => new Promise<number>((r) => (resolve = r)));
    const a = collect('notifications', 5, onReset);
    subscribers.dispatch(1, { id: 'notifications=0', event: 'reset', data: { topics: { notifications: { lastId: 0, reason: 'expired' } } } });
    expect(onReset).toHaveBeenCalledOnce();
    subscribers.dispatch(1, wire('notifications', 1));
    subscribers.dispatch(1, wire('notifications', 2));
    expect(a.seen).toEqual([]);
    resolve(1); // the snapshot already has 1
    await vi.advanceTimersByTimeAsync(0);
    expect(a.seen).toEqual([2]);
  });

  it('retries a snapshot reload that failed after 3 s', async () => {
    const onReset = vi.fn().mockRejectedValueOnce(new Error('down')).mockResolvedValueOnce(0);
    collect('notifications', 5, onReset);
    subscribers.dispatch(1, { id: 'notifications=0', event: 'reset', data: { topics: { notifications: { lastId: 0, reason: 'unknown' } } } });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(onReset).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(onReset).toHaveBeenCalledTimes(2);
  });
});
