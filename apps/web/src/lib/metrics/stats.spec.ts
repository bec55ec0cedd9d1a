import { describe, expect, it } from 'vitest';
import { ClockEstimator, percentile, percentilesOf, RateCounter, SampleWindow, SequenceTracker } from './stats';

describe('percentiles (nearest rank)', () => {
  it('picks the nearest-rank value', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentilesOf(values)).toEqual({ p50: 50, p95: 95, p99: 99, count: 100 });
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
    expect(percentilesOf([5, 3, 1, 4, 2])).toEqual({ p50: 3, p95: null, p99: null, count: 5 }); // sorts its input
  });

  it('shows a percentile only from enough samples: p50 from 5, p95 from 20, p99 from 100', () => {
    const of = (n: number) => percentilesOf(Array.from({ length: n }, (_, i) => i + 1));
    expect(of(1)).toEqual({ p50: null, p95: null, p99: null, count: 1 }); // one sample is no median
    expect(of(4).p50).toBeNull();
    expect(of(19)).toMatchObject({ p50: 10, p95: null, p99: null });
    expect(of(20)).toMatchObject({ p50: 10, p95: 19, p99: null });
    expect(of(99).p99).toBeNull();
    expect(of(100).p99).toBe(99);
  });

  it('keeps only the window: the last N samples, none older than the age limit, counting the probe ones', () => {
    const w = new SampleWindow(5, 1000);
    for (const [v, at, probe] of [[100, 0, false], [1, 900, true], [2, 950, false], [3, 1000, true], [4, 1500, false], [5, 1500, false], [6, 1500, true]] as const) w.add(v, at, probe);
    expect(w.percentiles(1500)).toEqual({ p50: 4, p95: null, p99: null, count: 5, probeCount: 2 });
    expect(w.percentiles(2600)).toEqual({ p50: null, p95: null, p99: null, count: 0, probeCount: 0 });
  });
});

describe('clock offset (NTP-style)', () => {
  it('recovers a skewed client clock from the best round trip, within ±rtt/2', () => {
    // The client's clock runs 5,000 ms behind the server's. One-way delays are asymmetric.
    const skew = 5000;
    const est = new ClockEstimator(8);
    const exchange = (sendAtClient: number, up: number, down: number) => {
      const serverTime = sendAtClient + skew + up;
      return est.add(sendAtClient, serverTime, sendAtClient + up + down);
    };
    expect(exchange(0, 30, 10)!.offsetMs).toBe(5010); // (up − down) / 2 = 10 off, within ±20
    exchange(100, 2, 2); // symmetric and fast: exact
    exchange(200, 50, 1);
    expect(est.best).toMatchObject({ offsetMs: 5000, rttMs: 4 });
    // Latency of an event stamped by the server: receivedAt(client) + offset − sentAt(server).
    const sentAtServer = 10_000 + skew;
    const receivedAtClient = 10_003; // 3 ms on the wire
    expect(receivedAtClient + est.best!.offsetMs - sentAtServer).toBe(3);
  });

  it('keeps the last N samples only, and refuses nonsense', () => {
    const est = new ClockEstimator(2);
    est.add(0, 10, 1); // rtt 1, the best, but it will age out
    est.add(10, 20, 15);
    est.add(20, 30, 26);
    expect(est.best!.rttMs).toBe(5);
    expect(est.add(10, 20, 5)).toBeNull(); // answer before the question
    expect(est.add(10, Number.NaN, 12)).toBeNull();
    expect(est.count).toBe(2);
  });
});

describe('sequence tracking', () => {
  it('counts gaps and duplicates per key', () => {
    const t = new SequenceTracker();
    t.rebase('room:a', 10);
    expect(['room:a', 'room:a', 'room:a', 'room:a'].map((k, i) => t.see(k, [11, 11, 14, 15][i]))).toEqual(['ok', 'duplicate', 'gap', 'ok']);
    expect(t.see('room:b', 1)).toBe('ok');
    expect(t.gaps).toBe(2);
    expect(t.duplicates).toBe(1);
  });
});

describe('rate', () => {
  it('counts messages per second over the window', () => {
    const r = new RateCounter(5000, 0);
    for (let i = 0; i < 50; i++) r.add(i * 100); // 10/s for 5 s
    expect(r.rate(5000)).toBeCloseTo(10, 0);
  });
});
