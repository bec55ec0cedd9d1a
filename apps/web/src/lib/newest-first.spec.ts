import { describe, expect, it } from 'vitest';
import { insertNewestFirst } from './newest-first';

const ids = (list: readonly { id: number }[]) => list.map((item) => item.id);

describe('insertNewestFirst', () => {
  it.each([
    { name: 'a newer item goes in front', list: [5, 3], id: 7, expected: [7, 5, 3] },
    { name: 'a replayed older one lands in order', list: [7, 5, 3], id: 4, expected: [7, 5, 4, 3] },
    { name: 'the oldest goes last', list: [7, 5], id: 1, expected: [7, 5, 1] },
    { name: 'an empty list takes it', list: [], id: 2, expected: [2] },
  ])('$name', ({ list, id, expected }) => {
    expect(ids(insertNewestFirst(list.map((n) => ({ id: n })), { id }, 10))).toEqual(expected);
  });

  it('drops the oldest past the cap', () => {
    expect(ids(insertNewestFirst([{ id: 5 }, { id: 3 }], { id: 7 }, 2))).toEqual([7, 5]);
  });

  it('leaves the list it was given alone', () => {
    const list = [{ id: 5 }];
    insertNewestFirst(list, { id: 7 }, 10);
    expect(ids(list)).toEqual([5]);
  });
});
