import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration } from './format';

describe('durations and sizes for people', () => {
  it('formats a duration in the unit that fits it', () => {
    expect(formatDuration(1.63)).toBe('1.6 ms');
    expect(formatDuration(158.5)).toBe('159 ms');
    expect(formatDuration(2345)).toBe('2.35 s');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(252_000)).toBe('4 min 12 s');
    expect(formatDuration(1_986_775)).toBe('33 min 7 s'); // was shown as "1986775"
    expect(formatDuration(119_100_000)).toBe('33 h 5 min');
    expect(formatDuration(-3.14)).toBe('−3.1 ms');
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(Number.NaN)).toBe('—');
  });

  it('formats bytes', () => {
    expect(formatBytes(740)).toBe('740 B');
    expect(formatBytes(12_400)).toBe('12.4 kB');
    expect(formatBytes(3_100_000)).toBe('3.1 MB');
    expect(formatBytes(null)).toBe('—');
  });
});
