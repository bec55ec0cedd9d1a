import { BOARD_BACKGROUND } from '@rt/protocol';
import { describe, expect, it } from 'vitest';
import type { DrawableStroke } from './chat/board.svelte';
import { BOARD_SCALE, BoardRenderer, CANVAS_HEIGHT, CANVAS_WIDTH, drawBoard, SETTLED_MS, toBoardPoint, type BoardContext } from './board-render';

/** A 2D context that writes down what is done to it, style settings included, in order. */
function recorder(): { context: BoardContext & Pick<CanvasRenderingContext2D, 'drawImage'>; calls: string[] } {
  const calls: string[] = [];
  const record =
    (name: string) =>
    (...args: unknown[]) => {
      calls.push(`${name}(${args.map((a) => (typeof a === 'number' ? +a.toFixed(4) : String(a))).join(',')})`);
    };
  const context = {
    setTransform: record('setTransform'),
    fillRect: record('fillRect'),
    beginPath: record('beginPath'),
    moveTo: record('moveTo'),
    lineTo: record('lineTo'),
    arc: record('arc'),
    fill: record('fill'),
    stroke: record('stroke'),
    drawImage: record('drawImage'),
  } as unknown as BoardContext & Pick<CanvasRenderingContext2D, 'drawImage'>;
  for (const property of ['fillStyle', 'strokeStyle', 'lineWidth', 'lineCap', 'lineJoin'] as const) {
    Object.defineProperty(context, property, { set: (value: unknown) => calls.push(`${property}=${String(value)}`) });
  }
  return { context, calls };
}

describe('drawBoard', () => {
  it('paints the background, then each stroke as one round path in board units, in order', () => {
    const { context, calls } = recorder();
    drawBoard(context, [{ colour: '#dc2626', width: 10, eraser: 0, points: [0, 0, 100, 50, 200, 0] }], [{ colour: '#2563eb', width: 4, eraser: false, points: [5, 5, 6, 6] }]);
    expect(calls).toEqual([
      'setTransform(1,0,0,1,0,0)',
      `fillStyle=${BOARD_BACKGROUND}`,
      `fillRect(0,0,${CANVAS_WIDTH},${CANVAS_HEIGHT})`,
      `setTransform(${BOARD_SCALE},0,0,${BOARD_SCALE},0,0)`,
      'lineCap=round',
      'lineJoin=round',
      'beginPath()',
      'strokeStyle=#dc2626',
      'lineWidth=10',
      'moveTo(0,0)',
      'lineTo(100,50)',
      'lineTo(200,0)',
      'stroke()',
      'beginPath()',
      'strokeStyle=#2563eb',
      'lineWidth=4',
      'moveTo(5,5)',
      'lineTo(6,6)',
      'stroke()',
    ]);
  });

  it('draws a stroke of one point as a dot of its width, and an eraser in the background colour', () => {
    const { context, calls } = recorder();
    drawBoard(context, [
      { colour: '#dc2626', width: 10, eraser: 1, points: [40, 30] },
      { colour: '#dc2626', width: 8, eraser: true, points: [1, 1, 2, 2] },
    ]);
    expect(calls.slice(6)).toEqual([
      'beginPath()',
      `fillStyle=${BOARD_BACKGROUND}`,
      `arc(40,30,5,0,${+(2 * Math.PI).toFixed(4)})`,
      'fill()',
      'beginPath()',
      `strokeStyle=${BOARD_BACKGROUND}`,
      'lineWidth=8',
      'moveTo(1,1)',
      'lineTo(2,2)',
      'stroke()',
    ]);
  });

  it('draws nothing but the background for an empty board', () => {
    const { context, calls } = recorder();
    drawBoard(context, [], [{ colour: '#000000', width: 3, eraser: 0, points: [] }]);
    expect(calls.filter((c) => c.startsWith('beginPath'))).toEqual([]);
  });
});

describe('BoardRenderer', () => {
  /** The strokes a recording painted, by their first point. */
  const paintedIn = (calls: string[]) => calls.filter((c) => c.startsWith('moveTo') || c.startsWith('arc')).map((c) => c.replace(/^(moveTo|arc)\((\d+),(\d+).*$/, '$2,$3'));

  function setUp() {
    let now = 0;
    const layer = recorder();
    const target = recorder();
    const renderer = new BoardRenderer({ canvas: 'LAYER' as unknown as CanvasImageSource, context: layer.context }, () => now);
    const frame = (strokes: DrawableStroke[], pending: DrawableStroke[] = []) => {
      layer.calls.length = 0;
      target.calls.length = 0;
      renderer.render(target.context, strokes, pending);
      return { layer: layer.calls, target: target.calls };
    };
    return { frame, later: (ms: number) => (now += ms) };
  }
  const stroke = (x: number) => ({ colour: '#000000', width: 4, eraser: 0 as const, points: [x, 1, x + 1, 2] });

  it('paints settled strokes once onto its layer and then only copies it, painting the rest on top in order', () => {
    const { frame, later } = setUp();
    const a = stroke(10);
    const b = stroke(20);
    let painted = frame([a, b], [stroke(99)]);
    expect(painted.layer).toEqual([]);
    expect(painted.target[0]).toBe('setTransform(1,0,0,1,0,0)');
    expect(painted.target[1]).toBe('drawImage(LAYER,0,0)');
    expect(paintedIn(painted.target)).toEqual(['10,1', '20,1', '99,1']);

    later(SETTLED_MS);
    b.points.push(3, 3); // b still grows: a settles alone
    painted = frame([a, b]);
    expect(paintedIn(painted.layer)).toEqual(['10,1']);
    expect(paintedIn(painted.target)).toEqual(['20,1']);

    later(SETTLED_MS);
    painted = frame([a, b]);
    expect(paintedIn(painted.layer)).toEqual(['20,1']);
    expect(paintedIn(painted.target)).toEqual([]);
    expect(painted.target).toContain('drawImage(LAYER,0,0)');
  });

  it('paints its layer again from the background when a stroke on it changes or goes', () => {
    const { frame, later } = setUp();
    const a = stroke(10);
    const b = stroke(20);
    frame([a, b]);
    later(SETTLED_MS);
    frame([a, b]);
    // b undone: the layer starts over, a (still settled) goes back on it.
    let painted = frame([a]);
    expect(painted.layer.slice(0, 3)).toEqual(['setTransform(1,0,0,1,0,0)', `fillStyle=${BOARD_BACKGROUND}`, `fillRect(0,0,${CANVAS_WIDTH},${CANVAS_HEIGHT})`]);
    expect(paintedIn(painted.layer)).toEqual(['10,1']);
    // More points of a stroke on the layer: off it until it settles again.
    a.points.push(5, 5);
    painted = frame([a]);
    expect(paintedIn(painted.layer)).toEqual([]);
    expect(paintedIn(painted.target)).toEqual(['10,1']);
    // Cleared: nothing on the layer, nothing on top.
    painted = frame([]);
    expect(paintedIn(painted.target)).toEqual([]);
  });
});

describe('toBoardPoint', () => {
  const rect = { left: 10, top: 20, width: 400, height: 250 };

  it('maps the canvas as shown onto the board space, in integers', () => {
    expect(toBoardPoint(10, 20, rect)).toEqual({ x: 0, y: 0 });
    expect(toBoardPoint(410, 270, rect)).toEqual({ x: 4000, y: 2500 });
    expect(toBoardPoint(210.04, 145, rect)).toEqual({ x: 2000, y: 1250 });
  });

  it('keeps a point dragged outside the canvas on its edge', () => {
    expect(toBoardPoint(-50, 900, rect)).toEqual({ x: 0, y: 2500 });
    expect(toBoardPoint(0, 0, { left: 0, top: 0, width: 0, height: 0 })).toEqual({ x: 0, y: 0 });
  });
});
