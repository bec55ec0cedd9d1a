// The whiteboard of a room (issue 19), as both ends must agree on it: the board space, the
// limits, the log's entries as they travel (WebSocket frames and SSE events carry the same
// tuples), and the one fold from a log to a picture. Every client renders the picture the fold
// gives, so two clients that have applied the same entries draw the same pixels; the server
// folds with the same code to answer a late join with the picture (strokes since the last clear,
// undone strokes dropped, each stroke's segments merged).
//

/** The board space: coordinates are integers in [0, BOARD_WIDTH] × [0, BOARD_HEIGHT], whatever the screen. */
export const BOARD_WIDTH = 4000;
export const BOARD_HEIGHT = 2500;

/** What both ends bound on a board (the server's defaults). */
export const BOARD_LIMITS = {
  /** Points in one segment (a segment is what a pen sends per animation frame). */
  pointsPerSegment: 128,
  /** Segments per second per user, after a burst of `segmentBurst`. */
  segmentsPerSecond: 60,
  segmentBurst: 120,
  /** Cursor updates per second per user; more are dropped (cursors are ephemeral). */
  cursorsPerSecond: 20,
  /** Stroke width in board units. */
  width: { min: 1, max: 200 },
  /** Points in the picture (strokes since the last clear); past it, new strokes are refused (`board_full`). */
  pointsPerBoard: 200_000,
  /** A stroke id: a positive 31-bit integer the author picks, unique among their strokes on the board. */
  strokeIdMax: 2 ** 31 - 1,
  /** Segments of one stroke (its part numbers run from 0 to this minus 1). */
  partsPerStroke: 4096,
} as const;

/** A colour: `#rrggbb`, lower case. */
export const BOARD_COLOUR_PATTERN = /^#[0-9a-f]{6}$/;

/** The colour an eraser paints with: the board's background. */
export const BOARD_BACKGROUND = '#ffffff';

/**
 * One entry of a board's log, as a JSON array: a kind letter, the room's id (from `joining`, or
 * the `picture`), the entry's position `seq` in the board's gapless log, the author, `t` (stored,
 * epoch ms), then what the kind needs. Points are a flat `[x0, y0, x1, y1, ...]` of integers.
 * - `s`: a stroke starts: its id, colour, width, eraser (0 or 1) and first points (part 0);
 * - `p`: more points of the author's stroke, part `part` (1, 2, ...);
 * - `u`: the author undid their stroke;
 * - `c`: the author cleared the board (their name, to show who did).
 */
export type BoardEntry =
  | [kind: 's', roomId: number, seq: number, authorId: number, t: number, stroke: number, colour: string, width: number, eraser: 0 | 1, points: number[]]
  | [kind: 'p', roomId: number, seq: number, authorId: number, t: number, stroke: number, part: number, points: number[]]
  | [kind: 'u', roomId: number, seq: number, authorId: number, t: number, stroke: number]
  | [kind: 'c', roomId: number, seq: number, authorId: number, t: number, author: string];

export type BoardEntryKind = BoardEntry[0];
export const BOARD_ENTRY_KINDS = ['s', 'p', 'u', 'c'] as const satisfies readonly BoardEntryKind[];

/** A stroke of the picture: `[seq of its start, authorId, stroke id, colour, width, eraser, points]`. */
export type StrokeTuple = [seq: number, authorId: number, stroke: number, colour: string, width: number, eraser: 0 | 1, points: number[]];

/** The picture of a board at position `seq`: what a late joiner gets before live entries. */
export interface BoardPictureData {
  room: string;
  id: number;
  seq: number;
  /** In the order they are drawn: by the seq of their start. */
  strokes: StrokeTuple[];
  /** Who cleared the board last, and when (epoch ms); null if nobody has since it was made. */
  cleared: { by: string; t: number } | null;
}

/**
 * Server → client board frames (`{"event", "data"}`), beside the entries (arrays). A `board-join`
 * is answered with `board-picture` (the whole picture; also when `after` is older than the log
 * keeps) or `board-resume` (the entries after `after` follow), then the entries the log holds
 * past that, then `board-joined` with the position reached; then live entries, in order.
 */
export interface BoardServerFrames {
  'board-picture': BoardPictureData;
  'board-resume': { room: string; id: number; seq: number };
  'board-joined': { room: string; seq: number };
  'board-left': { room: string };
  /** Another member's pointer in board space (`x` = `y` = -1: it left the board); not stored, at most `cursorsPerSecond` per user. */
  'board-cursor': { room: string; id: number; name: string; x: number; y: number };
}

/**
 * Client → server board frames' `data` (`{"event", "data", "ref"?}` like every client frame).
 * There is no ack frame: the drawer's own entry coming back (same author, stroke and part) is
 * the ack. A resend of something stored already takes no new position and gets nothing back
 * (the stored entry was or will be delivered). A refusal is an `error` frame whose `ref` is the
 * frame's `ref` (the web app sends `b:s:i` for a segment).
 */
export interface BoardClientFrames {
  /** Read the board: the picture (or the entries after `after`, when the log still has them), then live entries. */
  'board-join': { room: string; after?: number };
  'board-leave': { room: string };
  /** A segment: part 0 starts the stroke and carries `c` (colour), `w` (width) and `e` (eraser); later parts only points. */
  'board-stroke': { room: string; s: number; i: number; p: number[]; c?: string; w?: number; e?: boolean };
  /** Undo the author's own stroke `s`. */
  'board-undo': { room: string; s: number };
  /** Clear the board; `id` makes a resend harmless (unique per author, like a stroke id). */
  'board-clear': { room: string; id: number };
  /** Where the pointer is, in board space; x = y = -1 when it left the board. */
  'board-cursor': { room: string; x: number; y: number };
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * Why a segment's points are not acceptable, or null: an even number of integers, 2 to
 * 2 × pointsPerSegment of them, each inside the board space. NaN, infinities and fractions fail.
 */
export function boardPointsProblem(points: unknown): string | null {
  if (!Array.isArray(points)) return 'p must be an array of integers [x0, y0, x1, y1, ...]';
  const n = points.length;
  if (n < 2 || n % 2 !== 0) return 'p must hold whole points: an even number of integers, at least 2';
  if (n > BOARD_LIMITS.pointsPerSegment * 2) return `p holds at most ${BOARD_LIMITS.pointsPerSegment} points`;
  for (let k = 0; k < n; k += 2) {
    const x: unknown = points[k];
    const y: unknown = points[k + 1];
    if (!isInt(x) || !isInt(y)) return 'every coordinate must be an integer';
    if (x < 0 || x > BOARD_WIDTH || y < 0 || y > BOARD_HEIGHT) return `coordinates must lie in [0, ${BOARD_WIDTH}] × [0, ${BOARD_HEIGHT}]`;
  }
  return null;
}

/** Why a `board-stroke`'s data is not acceptable (the room aside), or null. */
export function boardStrokeProblem(data: Record<string, unknown>): string | null {
  const { s, i, c, w, e } = data;
  if (!isInt(s) || s < 1 || s > BOARD_LIMITS.strokeIdMax) return `s must be an integer from 1 to ${BOARD_LIMITS.strokeIdMax}`;
  if (!isInt(i) || i < 0 || i >= BOARD_LIMITS.partsPerStroke) return `i must be an integer from 0 to ${BOARD_LIMITS.partsPerStroke - 1}`;
  const points = boardPointsProblem(data.p);
  if (points) return points;
  if (i === 0) {
    if (typeof c !== 'string' || !BOARD_COLOUR_PATTERN.test(c)) return 'c must be a colour #rrggbb (lower case)';
    if (!isInt(w) || w < BOARD_LIMITS.width.min || w > BOARD_LIMITS.width.max) return `w must be an integer from ${BOARD_LIMITS.width.min} to ${BOARD_LIMITS.width.max}`;
    if (e !== undefined && typeof e !== 'boolean') return 'e must be a boolean';
  } else if (c !== undefined || w !== undefined || e !== undefined) {
    return 'only part 0 carries c, w and e';
  }
  return null;
}

interface Stroke {
  seq: number;
  authorId: number;
  stroke: number;
  colour: string;
  width: number;
  eraser: 0 | 1;
  points: number[];
}

const strokeKey = (authorId: number, stroke: number): string => `${authorId}:${stroke}`;

/**
 * A board's picture, folded from its log: strokes in the order of their start, each with all its
 * points in part order; an undo removes the stroke, a clear removes everything before it.
 * Entries at or below the current position are ignored (a replay that overlaps live traffic),
 * and `apply` refuses an entry that would leave a gap (the caller resumes from `seq`). A `p` or
 * `u` of a stroke the picture does not hold (undone, cleared) changes nothing but moves the
 * position, so the fold of the same log is the same picture wherever it runs.
 */
export class BoardPicture {
  #seq: number;
  #strokes: Stroke[] = [];
  readonly #byKey = new Map<string, Stroke>();
  #points = 0;
  #cleared: { by: string; t: number } | null;

  constructor(from?: Pick<BoardPictureData, 'seq' | 'strokes' | 'cleared'>) {
    this.#seq = from?.seq ?? 0;
    this.#cleared = from?.cleared ?? null;
    for (const [seq, authorId, stroke, colour, width, eraser, points] of from?.strokes ?? []) {
      this.#add({ seq, authorId, stroke, colour, width, eraser, points: points.slice() });
    }
  }

  /** The position of the last entry applied. */
  get seq(): number {
    return this.#seq;
  }

  /** Points in the picture. */
  get points(): number {
    return this.#points;
  }

  get cleared(): { by: string; t: number } | null {
    return this.#cleared;
  }

  /** The strokes in drawing order (read-only views: do not change them). */
  get strokes(): readonly Readonly<Stroke>[] {
    return this.#strokes;
  }

  /** Whether the picture holds the author's stroke. */
  has(authorId: number, stroke: number): boolean {
    return this.#byKey.has(strokeKey(authorId, stroke));
  }

  /** The author's last stroke in the picture (what "undo" undoes), or undefined. */
  lastStrokeOf(authorId: number): number | undefined {
    for (let k = this.#strokes.length - 1; k >= 0; k--) if (this.#strokes[k]!.authorId === authorId) return this.#strokes[k]!.stroke;
    return undefined;
  }

  /**
   * Applies the next entry. Returns 'applied', 'old' (at or below the position: ignored) or
   * 'gap' (beyond the next position: not applied; the log must be read from `seq` first).
   */
  apply(entry: BoardEntry): 'applied' | 'old' | 'gap' {
    const seq = entry[2];
    if (seq <= this.#seq) return 'old';
    if (seq !== this.#seq + 1) return 'gap';
    this.#seq = seq;
    switch (entry[0]) {
      case 's': {
        const [, , , authorId, , stroke, colour, width, eraser, points] = entry;
        if (!this.#byKey.has(strokeKey(authorId, stroke))) this.#add({ seq, authorId, stroke, colour, width, eraser, points: points.slice() });
        break;
      }
      case 'p': {
        const [, , , authorId, , stroke, , points] = entry;
        const target = this.#byKey.get(strokeKey(authorId, stroke));
        if (target) {
          for (const v of points) target.points.push(v);
          this.#points += points.length / 2;
        }
        break;
      }
      case 'u': {
        const [, , , authorId, , stroke] = entry;
        const target = this.#byKey.get(strokeKey(authorId, stroke));
        if (target) {
          this.#byKey.delete(strokeKey(authorId, stroke));
          this.#strokes = this.#strokes.filter((s) => s !== target);
          this.#points -= target.points.length / 2;
        }
        break;
      }
      case 'c': {
        const [, , , , t, author] = entry;
        this.#strokes = [];
        this.#byKey.clear();
        this.#points = 0;
        this.#cleared = { by: author, t };
        break;
      }
      default: {
        const unknown: never = entry;
        throw new Error(`unknown board entry ${JSON.stringify(unknown)}`);
      }
    }
    return 'applied';
  }

  /** The picture as sent: compacted (one tuple per stroke), at the current position. */
  toData(room: string, id: number): BoardPictureData {
    return {
      room,
      id,
      seq: this.#seq,
      strokes: this.#strokes.map((s) => [s.seq, s.authorId, s.stroke, s.colour, s.width, s.eraser, s.points.slice()]),
      cleared: this.#cleared,
    };
  }

  #add(stroke: Stroke): void {
    this.#strokes.push(stroke);
    this.#byKey.set(strokeKey(stroke.authorId, stroke.stroke), stroke);
    this.#points += stroke.points.length / 2;
  }
}

/** Whether a parsed server frame is a board entry (an array whose first element is one of the kind letters). */
export function isBoardEntry(frame: unknown): frame is BoardEntry {
  return Array.isArray(frame) && typeof frame[0] === 'string' && (BOARD_ENTRY_KINDS as readonly string[]).includes(frame[0]) && typeof frame[2] === 'number';
}
