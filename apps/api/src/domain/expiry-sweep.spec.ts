import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExpirySweep } from './expiry-sweep.js';

describe('ExpirySweep', () => {
  afterEach(() => vi.useRealTimers());

  it('expires a key once its second has passed, never before', () => {
    const expired: string[] = [];
    const sweep = new ExpirySweep<string>((k) => expired.push(k), 1000);
    sweep.add('a', 10_500);
    sweep.add('b', 10_500);
    sweep.add('c', 12_000);
    sweep.sweep(10_499);
    sweep.sweep(10_999);
    expect(expired).toEqual([]);
    sweep.sweep(11_000);
    expect(expired).toEqual(['a', 'b']);
    sweep.sweep(11_999);
    expect(expired).toEqual(['a', 'b']);
    sweep.sweep(12_000);
    expect(expired).toEqual(['a', 'b', 'c']);
    expect(sweep.size).toBe(0);
    sweep.stop();
  });

  it('does not expire a removed key, and forgets empty groups', () => {
    const expired: string[] = [];
    const sweep = new ExpirySweep<string>((k) => expired.push(k), 1000);
    const group = sweep.add('a', 5_000);
    sweep.add('b', 5_000);
    sweep.remove('a', group);
    sweep.remove('a', group);
    expect(sweep.size).toBe(1);
    sweep.sweep(6_000);
    expect(expired).toEqual(['b']);
    sweep.stop();
  });

  it('runs on its own timer while anything is pending, and stops it when empty', () => {
    vi.useFakeTimers({ now: 0 });
    const expired: number[] = [];
    const sweep = new ExpirySweep<number>((k) => expired.push(k), 100);
    sweep.add(1, 250);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(200);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(expired).toEqual([1]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
