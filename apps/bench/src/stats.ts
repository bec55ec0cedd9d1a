import type { LatencySummary, StepResult } from './protocol.js';

/** Percentiles of latency samples (milliseconds), nearest-rank. */
export function summarize(samples: number[]): LatencySummary {
  if (samples.length === 0) return { n: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

/** What a step's receivers got: deliveries, their bytes and one-way latencies (ms), other messages, the last arrival (µs). */
export interface Tally {
  delivered: number;
  frameBytes: number;
  textBytes: number;
  dataBytes: number;
  other: number;
  samples: number[];
  lastDelivery: number;
}

export const emptyTally = (): Tally => ({ delivered: 0, frameBytes: 0, textBytes: 0, dataBytes: 0, other: 0, samples: [], lastDelivery: 0 });

/** One delivery at `now` (µs) of a message sent at `sentMicros`. */
export function tallyDelivery(t: Tally, sentMicros: number, now: number, textBytes: number, frameBytes: number, dataBytes: number): void {
  t.delivered++;
  t.frameBytes += frameBytes;
  t.textBytes += textBytes;
  t.dataBytes += dataBytes;
  t.samples.push((now - sentMicros) / 1000);
  t.lastDelivery = now;
}

/** A step's result from its tally; `startMicros` is the first publish, `nowMicros` the time if nothing arrived. */
export function stepResult(t: Tally, counts: { sent: number; expected: number; errors: number; wireBytes: number }, startMicros: number, nowMicros: number): StepResult {
  return {
    ...counts,
    delivered: t.delivered,
    latency: summarize(t.samples),
    frameBytes: t.frameBytes,
    textBytes: t.textBytes,
    dataBytes: t.dataBytes,
    elapsedMs: ((t.lastDelivery || nowMicros) - startMicros) / 1000,
    otherMessages: t.other,
  };
}
