// Drawing a board (issue 19) onto a canvas: the one code path for the screen and the PNG
// download, so what a user saves is what every member sees. The canvas has a fixed size whatever
// the screen (CSS scales it), and only the picture's fold and our own pending strokes are drawn,
// in order, so two browsers that applied the same entries produce the same pixels.
import { BOARD_BACKGROUND, BOARD_HEIGHT, BOARD_WIDTH } from '@rt/protocol';
import type { DrawableStroke } from './chat/board.svelte';

/** The canvas's own pixels: the board space (4000 × 2500) at 0.4. */
export const CANVAS_WIDTH = 1600;
export const CANVAS_HEIGHT = 1000;
export const BOARD_SCALE = CANVAS_WIDTH / BOARD_WIDTH;

/** The part of a 2D context the drawing uses (specs hand in a recorder). */
export type BoardContext = Pick<
  CanvasRenderingContext2D,
  'setTransform' | 'fillRect' | 'beginPath' | 'moveTo' | 'lineTo' | 'arc' | 'fill' | 'stroke' | 'fillStyle' | 'strokeStyle' | 'lineWidth' | 'lineCap' | 'lineJoin'
>;

/** A canvas the renderer keeps its finished strokes on, and the context that paints it. */
export interface BoardLayer {
  canvas: CanvasImageSource;
  context: BoardContext;
}

/** A stroke whose points have not changed for this long is painted once onto the renderer's layer. */
export const SETTLED_MS = 1_000;

/**
 * Paint the whole board: the background, then each stroke as one path in board units (the
 * transform scales them): round caps and joins, an eraser in the background colour, a stroke of
 * one point as a dot of its width.
 */
export function drawBoard(context: BoardContext, ...layers: readonly (readonly DrawableStroke[])[]): void {
  paintBackground(context);
  drawStrokes(context, layers.flat());
}

function paintBackground(context: BoardContext): void {
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.fillStyle = BOARD_BACKGROUND;
  context.fillRect(0, 0, CANVAS_WIDTH, CANVAS_HEIGHT);
}

function drawStrokes(context: BoardContext, strokes: readonly DrawableStroke[], from = 0): void {
  context.setTransform(BOARD_SCALE, 0, 0, BOARD_SCALE, 0, 0);
  context.lineCap = 'round';
  context.lineJoin = 'round';
  for (let k = from; k < strokes.length; k++) drawStroke(context, strokes[k]);
}

/**
 * Draws a board frame after frame without painting every stroke each time: a full board (200,000
 * points) takes hundreds of ms to paint. The strokes at the start of the picture that have settled
 * (unchanged for SETTLED_MS) are painted once, in order, onto a layer of the canvas's size; a frame
 * copies it pixel for pixel and paints the rest on top. Painting in the same order on the same
 * pixels, the result is the one `drawBoard` gives. When a stroke on the layer changes (an undo, a
 * clear, more points of it), the layer is painted again from the background.
 */
export class BoardRenderer {
  readonly #layer: BoardLayer;
  readonly #now: () => number;
  /** The strokes on the layer, in order, with how many points each had when painted. */
  #painted: { stroke: DrawableStroke; length: number }[] = [];
  /** When each stroke's points were last seen changing. */
  readonly #seen = new WeakMap<DrawableStroke, { length: number; at: number }>();

  constructor(layer: BoardLayer, now: () => number = () => performance.now()) {
    this.#layer = layer;
    this.#now = now;
    paintBackground(layer.context);
  }

  /** Paint `strokes` (the picture, in order) and then `pending` onto `target`. */
  render(target: BoardContext & Pick<CanvasRenderingContext2D, 'drawImage'>, strokes: readonly DrawableStroke[], pending: readonly DrawableStroke[]): void {
    const now = this.#now();
    const painted = this.#painted;
    if (painted.some((p, k) => strokes[k] !== p.stroke || p.stroke.points.length !== p.length)) {
      paintBackground(this.#layer.context);
      this.#painted = [];
    }
    let settled = this.#painted.length;
    while (settled < strokes.length && this.#settled(strokes[settled], now)) settled++;
    if (settled > this.#painted.length) {
      drawStrokes(this.#layer.context, strokes.slice(0, settled), this.#painted.length);
      for (let k = this.#painted.length; k < settled; k++) this.#painted.push({ stroke: strokes[k], length: strokes[k].points.length });
    }
    // Strokes not settled yet (their `seen` starts now) wait for a later frame to be painted on the layer.
    for (let k = settled; k < strokes.length; k++) this.#settled(strokes[k], now);
    target.setTransform(1, 0, 0, 1, 0, 0);
    target.drawImage(this.#layer.canvas, 0, 0);
    drawStrokes(target, strokes, settled);
    drawStrokes(target, pending);
  }

  #settled(stroke: DrawableStroke, now: number): boolean {
    const seen = this.#seen.get(stroke);
    if (!seen || seen.length !== stroke.points.length) {
      this.#seen.set(stroke, { length: stroke.points.length, at: now });
      return false;
    }
    return now - seen.at >= SETTLED_MS;
  }
}

function drawStroke(context: BoardContext, stroke: DrawableStroke): void {
  const { points, width } = stroke;
  if (points.length < 2) return;
  const colour = stroke.eraser ? BOARD_BACKGROUND : stroke.colour;
  context.beginPath();
  if (points.length === 2) {
    context.fillStyle = colour;
    context.arc(points[0], points[1], width / 2, 0, 2 * Math.PI);
    context.fill();
    return;
  }
  context.strokeStyle = colour;
  context.lineWidth = width;
  context.moveTo(points[0], points[1]);
  for (let k = 2; k < points.length; k += 2) context.lineTo(points[k], points[k + 1]);
  context.stroke();
}

/** Board space from a point on the canvas as it is shown (`rect`: its client rectangle): integers inside the board. */
export function toBoardPoint(clientX: number, clientY: number, rect: Pick<DOMRect, 'left' | 'top' | 'width' | 'height'>): { x: number; y: number } {
  const x = rect.width > 0 ? ((clientX - rect.left) / rect.width) * BOARD_WIDTH : 0;
  const y = rect.height > 0 ? ((clientY - rect.top) / rect.height) * BOARD_HEIGHT : 0;
  return { x: Math.min(BOARD_WIDTH, Math.max(0, Math.round(x))), y: Math.min(BOARD_HEIGHT, Math.max(0, Math.round(y))) };
}

/** Save the board as `board-<room>.png`, drawn by the same code as the screen. */
export function downloadBoardPng(room: string, ...layers: readonly (readonly DrawableStroke[])[]): void {
  const canvas = document.createElement('canvas');
  canvas.width = CANVAS_WIDTH;
  canvas.height = CANVAS_HEIGHT;
  const context = canvas.getContext('2d');
  if (!context) return;
  drawBoard(context, ...layers);
  canvas.toBlob((blob) => {
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = `board-${room}.png`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }, 'image/png');
}
