import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeBroadcastBus } from '../testing/fake-tabs';
import { TabChannel } from './tab-channel';
import type { ChannelMessage } from './types';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('TabChannel', () => {
  it("relays a tab's messages to every other tab, never back to itself", async () => {
    const bus = new FakeBroadcastBus();
    const got: Record<string, ChannelMessage[]> = { a: [], b: [], c: [] };
    const tabs = Object.fromEntries(['a', 'b', 'c'].map((tab) => [tab, new TabChannel(bus.channel(), tab, (m) => got[tab].push(m))]));
    tabs.a.post({ type: 'want', tab: 'a', topics: { notifications: 3 } });
    await vi.advanceTimersByTimeAsync(0);
    expect(got.a).toEqual([]);
    expect(got.b).toEqual([{ type: 'want', tab: 'a', topics: { notifications: 3 } }]);
    expect(got.c).toEqual(got.b);
  });

  it('ignores what is not a message of ours, and a message carrying its own tab id', async () => {
    const bus = new FakeBroadcastBus();
    const raw = bus.channel();
    const got: ChannelMessage[] = [];
    new TabChannel(bus.channel(), 'me', (m) => got.push(m));
    raw.postMessage('hello');
    raw.postMessage(null);
    raw.postMessage({ tab: 'x' });
    raw.postMessage({ type: 'bye', tab: 'me' });
    raw.postMessage({ type: 'bye', tab: 'other' });
    await vi.advanceTimersByTimeAsync(0);
    expect(got).toEqual([{ type: 'bye', tab: 'other' }]);
  });

  it('hears nothing and posts nothing once closed', async () => {
    const bus = new FakeBroadcastBus();
    const got: ChannelMessage[] = [];
    const mine = new TabChannel(bus.channel(), 'me', (m) => got.push(m));
    const other = new TabChannel(bus.channel(), 'other', () => {});
    other.post({ type: 'bye', tab: 'other' });
    mine.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(() => mine.post({ type: 'bye', tab: 'me' })).not.toThrow();
    expect(got).toEqual([]);
  });
});
