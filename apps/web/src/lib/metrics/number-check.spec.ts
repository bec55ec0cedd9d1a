import { describe, expect, it } from 'vitest';
import { checkNumber } from './number-check';

describe('checkNumber', () => {
  const range = { min: 1, max: 30 };

  it('accepts a number within the range, the bounds included', () => {
    expect(checkNumber(1, range, 'Pause', 's')).toBeNull();
    expect(checkNumber(30, range, 'Pause', 's')).toBeNull();
    expect(checkNumber(2.5, range, 'Duration', 's', false)).toBeNull();
  });

  it('says what is wrong, with the range and the value', () => {
    expect(checkNumber(31, range, 'Pause', 's')).toBe('Pause must be from 1 to 30 s (got 31)');
    expect(checkNumber(0, range, 'Pause', 's')).toBe('Pause must be from 1 to 30 s (got 0)');
    expect(checkNumber(Number.NaN, range, 'Pause', 's')).toBe('Pause must be a number from 1 to 30 s');
    // An empty number input binds null.
    expect(checkNumber(null as unknown as number, range, 'Pause', 's')).toBe('Pause must be a number from 1 to 30 s');
    expect(checkNumber(2.5, range, 'Pause', 's')).toBe('Pause must be a whole number of s');
  });
});
