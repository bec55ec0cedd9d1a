// Small, allocation-light building blocks for the transport meters. Plain classes (no runes):
// they are fed on every message and read by a render timer at most twice a second.

/** Nearest-rank percentile of an ascending array; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  count: number;
}

/**
 * Fewest samples a percentile is shown from: with fewer, the nearest-rank p95 or p99 is just the
 * largest sample (p95 of 3 samples = p99 = max), which says nothing about a tail.
 */
export const MIN_SAMPLES = { p50: 5, p95: 20, p99: 100 } as const;

/** Percentiles of `values`; each null unless there are at least `MIN_SAMPLES` of them. */
export function percentilesOf(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const at = (p: 50 | 95 | 99) => (n >= MIN_SAMPLES[`p${p}`] ? percentile(sorted, p) : null);
  return { p50: at(50), p95: at(95), p99: at(99), count: n };
}

/** One NTP-style exchange: offset = serverTime − (t + rtt/2), uncertainty ±rtt/2. */
export interface ClockSample {
  offsetMs: number;
  rttMs: number;
  /** Local clock when the answer came in. */
  at: number;
}

/** Keeps the last `keep` clock samples; the estimate is the one with the lowest round trip. */
export class ClockEstimator {
  readonly #keep: number;
  #samples: ClockSample[] = [];

  constructor(keep = 8) {
    this.#keep = keep;
  }

  /** `t`: our clock when the ping left; `serverTime`: the server's when it answered; `at`: ours when the answer came. */
  add(t: number, serverTime: number, at: number): ClockSample | null {
    const rttMs = at - t;
    if (!(rttMs >= 0) || !Number.isFinite(serverTime)) return null;
    const sample = { offsetMs: serverTime - (t + rttMs / 2), rttMs, at };
    this.#samples.push(sample);
    if (this.#samples.length > this.#keep) this.#samples.shift();
    return sample;
  }

  /** The lowest-rtt sample of the last `keep`, or null before the first. */
  get best(): ClockSample | null {
    let best: ClockSample | null = null;
    for (const sample of this.#samples) if (!best || sample.rttMs < best.rttMs) best = sample;
    return best;
  }

  get count(): number {
    return this.#samples.length;
  }
}

/** Latency samples over a sliding window: the last `maxCount`, none older than `maxAgeMs`. */
export class SampleWindow {
  readonly maxCount: number;
  readonly maxAgeMs: number;
  #at: number[] = [];
  #values: number[] = [];
  /** Which samples came from the head-to-head probe (the overlay says how many of the window). */
  #probe: boolean[] = [];

  constructor(maxCount = 200, maxAgeMs = 60_000) {
    this.maxCount = maxCount;
    this.maxAgeMs = maxAgeMs;
  }

  add(value: number, at: number, probe = false): void {
    this.#at.push(at);
    this.#values.push(value);
    this.#probe.push(probe);
    // Trim in chunks, not on every sample: a shift per message is O(n) at 1,000 messages a second.
    if (this.#values.length > this.maxCount * 2) this.#trim(at);
  }

  #trim(now: number): void {
    let start = Math.max(0, this.#values.length - this.maxCount);
    while (start < this.#at.length && this.#at[start] < now - this.maxAgeMs) start += 1;
    if (start > 0) {
      this.#at = this.#at.slice(start);
      this.#values = this.#values.slice(start);
      this.#probe = this.#probe.slice(start);
    }
  }

  percentiles(now: number): Percentiles & { probeCount: number } {
    this.#trim(now);
    let probeCount = 0;
    for (const p of this.#probe) if (p) probeCount += 1;
    return { ...percentilesOf(this.#values), probeCount };
  }

  /** Median of the samples of the last `spanMs` (what a sparkline plots); null if none. */
  recentMedian(now: number, spanMs: number): number | null {
    const recent: number[] = [];
    for (let i = this.#at.length - 1; i >= 0 && this.#at[i] >= now - spanMs; i--) recent.push(this.#values[i]);
    return percentile(recent.sort((a, b) => a - b), 50);
  }
}

/** Messages per second over the last `windowMs`, counted in 100 ms buckets. */
export class RateCounter {
  static readonly BUCKET_MS = 100;
  readonly #buckets: Int32Array;
  readonly #stamps: Float64Array;
  readonly #windowMs: number;
  readonly #since: number;

  constructor(windowMs = 5_000, now: number) {
    const n = Math.ceil(windowMs / RateCounter.BUCKET_MS);
    this.#buckets = new Int32Array(n);
    this.#stamps = new Float64Array(n).fill(-1);
    this.#windowMs = windowMs;
    this.#since = now;
  }

  add(at: number): void {
    const index = Math.floor(at / RateCounter.BUCKET_MS);
    const slot = index % this.#buckets.length;
    if (this.#stamps[slot] !== index) {
      this.#stamps[slot] = index;
      this.#buckets[slot] = 0;
    }
    this.#buckets[slot] += 1;
  }

  /** Per second; over the time since the counter started while that is shorter than the window. */
  rate(now: number): number {
    const current = Math.floor(now / RateCounter.BUCKET_MS);
    const oldest = current - this.#buckets.length + 1;
    let sum = 0;
    for (let slot = 0; slot < this.#buckets.length; slot++) {
      const stamp = this.#stamps[slot];
      if (stamp >= oldest && stamp <= current) sum += this.#buckets[slot];
    }
    const span = Math.min(this.#windowMs, Math.max(RateCounter.BUCKET_MS, now - this.#since));
    return (sum * 1000) / span;
  }
}

/** Gaps and duplicates in per-key sequences (a room's `seq`, a topic's position). */
export class SequenceTracker {
  readonly #last = new Map<string, number>();
  gaps = 0;
  duplicates = 0;

  /** Where `key` is known to stand (a join's `afterSeq`, a stream's start); undefined: unknown. */
  rebase(key: string, seq: number | undefined): void {
    if (seq === undefined) this.#last.delete(key);
    else this.#last.set(key, seq);
  }

  /** Returns what this seq was: in order, a duplicate (at or below the last), or after a gap. */
  see(key: string, seq: number): 'ok' | 'duplicate' | 'gap' {
    const last = this.#last.get(key);
    if (last !== undefined && seq <= last) {
      this.duplicates += 1;
      return 'duplicate';
    }
    this.#last.set(key, seq);
    if (last !== undefined && seq > last + 1) {
      this.gaps += seq - last - 1;
      return 'gap';
    }
    return 'ok';
  }

  forget(): void {
    this.#last.clear();
  }
}
