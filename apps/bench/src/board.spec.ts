import { boardStrokeProblem, type BoardEntry } from '@rt/protocol';
import { describe, expect, test } from 'vitest';
import { keyOf, Pen, segmentKey } from './board.js';

describe('keyOf: a delivery matched to its send by stroke and part', () => {
  const start: BoardEntry = ['s', 7, 41, 3, 1_764_000_000_123, 1_000_001, '#1f77b4', 4, 0, [10, 20, 30, 40]];
  const part: BoardEntry = ['p', 7, 42, 3, 1_764_000_000_124, 1_000_001, 17, [10, 20, 30, 40]];

  test("reads the app's entry tuples as the WebSocket sends them", () => {
    expect(keyOf(JSON.stringify(start))).toBe(segmentKey(1_000_001, 0));
    expect(keyOf(JSON.stringify(part))).toBe(segmentKey(1_000_001, 17));
  });

  test("reads the same tuple as an SSE event's data", () => {
    expect(keyOf(`id: 42\nevent: board\ndata: ${JSON.stringify(part)}\n\n`)).toBe(segmentKey(1_000_001, 17));
    expect(keyOf(`event: board\ndata: ${JSON.stringify(start)}\n\n`)).toBe(segmentKey(1_000_001, 0));
  });

  test('reads the segment as a relay passes it on, alone or as SSE data', () => {
    const segment = new Pen(2, 'bench').next();
    const key = segmentKey(segment.s, segment.i);
    expect(keyOf(JSON.stringify(segment))).toBe(key);
    expect(keyOf(`id: 9\ndata: ${JSON.stringify(segment)}\n\n`)).toBe(key);
  });

  test('other frames are no segment', () => {
    expect(keyOf('{"event":"board-joined","data":{"room":"bench","seq":3}}')).toBeUndefined();
    expect(keyOf('{"event":"board-cursor","data":{"room":"bench","id":2,"name":"a","x":1,"y":2}}')).toBeUndefined();
    expect(keyOf(JSON.stringify(['u', 7, 43, 3, 1, 1_000_001]))).toBeUndefined();
    expect(keyOf(JSON.stringify(['c', 7, 44, 3, 1, 'bench0']))).toBeUndefined();
    const picture = { event: 'board-picture', data: { room: 'bench', id: 7, seq: 2, strokes: [[1, 3, 1_000_001, '#1f77b4', 4, 0, [1, 2]]], cleared: null } };
    expect(keyOf(JSON.stringify(picture))).toBeUndefined();
  });
});

/** A fresh drawer's first `n` segments. */
const draw = (drawer: number, n: number) => {
  const pen = new Pen(drawer, 'bench');
  return Array.from({ length: n }, () => pen.next());
};

describe('Pen: a drawer', () => {
  test('sends segments the app accepts: 4 to 8 points, part 0 with colour and width, later parts without', () => {
    const pen = new Pen(0, 'bench');
    for (let n = 0; n < 300; n++) {
      const segment = pen.next();
      expect(boardStrokeProblem(segment as unknown as Record<string, unknown>), `segment ${n}`).toBeNull();
      expect(segment.p.length / 2).toBeGreaterThanOrEqual(4);
      expect(segment.p.length / 2).toBeLessThanOrEqual(8);
      expect(segment.c !== undefined).toBe(segment.i === 0);
    }
  });

  test('draws strokes of 60 segments, then a new stroke', () => {
    const segments = draw(1, 150);
    expect(segments.map((s) => s.i)).toEqual([...Array.from({ length: 60 }, (_, i) => i), ...Array.from({ length: 60 }, (_, i) => i), ...Array.from({ length: 30 }, (_, i) => i)]);
    expect(new Set(segments.map((s) => s.s)).size).toBe(3);
  });

  test("drawers' strokes never share an id, and the same drawer draws the same segments every run", () => {
    const ids = new Set(draw(0, 600).map((s) => s.s));
    for (const segment of draw(1, 600)) expect(ids.has(segment.s)).toBe(false);
    expect(draw(4, 100)).toEqual(draw(4, 100));
  });
});
