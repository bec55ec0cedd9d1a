import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelay, RESTART_WINDOW_MS, restartDelay, WS_BACKOFF_BASE_MS, WS_BACKOFF_CAP_MS } from './reconnect.js';

/** A clock the spec moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('backoffDelay (full jitter)', () => {
  it('is uniform in [0, min(cap, base × 2^attempt))', () => {
    expect(backoffDelay(0, 500, 10_000, () => 0)).toBe(0);
    expect(backoffDelay(0, 500, 10_000, () => 0.999)).toBeCloseTo(499.5);
    expect(backoffDelay(3, 500, 10_000, () => 0.5)).toBe(2_000);
    // Capped: 500 × 2^10 is far past 10 s.
    expect(backoffDelay(10, 500, 10_000, () => 0.999)).toBeCloseTo(9_990);
  });
});

describe('Backoff', () => {
  it('grows with each failure, stays under the cap, and starts over after a success', () => {
    const backoff = new Backoff({ baseMs: 500, capMs: 10_000, random: () => 0.999 });
    const waits = Array.from({ length: 8 }, () => backoff.next());
    expect(waits.map(Math.round)).toEqual([500, 999, 1998, 3996, 7992, 9990, 9990, 9990]);
    expect(backoff.attempt).toBe(8);
    backoff.succeeded();
    expect(Math.round(backoff.next())).toBe(500);
  });

  it('keeps the deploy pace (0.5 s + 0–0.5 s) for a minute after a deploy, without counting those tries', () => {
    const time = clock();
    let draw = 0;
    const randoms = [0, 0.999];
    const backoff = new Backoff({ baseMs: 500, capMs: 10_000, random: () => randoms[draw++ % 2], now: time.now });
    backoff.next();
    backoff.next();
    backoff.restarted();
    expect(backoff.restarting).toBe(true);
    const during = [backoff.next(), backoff.next()];
    expect(during[0]).toBe(500);
    expect(during[1]).toBeCloseTo(999.5);
    expect(backoff.attempt).toBe(2);

    time.advance(RESTART_WINDOW_MS);
    expect(backoff.restarting).toBe(false);
    // Back on the ordinary backoff, where it left off (attempt 2: up to 2 s).
    draw = 1;
    expect(backoff.next()).toBeCloseTo(1998);
  });

  it('a success ends the deploy window', () => {
    const time = clock();
    const backoff = new Backoff({ baseMs: 500, capMs: 10_000, random: () => 0.999, now: time.now });
    backoff.restarted();
    backoff.succeeded();
    expect(backoff.restarting).toBe(false);
    expect(Math.round(backoff.next())).toBe(500);
  });

  it('restartDelay is within [500, 1000)', () => {
    expect(restartDelay(() => 0)).toBe(500);
    expect(restartDelay(() => 0.999_999)).toBeLessThan(1000);
  });
});

describe('backoffDelay (ceilings)', () => {
  it('doubles the ceiling with each failure in a row, up to the cap (full jitter: random × ceiling)', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, WS_BACKOFF_BASE_MS, WS_BACKOFF_CAP_MS, () => 1));
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('treats a negative attempt as the first', () => {
    expect(backoffDelay(-3, 500, 10_000, () => 1)).toBe(500);
  });
});
