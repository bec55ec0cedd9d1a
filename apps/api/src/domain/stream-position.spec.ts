import { describe, expect, it } from 'vitest';
import { formatComposite, parsePosition } from './stream-position.js';

describe('parsePosition', () => {
  it.each([
    [undefined, false, { kind: 'none' }],
    ['', false, { kind: 'none' }],
    ['12', false, { kind: 'plain', seq: 12 }],
    [' 0 ', false, { kind: 'plain', seq: 0 }],
    ['-1', false, { kind: 'malformed' }],
    ['1.5', false, { kind: 'malformed' }],
    ['abc', false, { kind: 'malformed' }],
    ['9'.repeat(17), false, { kind: 'malformed' }],
    ['99999999999999999', false, { kind: 'malformed' }],
    ['notifications=12', false, { kind: 'malformed' }],
  ] as const)('%j (plain) → %j', (raw, composite, expected) => {
    expect(parsePosition(raw, composite)).toEqual(expected);
  });

  it('reads composite ids', () => {
    expect(parsePosition('notifications=12,blog:3=40', true)).toEqual({
      kind: 'composite',
      positions: new Map([
        ['notifications', 12],
        ['blog:3', 40],
      ]),
    });
  });

  it.each(['12', 'notifications=', 'notifications=x', '=3', 'nope=1', 'blog:0=1', 'blog:3=1,blog:3=2', 'notifications=1;blog:3=2', 'x'.repeat(3000)])(
    'refuses the composite id %j as malformed',
    (raw) => {
      expect(parsePosition(raw, true)).toEqual({ kind: 'malformed' });
    },
  );

  it('formats in the given topic order and round-trips', () => {
    const id = formatComposite(['notifications', 'blog:3'], new Map([['blog:3', 40], ['notifications', 12]]));
    expect(id).toBe('notifications=12,blog:3=40');
    expect(parsePosition(id, true)).toEqual({ kind: 'composite', positions: new Map([['notifications', 12], ['blog:3', 40]]) });
  });
});
