import { describe, expect, it, vi } from 'vitest';
import { DeliveryScheduler, NetsimRepository } from './netsim.repository.js';

describe('DeliveryScheduler', () => {
  it('writes at once when unimpaired', () => {
    const out: number[] = [];
    new DeliveryScheduler(new NetsimRepository().for(1)).run(() => out.push(1));
    expect(out).toEqual([1]);
  });

  it('delays by delay + jitter, keeps order, and does not let a later write overtake when the delay is lifted', () => {
    vi.useFakeTimers();
    try {
      const netsim = new NetsimRepository();
      const scheduler = new DeliveryScheduler(netsim.for(1));
      const out: string[] = [];
      netsim.impair(1, 100, 50);
      for (const x of ['a', 'b', 'c']) scheduler.run(() => out.push(x));
      netsim.impair(1, 0, 0);
      scheduler.run(() => out.push('d')); // must wait for c
      vi.advanceTimersByTime(99);
      expect(out).toEqual([]);
      vi.advanceTimersByTime(60);
      expect(out).toEqual(['a', 'b', 'c', 'd']);
      scheduler.run(() => out.push('e'));
      expect(out).toEqual(['a', 'b', 'c', 'd', 'e']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('holds everything during a pause, then sends in order', () => {
    vi.useFakeTimers();
    try {
      const netsim = new NetsimRepository();
      const scheduler = new DeliveryScheduler(netsim.for(7));
      const out: number[] = [];
      netsim.pause(7, 2);
      for (let i = 0; i < 3; i++) scheduler.run(() => out.push(i));
      vi.advanceTimersByTime(1999);
      expect(out).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(out).toEqual([0, 1, 2]);
    } finally {
      vi.useRealTimers();
    }
  });
});
