import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeStreams } from '../testing/fake-tabs';
import type { Position } from './position';
import { INHERIT_MS, RESTART_DEBOUNCE_MS, StreamOwner, WANT_TTL_MS } from './stream-owner';
import type { ChannelMessage, WireEvent } from './types';

let posted: ChannelMessage[];
let local: { gen: number; wire: WireEvent }[];
let gen: number;
let streams: FakeStreams;
let renew: () => Promise<boolean>;

function owner(inherited: Position = new Map()): StreamOwner {
  return new StreamOwner(
    {
      post: (message) => posted.push(message),
      gen: () => gen,
      event: (g, wire) => local.push({ gen: g, wire }),
      streamStarted: (g) => (gen = Math.max(gen, g)),
      status: () => {},
      signal: () => {},
      renew: () => renew(),
    },
    { tab: 'leader', inherited, createStream: streams.create },
  );
}

const stream = () => streams.all[0];
const starts = () => stream().starts;

beforeEach(() => {
  vi.useFakeTimers();
  posted = [];
  local = [];
  gen = 0;
  streams = new FakeStreams();
  renew = () => Promise.resolve(true);
});
afterEach(() => vi.useRealTimers());

describe('StreamOwner', () => {
  it('announces itself, then opens one stream for the union of the wants, notifications first, from the lowest position', () => {
    const lead = owner();
    expect(posted.map((m) => m.type)).toEqual(['status', 'leader']);
    lead.want('leader', { 'blog:2': 7 }, Infinity);
    lead.onMessage({ type: 'want', tab: 'b', topics: { notifications: 12, 'blog:2': 3 } });
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    // Changes within the debounce make one reopen.
    expect(starts()).toEqual([{ topics: ['notifications', 'blog:2'], start: { notifications: 12, 'blog:2': 3 } }]);
    expect(posted.at(-1)).toEqual({ type: 'stream', tab: 'leader', gen: 1, start: { notifications: 12, 'blog:2': 3 } });
  });

  it('relays every event to the other tabs and to its own, with the generation', () => {
    const lead = owner();
    lead.want('leader', { notifications: 0 }, Infinity);
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    stream().emit('notifications', 1);
    expect(posted.at(-1)).toMatchObject({ type: 'event', gen: 1, id: 'notifications=1' });
    expect(local).toEqual([{ gen: 1, wire: { id: 'notifications=1', event: 'notification', data: { topic: 'notifications' } } }]);
  });

  it('keeps a carried topic where the stream is, and does not reopen for wants that change nothing', () => {
    const lead = owner();
    lead.onMessage({ type: 'want', tab: 'b', topics: { notifications: 0 } });
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    stream().emit('notifications', 9);
    lead.onMessage({ type: 'want', tab: 'c', topics: { notifications: 2 } });
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    expect(starts()).toHaveLength(1);
    // Its answer to a want: where the stream stands.
    expect(posted.filter((m) => m.type === 'position').at(-1)).toEqual({ type: 'position', tab: 'leader', gen: 1, position: { notifications: 9 } });
    lead.onMessage({ type: 'want', tab: 'c', topics: { notifications: 2, 'blog:1': 4 } });
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    expect(starts()[1]).toEqual({ topics: ['notifications', 'blog:1'], start: { notifications: 9, 'blog:1': 4 } });
  });

  it('reopens a topic from where a tab that missed events stands', () => {
    const lead = owner();
    lead.onMessage({ type: 'want', tab: 'b', topics: { notifications: 0 } });
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    stream().emit('notifications', 20);
    lead.onMessage({ type: 'rewind', tab: 'c', topic: 'notifications', from: 15 });
    lead.rewind('notifications', 17);
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    expect(starts()[1]).toEqual({ topics: ['notifications'], start: { notifications: 15 } });
  });

  it('drops the topics of a tab that said bye, or that it has not heard from for 150 s', () => {
    const lead = owner();
    lead.onMessage({ type: 'want', tab: 'b', topics: { 'blog:1': 0 } });
    lead.onMessage({ type: 'want', tab: 'c', topics: { 'blog:2': 0 } });
    lead.want('leader', { notifications: 0 }, Infinity);
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    lead.onMessage({ type: 'bye', tab: 'b' });
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    expect(starts().at(-1)?.topics).toEqual(['notifications', 'blog:2']);
    lead.expire(Date.now() + WANT_TTL_MS + 1);
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    expect(starts().at(-1)?.topics).toEqual(['notifications']);
  });

  it("carries the old leader's topics on for 2 s while the tabs announce theirs", () => {
    const lead = owner(new Map([['notifications', 30], ['blog:9', 4]]));
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    expect(starts()).toEqual([]); // the first reopen is the inheritance ending, or a want
    lead.want('leader', { notifications: 30 }, Infinity);
    vi.advanceTimersByTime(RESTART_DEBOUNCE_MS);
    expect(starts()[0]).toEqual({ topics: ['notifications', 'blog:9'], start: { notifications: 30, 'blog:9': 4 } });
    vi.advanceTimersByTime(INHERIT_MS);
    expect(starts().at(-1)?.topics).toEqual(['notifications']);
  });

  it('after auth-expired asks every tab to renew and resumes; a second one within 5 s waits', async () => {
    let renewals = 0;
    renew = () => Promise.resolve(++renewals > 0);
    owner();
    stream().callbacks.onAuthExpired();
    expect(posted.at(-1)).toEqual({ type: 'auth-expired', tab: 'leader' });
    await vi.advanceTimersByTimeAsync(0);
    expect(stream().resumes).toBe(1);
    stream().callbacks.onAuthExpired();
    await vi.advanceTimersByTimeAsync(4_000);
    expect(stream().resumes).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(stream().resumes).toBe(2);
    expect(renewals).toBe(2);
  });

  it('resumes the stream when a follower renewed the session', () => {
    const lead = owner();
    lead.onMessage({ type: 'renewed', tab: 'b' });
    expect(stream().resumes).toBe(1);
  });
});
