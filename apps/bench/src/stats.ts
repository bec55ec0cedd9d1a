import type { LatencySummary } from './protocol.js';

/** Percentiles of latency samples (milliseconds), nearest-rank. */
export function summarize(samples: number[]): LatencySummary {
  if (samples.length === 0) return { n: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { n: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1]! };
}
