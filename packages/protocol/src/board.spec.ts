import { describe, expect, it } from 'vitest';
import { BOARD_HEIGHT, BOARD_LIMITS, BOARD_WIDTH, BoardPicture, boardPointsProblem, boardStrokeProblem, isBoardEntry, type BoardEntry } from './board.js';

const ROOM = 7;
const start = (seq: number, author: number, stroke: number, points: number[], colour = '#112233', width = 4, eraser: 0 | 1 = 0): BoardEntry => ['s', ROOM, seq, author, 1000 + seq, stroke, colour, width, eraser, points];
const more = (seq: number, author: number, stroke: number, part: number, points: number[]): BoardEntry => ['p', ROOM, seq, author, 1000 + seq, stroke, part, points];
const undo = (seq: number, author: number, stroke: number): BoardEntry => ['u', ROOM, seq, author, 1000 + seq, stroke];
const clear = (seq: number, author: number, name: string): BoardEntry => ['c', ROOM, seq, author, 1000 + seq, name];

function fold(entries: BoardEntry[], from?: BoardPicture): BoardPicture {
  const picture = from ?? new BoardPicture();
  for (const entry of entries) picture.apply(entry);
  return picture;
}

describe('BoardPicture', () => {
  it('merges each stroke’s parts in order and draws strokes in the order they started, however their parts interleave', () => {
    const picture = fold([start(1, 1, 10, [0, 0]), start(2, 2, 20, [5, 5]), more(3, 1, 10, 1, [1, 1, 2, 2]), more(4, 2, 20, 1, [6, 6])]);
    expect(picture.toData('r', ROOM)).toEqual({
      room: 'r',
      id: ROOM,
      seq: 4,
      strokes: [
        [1, 1, 10, '#112233', 4, 0, [0, 0, 1, 1, 2, 2]],
        [2, 2, 20, '#112233', 4, 0, [5, 5, 6, 6]],
      ],
      cleared: null,
    });
    expect(picture.points).toBe(5);
  });

  it('drops an undone stroke, and ignores later parts of it; a clear empties the picture and says who did it', () => {
    const picture = fold([start(1, 1, 10, [0, 0]), start(2, 1, 11, [3, 3]), undo(3, 1, 11), more(4, 1, 11, 1, [4, 4])]);
    expect(picture.strokes.map((s) => s.stroke)).toEqual([10]);
    expect(picture.lastStrokeOf(1)).toBe(10);
    expect(picture.has(1, 11)).toBe(false);
    picture.apply(clear(5, 2, 'bob'));
    expect(picture.strokes).toEqual([]);
    expect(picture.points).toBe(0);
    expect(picture.cleared).toEqual({ by: 'bob', t: 1005 });
    expect(picture.lastStrokeOf(1)).toBeUndefined();
  });

  it('keys strokes by author: two authors may use the same stroke id, and one cannot undo the other’s', () => {
    const picture = fold([start(1, 1, 10, [0, 0]), start(2, 2, 10, [9, 9]), undo(3, 2, 10)]);
    expect(picture.strokes.map((s) => [s.authorId, s.stroke])).toEqual([[1, 10]]);
  });

  it('ignores what it has applied and refuses a gap, so an overlapping replay changes nothing', () => {
    const picture = fold([start(1, 1, 10, [0, 0]), more(2, 1, 10, 1, [1, 1])]);
    expect(picture.apply(more(2, 1, 10, 1, [1, 1]))).toBe('old');
    expect(picture.apply(more(4, 1, 10, 3, [3, 3]))).toBe('gap');
    expect(picture.seq).toBe(2);
    expect(picture.strokes[0]!.points).toEqual([0, 0, 1, 1]);
  });

  it('a late joiner’s picture plus the entries after it equals the fold of the whole log', () => {
    const log: BoardEntry[] = [start(1, 1, 10, [0, 0]), more(2, 1, 10, 1, [1, 1]), start(3, 2, 5, [7, 7], '#ff0000', 9, 1), clear(4, 2, 'bob'), start(5, 1, 12, [2, 2]), more(6, 1, 12, 1, [3, 3]), start(7, 2, 6, [8, 8]), undo(8, 2, 6), more(9, 1, 12, 2, [4, 4])];
    const whole = fold(log).toData('r', ROOM);
    for (let cut = 0; cut <= log.length; cut++) {
      const snapshot = fold(log.slice(0, cut)).toData('r', ROOM);
      const resumed = fold(log.slice(cut), new BoardPicture(JSON.parse(JSON.stringify(snapshot)) as typeof snapshot));
      expect(resumed.toData('r', ROOM)).toEqual(whole);
    }
  });

  it('does not share point arrays with the entries or pictures it was built from', () => {
    const points = [0, 0];
    const picture = fold([start(1, 1, 10, points), more(2, 1, 10, 1, [1, 1])]);
    expect(points).toEqual([0, 0]);
    const data = picture.toData('r', ROOM);
    data.strokes[0]![6].push(9, 9);
    expect(picture.strokes[0]!.points).toEqual([0, 0, 1, 1]);
  });
});

describe('boardPointsProblem', () => {
  it('accepts whole points of integers inside the board space', () => {
    expect(boardPointsProblem([0, 0, BOARD_WIDTH, BOARD_HEIGHT])).toBeNull();
  });

  it.each([
    ['not an array', 'x'],
    ['empty', []],
    ['an odd count', [1, 2, 3]],
    ['a fraction', [1.5, 2]],
    ['NaN', [Number.NaN, 2]],
    ['infinity', [Infinity, 2]],
    ['a string', ['1', 2]],
    ['negative', [-1, 2]],
    ['past the width', [BOARD_WIDTH + 1, 2]],
    ['past the height', [1, BOARD_HEIGHT + 1]],
    ['too many points', Array.from({ length: BOARD_LIMITS.pointsPerSegment * 2 + 2 }, () => 1)],
  ])('refuses %s', (_name, points) => {
    expect(boardPointsProblem(points)).toEqual(expect.any(String));
  });
});

describe('boardStrokeProblem', () => {
  const first = { s: 1, i: 0, p: [1, 1], c: '#00ff00', w: 3 };
  it('accepts a first part with its style and a later part without', () => {
    expect(boardStrokeProblem(first)).toBeNull();
    expect(boardStrokeProblem({ ...first, e: true })).toBeNull();
    expect(boardStrokeProblem({ s: 1, i: 1, p: [1, 1] })).toBeNull();
  });

  it.each([
    ['a stroke id of 0', { ...first, s: 0 }],
    ['a stroke id past 31 bits', { ...first, s: 2 ** 31 }],
    ['a fractional part', { ...first, i: 0.5 }],
    ['a part past the cap', { s: 1, i: BOARD_LIMITS.partsPerStroke, p: [1, 1] }],
    ['a first part without colour', { s: 1, i: 0, p: [1, 1], w: 3 }],
    ['an upper-case colour', { ...first, c: '#00FF00' }],
    ['a CSS colour name', { ...first, c: 'red' }],
    ['a width of 0', { ...first, w: 0 }],
    ['a width past the cap', { ...first, w: BOARD_LIMITS.width.max + 1 }],
    ['an eraser flag that is not a boolean', { ...first, e: 1 }],
    ['style on a later part', { s: 1, i: 2, p: [1, 1], c: '#000000' }],
    ['bad points', { ...first, p: [1] }],
  ])('refuses %s', (_name, data) => {
    expect(boardStrokeProblem(data as Record<string, unknown>)).toEqual(expect.any(String));
  });
});

describe('isBoardEntry', () => {
  it('tells board entries from chat message tuples and object frames', () => {
    expect(isBoardEntry(start(1, 1, 1, [0, 0]))).toBe(true);
    expect(isBoardEntry([ROOM, 1, 2, 'ann', 1000, 'hi'])).toBe(false);
    expect(isBoardEntry({ event: 'joined' })).toBe(false);
    expect(isBoardEntry(['x', ROOM, 1])).toBe(false);
  });
});
