import { describe, expect, it } from 'vitest';
import type { MeterSnapshot } from './meter.svelte';
import { cellText, METRIC_ROWS, verdict } from './rows';

function snapshot(transport: 'ws' | 'sse', over: Partial<MeterSnapshot> = {}): MeterSnapshot {
  return {
    transport,
    state: 'open',
    connectionId: 'c',
    offsetMs: 0,
    uncertaintyMs: 1,
    offsetNote: null,
    latency: { p50: 5, p95: 9, p99: 12, count: 150, probeCount: 150 },
    latencyWindow: { maxCount: 200, maxAgeMs: 60_000 },
    latencyRecent: 5,
    rate: 10,
    payloadBytes: 100,
    wireBytes: 127,
    controlBytes: 0,
    messagesOut: 150,
    reconnects: 0,
    recoverMs: null,
    recoveredAt: null,
    replayed: 0,
    gaps: 0,
    duplicates: 0,
    received: 150,
    ...over,
  };
}
const row = (metric: string) => METRIC_ROWS.find((r) => r.metric === metric)!;

describe('overlay verdicts', () => {
  it('calls a latency difference within the clocks’ uncertainty no difference, and names the mechanism otherwise', () => {
    const close = verdict(row('latency-p50'), snapshot('sse', { latency: { p50: 6.5, p95: null, p99: null, count: 150, probeCount: 150 } }), snapshot('ws'), false);
    expect(close).toMatchObject({ text: '≈', winner: null });
    expect(close.because).toMatch(/uncertainty \(±2\.00 ms together\)/);
    const far = verdict(row('latency-p50'), snapshot('sse', { latency: { p50: 9, p95: null, p99: null, count: 150, probeCount: 150 } }), snapshot('ws'), false);
    expect(far).toMatchObject({ text: 'WS −4.0 ms', winner: 'ws' });
    expect(far.because).toMatch(/same payloads/);
    // Not the probe's traffic: the two columns measure different messages, and it says so.
    const live = verdict(row('latency-p50'), snapshot('sse', { latency: { p50: 9, p95: null, p99: null, count: 30, probeCount: 0 } }), snapshot('ws', { latency: { p50: 5, p95: null, p99: null, count: 30, probeCount: 0 } }), false);
    expect(live.because).toMatch(/different traffic/);
  });

  it('quotes the reconnect mechanisms for time to recover, formatted for people', () => {
    const v = verdict(row('recover-ms'), snapshot('sse', { recoverMs: 3200 }), snapshot('ws', { recoverMs: 700 }), false);
    expect(v.text).toBe('WS −2.50 s');
    expect(v.because).toMatch(/backoff.*retry:/);
    expect(cellText(row('recover-ms'), snapshot('ws', { recoverMs: 1_986_775 }), false)).toBe('33 min 7 s');
  });

  it('shows no percentile from too few samples, and says how many there are', () => {
    const few = snapshot('ws', { latency: { p50: 4, p95: null, p99: null, count: 7, probeCount: 0 } });
    expect(cellText(row('latency-p95'), few, false)).toBe('— (7 of 20)');
    expect(cellText(row('samples'), few, false)).toBe('7');
    expect(cellText(row('samples'), snapshot('ws'), false)).toBe('150 (all probe)');
    expect(verdict(row('latency-p95'), few, few, false).text).toBe('—');
  });

  it('says n/a for what another tab measures', () => {
    expect(cellText(row('latency-p50'), snapshot('sse'), true)).toBe('n/a');
    expect(verdict(row('latency-p50'), snapshot('sse'), snapshot('ws'), true).text).toBe('—');
  });
});
