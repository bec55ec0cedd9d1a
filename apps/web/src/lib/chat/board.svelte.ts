import {
  BOARD_COLOUR_PATTERN,
  BOARD_HEIGHT,
  BOARD_LIMITS,
  BOARD_WIDTH,
  BoardPicture,
  type BoardClientFrames,
  type BoardEntry,
  type PublicUser,
  type StrokeTuple,
} from '@rt/protocol';
import type { ChatError, ChatSocket } from './socket.svelte';

/** A pen's look: what part 0 of a stroke carries. */
export interface BoardStyle {
  /** `#rrggbb`, lower case. */
  colour: string;
  /** Board units, 1 to 200. */
  width: number;
  eraser: boolean;
}

/** A stroke to draw: a stroke of the picture, or one of ours not all back yet. */
export interface DrawableStroke {
  readonly colour: string;
  readonly width: number;
  readonly eraser: 0 | 1 | boolean;
  readonly points: readonly number[];
}

/** Where a room's board stands on the current socket. */
export type BoardStatus =
  /** `board-join` sent, the picture and the log not all in yet (also after a gap). */
  | 'joining'
  /** `board-joined` came: what comes now is live. */
  | 'live'
  /** No socket: drawing goes on, and is sent when it is back. */
  | 'offline';

/** Another member's pointer on the board. */
export interface BoardCursor {
  id: number;
  name: string;
  x: number;
  y: number;
}

/**
 * A stroke's segments go out at most once per animation frame and no more often than this (in
 * whole ms, so a 60 Hz frame passes and a 120 Hz screen does not double the rate).
 */
export const SEGMENT_INTERVAL_MS = 16;
/** At most one `board-cursor` per this interval (the server drops more than 20 a second). */
export const CURSOR_INTERVAL_MS = 1000 / BOARD_LIMITS.cursorsPerSecond;
/** Another member's cursor is hidden when it has not moved for this long. */
export const CURSOR_IDLE_MS = 5_000;
/**
 * What we allow ourselves of the server's segment budget (60 a second after a burst of 120, per
 * user): a margin below it, since frames paced at the edge reach it bunched up by the network.
 * Under the budget a stroke's points wait and go out together in bigger segments.
 */
export const SEND_BURST = BOARD_LIMITS.segmentBurst - 20;
export const SEND_PER_SECOND = BOARD_LIMITS.segmentsPerSecond * 0.9;
/** A refusal of one of our strokes is shown this long. */
export const NOTICE_MS = 4_000;
/**
 * A resent frame (sent again on a new socket) that nothing answers within this long was stored
 * before and is no longer in the picture (undone, cleared): the server answers a duplicate with
 * silence. A first transmission always gets an answer (its entry or an error).
 */
export const RESEND_SILENCE_MS = 5_000;

const EMPTY_CURSORS: readonly BoardCursor[] = [];
const EMPTY_STROKES: readonly DrawableStroke[] = [];

/** One frame we owe the server, in the order it must go out. */
type Op =
  | { kind: 'segment'; stroke: PendingStroke; part: number; points: number[] }
  | { kind: 'undo'; s: number }
  | { kind: 'clear'; id: number };

interface QueuedOp {
  op: Op;
  ref: string;
  /** Sent on the current socket, not answered yet. */
  sent: boolean;
  /** Sent on an earlier socket (or refused for the rate): a duplicate the server may answer with silence. */
  resend: boolean;
  /** The silence deadline of a resend on the current socket. */
  silence?: ReturnType<typeof setTimeout>;
}

/** A stroke of ours that the picture does not hold whole yet: drawn on top of the picture until it does. */
interface PendingStroke extends DrawableStroke {
  readonly s: number;
  readonly colour: string;
  readonly width: number;
  readonly eraser: boolean;
  /** Every point drawn, flat. */
  readonly points: number[];
  /** Points (flat numbers) cut into segments so far; the rest waits for the next frame. */
  cut: number;
  /** Where each part cut so far ends in `points` (its index is the part number). */
  readonly partEnds: number[];
  /** Some part went out on some socket: the server may hold it. */
  transmitted: boolean;
  /** Parts the server has stored (their entries came back). */
  readonly acked: Set<number>;
  /** The pen is up: no more points. */
  ended: boolean;
  /** When its latest segment was cut (Date.now()). */
  lastCutAt: number;
}

interface RoomBoard {
  readonly room: string;
  /** The room's id (from its picture or resume): its board is `board:ID` on the event streams. */
  id: number | null;
  picture: BoardPicture | null;
  status: BoardStatus;
  /** Our strokes not all back yet, in the order they were drawn. */
  strokes: PendingStroke[];
  /** The stroke the pen is drawing now. */
  drawing: PendingStroke | null;
  /** What we owe the server, in order. */
  queue: QueuedOp[];
  readonly cursorTimers: Map<number, ReturnType<typeof setTimeout>>;
  /** Our own pointer: the latest position, sent at most every CURSOR_INTERVAL_MS. */
  cursor: { x: number; y: number } | null;
  cursorSentAt: number;
  cursorTimer?: ReturnType<typeof setTimeout>;
  /** `close` was asked while we still owed the board something: it is left once that is stored. */
  closing: boolean;
  noticeTimer?: ReturnType<typeof setTimeout>;
}

export interface BoardOptions {
  /** Where stroke and clear ids start (then +1 each); defaults to a random 31-bit number. */
  random?: () => number;
  /** Runs `callback` at the next animation frame; defaults to `requestAnimationFrame` (a timer while the page is hidden). */
  frame?: (callback: () => void) => void;
}

function nextFrame(callback: () => void): void {
  if (typeof requestAnimationFrame === 'function' && typeof document !== 'undefined' && document.visibilityState === 'visible') {
    requestAnimationFrame(() => callback());
  } else {
    setTimeout(callback, SEGMENT_INTERVAL_MS);
  }
}

const clampInt = (value: number, max: number): number => Math.min(max, Math.max(0, Math.round(value)));

/**
 * The whiteboard of each open room (issue 19): the picture folded from the board's log
 * (`BoardPicture`, @rt/protocol), our own strokes until the log has them, and the others' pointers.
 *
 * What we draw is cut into segments, at most one per stroke per animation frame and no more often
 * than every 16 ms, at most 128 points each, and paced a margin under the server's rate (60 a
 * second after a burst of 120): points that wait go out together in bigger segments. There is no ack: our own entry coming back is it. Every segment, undo and clear
 * waits in one queue per room, in order, until its entry comes back; on a new socket the room is
 * joined again after the position the picture holds, and once `board-joined` says the log is
 * in, whatever it did not bring back is sent again (the server keeps one copy of each). A refusal
 * drops the stroke and says why for a moment. An entry past the next position (a gap) re-joins.
 */
export class RoomBoards {
  /** Bumped per room on every change to what is drawn: the canvas redraws when it moves. */
  #versions = $state.raw<Record<string, number>>({});
  #statuses = $state.raw<Record<string, BoardStatus>>({});
  #cursors = $state.raw<Record<string, readonly BoardCursor[]>>({});
  #notices = $state.raw<Record<string, string>>({});
  #cleared = $state.raw<Record<string, { by: string; t: number } | null>>({});

  readonly #socket: ChatSocket;
  /** Who is signed in: their entries coming back are the acks. */
  readonly #me: PublicUser | null;
  readonly #frame: (callback: () => void) => void;
  readonly #rooms = new Map<string, RoomBoard>();
  #nextStroke: number;
  #nextClear: number;
  #framePending = false;
  #closed = false;
  /** Our segment budget (segments, undos and clears alike), a token bucket of SEND_BURST refilled at SEND_PER_SECOND. */
  #tokens: number = SEND_BURST;
  #tokensAt = Date.now();
  /** After a `rate_limited`: nothing goes out before this (Date.now()). */
  #holdUntil = 0;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: ChatSocket, me: PublicUser | null, options: BoardOptions = {}) {
    this.#socket = socket;
    this.#me = me;
    this.#frame = options.frame ?? nextFrame;
    const random = options.random ?? Math.random;
    // Random starts keep two tabs of one user apart; half the range leaves room to count up.
    this.#nextStroke = 1 + Math.floor(random() * (BOARD_LIMITS.strokeIdMax / 2));
    this.#nextClear = 1 + Math.floor(random() * (BOARD_LIMITS.strokeIdMax / 2));
    socket.on('board-picture', this.#onPicture);
    socket.on('board-resume', this.#onResume);
    socket.on('board-entry', this.#onEntry);
    socket.on('board-joined', this.#onJoined);
    socket.on('board-cursor', this.#onCursor);
    socket.on('board-left', (data) => {
      const board = typeof data.room === 'string' ? this.#rooms.get(data.room) : undefined;
      // A `board-left` that crosses a new `open` of the same room must not undo it.
      if (board && board.status === 'live') this.#sendJoin(board);
    });
    socket.lifecycle({
      open: () => {
        for (const board of this.#rooms.values()) this.#sendJoin(board);
      },
      down: () => {
        for (const board of this.#rooms.values()) this.#down(board);
      },
      closed: () => {
        this.#closed = true;
        clearTimeout(this.#holdTimer);
        for (const board of this.#rooms.values()) this.#forget(board);
        this.#rooms.clear();
      },
    });
    socket.claimErrors(this.#onError);
  }

  // --- What the components read ---------------------------------------------------------------

  /** Moves whenever what `picture` or `pending` draw changes. */
  version(room: string): number {
    return this.#versions[room] ?? 0;
  }

  status(room: string): BoardStatus | null {
    return this.#statuses[room] ?? null;
  }

  /** The room's id once its board has answered (its topic on the event streams is `board:ID`). */
  roomId(room: string): number | null {
    return this.#rooms.get(room)?.id ?? null;
  }

  /** The picture of the room's board (read it when `version` moves); null before the first one came. */
  picture(room: string): BoardPicture | null {
    return this.#rooms.get(room)?.picture ?? null;
  }

  /** Our strokes the picture does not hold whole yet, in drawing order: drawn over the picture. */
  pending(room: string): readonly DrawableStroke[] {
    const strokes = this.#rooms.get(room)?.strokes;
    return strokes?.length ? strokes : EMPTY_STROKES;
  }

  /** Who cleared the board last (their name) and when; null if nobody did. */
  cleared(room: string): { by: string; t: number } | null {
    return this.#cleared[room] ?? null;
  }

  /** The others' pointers on the board now. */
  cursors(room: string): readonly BoardCursor[] {
    return this.#cursors[room] ?? EMPTY_CURSORS;
  }

  /** Why the server refused our latest stroke, for a few seconds after it did. */
  notice(room: string): string | null {
    return this.#notices[room] ?? null;
  }

  // --- What the user does -----------------------------------------------------------------------

  /** Show a room's board: join it (now, or when the socket opens) and keep it joined across reconnects. */
  open(room: string): void {
    const open = this.#rooms.get(room);
    if (open) open.closing = false;
    if (this.#closed || open) return;
    const board: RoomBoard = { room, id: null, picture: null, status: 'offline', strokes: [], drawing: null, queue: [], cursorTimers: new Map(), cursor: null, cursorSentAt: -Infinity, closing: false };
    this.#rooms.set(room, board);
    this.#setStatus(board, 'offline');
    if (this.#socket.isOpen) this.#sendJoin(board);
  }

  /**
   * Stop receiving a room's board, once what we drew on it is stored: a stroke finished just
   * before the view closes still reaches the others.
   */
  close(room: string): void {
    const board = this.#rooms.get(room);
    if (!board) return;
    this.end(room);
    board.closing = true;
    this.#leaveIfDone(board);
  }

  /** The pen goes down at `point` (board space). False when the room's picture is not in yet. */
  begin(room: string, point: { x: number; y: number }, style: BoardStyle): boolean {
    const board = this.#rooms.get(room);
    if (!board?.picture || !this.#me || !BOARD_COLOUR_PATTERN.test(style.colour)) return false;
    this.end(room);
    const width = Math.min(BOARD_LIMITS.width.max, Math.max(BOARD_LIMITS.width.min, Math.round(style.width)));
    const stroke: PendingStroke = {
      s: this.#strokeId(),
      colour: style.colour,
      width,
      eraser: style.eraser,
      points: [],
      cut: 0,
      partEnds: [],
      transmitted: false,
      acked: new Set(),
      ended: false,
      lastCutAt: -Infinity,
    };
    board.strokes.push(stroke);
    board.drawing = stroke;
    this.#addPoints(board, stroke, [point]);
    return true;
  }

  /** The pen moved through `points` (board space). */
  extend(room: string, points: readonly { x: number; y: number }[]): void {
    const board = this.#rooms.get(room);
    if (board?.drawing) this.#addPoints(board, board.drawing, points);
  }

  /** The pen is up: what is left of the stroke goes out with the next frames. */
  end(room: string): void {
    const board = this.#rooms.get(room);
    const stroke = board?.drawing;
    if (!board || !stroke) return;
    stroke.ended = true;
    board.drawing = null;
    this.#settleStroke(board, stroke);
  }

  /**
   * Undo our latest stroke that is not being undone already: one still on its way (dropped
   * here at once if none of it was sent), else our last one in the picture. False if there is none.
   */
  undo(room: string): boolean {
    const board = this.#rooms.get(room);
    if (!board?.picture || !this.#me) return false;
    this.end(room);
    const pending = board.strokes.at(-1);
    if (pending) {
      this.#dropStroke(board, pending);
      // Nothing of it ever went out: nothing to undo on the server.
      if (pending.transmitted) this.#enqueue(board, { kind: 'undo', s: pending.s });
      return true;
    }
    const undoing = new Set(board.queue.flatMap(({ op }) => (op.kind === 'undo' ? [op.s] : [])));
    const strokes = board.picture.strokes;
    for (let k = strokes.length - 1; k >= 0; k--) {
      const { authorId, stroke } = strokes[k];
      if (authorId !== this.#me.id || undoing.has(stroke)) continue;
      this.#enqueue(board, { kind: 'undo', s: stroke });
      return true;
    }
    return false;
  }

  /** Clear the board for everyone. */
  clear(room: string): boolean {
    const board = this.#rooms.get(room);
    if (!board?.picture || !this.#me) return false;
    this.end(room);
    const id = this.#nextClear;
    this.#nextClear = id >= BOARD_LIMITS.strokeIdMax ? 1 : id + 1;
    this.#enqueue(board, { kind: 'clear', id });
    return true;
  }

  /** Our pointer is at (x, y) in board space, or left the board (x < 0: sent as x = y = -1). Sent at most 20 times a second, the latest winning. */
  cursor(room: string, x: number, y: number): void {
    const board = this.#rooms.get(room);
    if (!board) return;
    board.cursor = x < 0 ? { x: -1, y: -1 } : { x: clampInt(x, BOARD_WIDTH), y: clampInt(y, BOARD_HEIGHT) };
    this.#flushCursor(board);
  }

  // --- Frames from the server -------------------------------------------------------------------

  #onPicture = (data: Record<string, unknown>): void => {
    const board = this.#boardOf(data);
    const { seq, strokes, cleared } = data;
    if (!board || typeof seq !== 'number' || !Array.isArray(strokes) || !strokes.every(isStrokeTuple)) return;
    if (typeof data.id === 'number') board.id = data.id;
    board.picture = new BoardPicture({ seq, strokes, cleared: isCleared(cleared) ? cleared : null });
    this.#setStatus(board, 'joining');
    this.#changed(board);
  };

  #onResume = (data: Record<string, unknown>): void => {
    const board = this.#boardOf(data);
    if (!board) return;
    if (typeof data.id === 'number') board.id = data.id;
    this.#setStatus(board, 'joining');
  };

  #onEntry = (data: Record<string, unknown>): void => {
    const board = this.#boardOf(data);
    const entry = data.entry as BoardEntry;
    if (!board?.picture) return;
    const result = board.picture.apply(entry);
    if (result === 'gap') {
      // A hole in the log: read it again from where the picture stands (once until it is in).
      if (board.status === 'live') this.#sendJoin(board);
      return;
    }
    if (this.#me && entry[3] === this.#me.id) this.#onOwnEntry(board, entry);
    if (result === 'applied') this.#changed(board);
  };

  #onJoined = (data: Record<string, unknown>): void => {
    const board = this.#boardOf(data);
    if (!board?.picture) return;
    this.#setStatus(board, 'live');
    this.#socket.markHealthy();
    // The log is in: whatever of ours it did not bring back was lost with the socket, or stored
    // before and no longer drawn. Send it all again, in order, and cut what piled up meanwhile.
    this.#reconcile(board);
    this.#pump();
    this.#schedule();
  };

  #onCursor = (data: Record<string, unknown>): void => {
    const board = this.#boardOf(data);
    const { id, name, x, y } = data;
    if (!board || typeof id !== 'number' || typeof name !== 'string' || typeof x !== 'number' || typeof y !== 'number') return;
    if (this.#me && id === this.#me.id) return;
    clearTimeout(board.cursorTimers.get(id));
    const others = this.cursors(board.room).filter((c) => c.id !== id);
    if (x < 0) {
      board.cursorTimers.delete(id);
      this.#cursors = { ...this.#cursors, [board.room]: others };
      return;
    }
    board.cursorTimers.set(
      id,
      setTimeout(() => {
        board.cursorTimers.delete(id);
        this.#cursors = { ...this.#cursors, [board.room]: this.cursors(board.room).filter((c) => c.id !== id) };
      }, CURSOR_IDLE_MS),
    );
    this.#cursors = { ...this.#cursors, [board.room]: [...others, { id, name, x, y }] };
  };

  /** Refs: `b:s:i` a segment, `bu:s` an undo, `bc:id` a clear, `bj:room` a join, `bl:room` a leave, `bk:room` a cursor. */
  #onError = (error: ChatError, data: Record<string, unknown>): boolean => {
    const ref = error.ref ?? '';
    const kind = ref.slice(0, ref.indexOf(':'));
    if (!['b', 'bu', 'bc', 'bj', 'bl', 'bk'].includes(kind)) return false;
    if (kind === 'bj') {
      const board = this.#rooms.get(ref.slice(3));
      if (board && error.code === 'room_not_found') {
        board.queue = [];
        board.strokes = [];
        this.close(board.room);
        this.#socket.reportError(error);
      }
      return true;
    }
    for (const board of this.#rooms.values()) {
      const at = board.queue.findIndex((q) => q.sent && q.ref === ref);
      if (at !== -1) this.#onRefused(board, board.queue[at], error, data);
    }
    return true;
  };

  // --- Inside -----------------------------------------------------------------------------------

  #boardOf(data: Record<string, unknown>): RoomBoard | undefined {
    return typeof data.room === 'string' ? this.#rooms.get(data.room) : undefined;
  }

  #sendJoin(board: RoomBoard): void {
    const after = board.picture?.seq;
    const data: BoardClientFrames['board-join'] = after === undefined ? { room: board.room } : { room: board.room, after };
    if (this.#socket.send('board-join', data, `bj:${board.room}`)) this.#setStatus(board, 'joining');
  }

  #down(board: RoomBoard): void {
    this.#setStatus(board, 'offline');
    for (const queued of board.queue) {
      clearTimeout(queued.silence);
      queued.silence = undefined;
      if (queued.sent) queued.resend = true;
      queued.sent = false;
    }
    for (const timer of board.cursorTimers.values()) clearTimeout(timer);
    board.cursorTimers.clear();
    if (this.cursors(board.room).length) this.#cursors = without(this.#cursors, board.room);
  }

  /** Left (`close`) once nothing is owed to the board. */
  #leaveIfDone(board: RoomBoard): void {
    if (!board.closing || board.queue.length > 0 || board.strokes.length > 0 || this.#rooms.get(board.room) !== board) return;
    const { room } = board;
    this.#rooms.delete(room);
    this.#forget(board);
    this.#socket.send('board-leave', { room }, `bl:${room}`);
    this.#versions = without(this.#versions, room);
    this.#statuses = without(this.#statuses, room);
    this.#cursors = without(this.#cursors, room);
    this.#notices = without(this.#notices, room);
    this.#cleared = without(this.#cleared, room);
  }

  #forget(board: RoomBoard): void {
    for (const queued of board.queue) clearTimeout(queued.silence);
    for (const timer of board.cursorTimers.values()) clearTimeout(timer);
    clearTimeout(board.cursorTimer);
    clearTimeout(board.noticeTimer);
  }

  /** After the log is in on a new socket: what the picture shows of ours is stored; the rest goes again. */
  #reconcile(board: RoomBoard): void {
    const picture = board.picture!;
    const me = this.#me!.id;
    for (const stroke of [...board.strokes]) {
      const held = picture.has(me, stroke.s) ? picture.strokes.find((s) => s.authorId === me && s.stroke === stroke.s) : undefined;
      if (held) {
        // Parts are stored in order: the points held are those of the first parts.
        for (const queued of board.queue) {
          const { op } = queued;
          if (op.kind === 'segment' && op.stroke === stroke && stroke.partEnds[op.part] <= held.points.length) this.#ack(board, queued);
        }
      } else if (stroke.acked.size > 0) {
        // Stored once, gone from the picture since: undone (by another tab) or cleared.
        this.#dropStroke(board, stroke);
      }
    }
    for (const queued of [...board.queue]) {
      const { op } = queued;
      // Nothing of the stroke is held, and none of it is still on its way: nothing to undo.
      if (op.kind === 'undo' && !picture.has(me, op.s) && !board.queue.some((q) => q.op.kind === 'segment' && q.op.stroke.s === op.s)) this.#ack(board, queued);
    }
  }

  #onOwnEntry(board: RoomBoard, entry: BoardEntry): void {
    switch (entry[0]) {
      case 's':
      case 'p': {
        const s = entry[5];
        const part = entry[0] === 's' ? 0 : entry[6];
        const queued = board.queue.find((q) => q.op.kind === 'segment' && q.op.stroke.s === s && q.op.part === part);
        if (queued) this.#ack(board, queued);
        break;
      }
      case 'u': {
        const queued = board.queue.find((q) => q.op.kind === 'undo' && q.op.s === entry[5]);
        if (queued) this.#ack(board, queued);
        break;
      }
      case 'c': {
        // The entry does not carry the clear's id: ours are stored in the order we sent them
        // (one not sent yet cannot be it: that is another tab of ours).
        const queued = board.queue.find((q) => q.op.kind === 'clear' && (q.sent || q.resend));
        if (queued) this.#ack(board, queued);
        break;
      }
    }
  }

  /** `queued` is stored (or needs no more sending): off the queue; a stroke all stored stops being drawn on top. */
  #ack(board: RoomBoard, queued: QueuedOp): void {
    clearTimeout(queued.silence);
    board.queue = board.queue.filter((q) => q !== queued);
    const { op } = queued;
    if (op.kind === 'segment') {
      op.stroke.acked.add(op.part);
      this.#settleStroke(board, op.stroke);
    }
    this.#leaveIfDone(board);
  }

  /** A stroke with the pen up, all cut, and nothing of it left in the queue is in the picture (or never will be): stop drawing it on top. */
  #settleStroke(board: RoomBoard, stroke: PendingStroke): void {
    if (!stroke.ended || uncut(stroke) > 0) {
      this.#schedule();
      return;
    }
    if (board.queue.some((q) => q.op.kind === 'segment' && q.op.stroke === stroke)) return;
    this.#removeStroke(board, stroke);
  }

  #removeStroke(board: RoomBoard, stroke: PendingStroke): void {
    const at = board.strokes.indexOf(stroke);
    if (at === -1) return;
    board.strokes = board.strokes.filter((s) => s !== stroke);
    if (board.drawing === stroke) board.drawing = null;
    this.#changed(board);
    this.#leaveIfDone(board);
  }

  /** Stop sending a stroke and drawing it on top: what is not on its way is dropped; what is stays until answered. */
  #dropStroke(board: RoomBoard, stroke: PendingStroke): void {
    stroke.ended = true;
    stroke.cut = stroke.points.length;
    board.queue = board.queue.filter((q) => q.sent || q.op.kind !== 'segment' || q.op.stroke !== stroke);
    this.#removeStroke(board, stroke);
  }

  #onRefused(board: RoomBoard, queued: QueuedOp, error: ChatError, data: Record<string, unknown>): void {
    queued.sent = false;
    clearTimeout(queued.silence);
    if (error.code === 'rate_limited') {
      // Not stored: it and everything after it go again when the server allows.
      const wait = typeof data.retryAfterMs === 'number' && data.retryAfterMs >= 0 ? Math.min(data.retryAfterMs, 60_000) : 1000;
      let from = false;
      for (const q of board.queue) {
        if (q === queued) from = true;
        if (from && q.sent) {
          q.sent = false;
          q.resend = true;
        }
      }
      this.#hold(wait);
      return;
    }
    if (error.code === 'not_joined') {
      // The server does not have us on this board (any more): join again, then everything goes again.
      queued.resend = true;
      if (board.status === 'live') this.#sendJoin(board);
      return;
    }
    const { op } = queued;
    if (op.kind === 'segment') {
      this.#ack(board, queued);
      this.#dropStroke(board, op.stroke);
    } else {
      this.#ack(board, queued);
    }
    // An undo of a stroke that is gone already has nothing to say.
    if (op.kind === 'undo' && error.code === 'stroke_not_found') return;
    this.#showNotice(board, error.message);
  }

  #showNotice(board: RoomBoard, message: string): void {
    clearTimeout(board.noticeTimer);
    this.#notices = { ...this.#notices, [board.room]: message };
    board.noticeTimer = setTimeout(() => (this.#notices = without(this.#notices, board.room)), NOTICE_MS);
  }

  #addPoints(board: RoomBoard, stroke: PendingStroke, points: readonly { x: number; y: number }[]): void {
    let added = false;
    for (const point of points) {
      const x = clampInt(point.x, BOARD_WIDTH);
      const y = clampInt(point.y, BOARD_HEIGHT);
      const n = stroke.points.length;
      // The same point twice adds nothing to the line.
      if (n > 0 && stroke.points[n - 2] === x && stroke.points[n - 1] === y) continue;
      stroke.points.push(x, y);
      added = true;
    }
    if (!added) return;
    this.#changed(board);
    this.#schedule();
  }

  #enqueue(board: RoomBoard, op: Op): void {
    // The server echoes the ref in an error about the frame.
    const ref = op.kind === 'segment' ? `b:${op.stroke.s}:${op.part}` : op.kind === 'undo' ? `bu:${op.s}` : `bc:${op.id}`;
    board.queue.push({ op, ref, sent: false, resend: false });
    this.#pump();
  }

  #strokeId(): number {
    const s = this.#nextStroke;
    this.#nextStroke = s >= BOARD_LIMITS.strokeIdMax ? 1 : s + 1;
    return s;
  }

  /** One pump per animation frame while there is anything to cut. */
  #schedule(): void {
    if (this.#framePending || this.#closed) return;
    this.#framePending = true;
    this.#frame(() => {
      this.#framePending = false;
      this.#onFrame();
    });
  }

  /** Each stroke with points not cut yet gives at most one segment per frame (and per 17 ms). */
  #onFrame(): void {
    if (this.#closed) return;
    const now = Date.now();
    let more = false;
    for (const board of this.#rooms.values()) {
      // While the board is not live, points pile up; they go out in full segments once it is.
      if (board.status !== 'live') continue;
      for (const stroke of board.strokes) {
        if (uncut(stroke) === 0) continue;
        // Nothing is cut while earlier frames wait for the budget: the points go out together later.
        if (now - stroke.lastCutAt >= SEGMENT_INTERVAL_MS && board.queue.every((q) => q.sent)) {
          const points = stroke.points.slice(stroke.cut, stroke.cut + BOARD_LIMITS.pointsPerSegment * 2);
          stroke.cut += points.length;
          stroke.lastCutAt = now;
          stroke.partEnds.push(stroke.cut);
          this.#enqueue(board, { kind: 'segment', stroke, part: stroke.partEnds.length - 1, points });
        }
        if (uncut(stroke) > 0) more = true;
        else if (stroke.ended) this.#settleStroke(board, stroke);
      }
    }
    if (more) this.#schedule();
  }

  /** Send what the queues hold, in order, as the budget allows. */
  #pump(): void {
    if (this.#closed || !this.#socket.isOpen) return;
    const now = Date.now();
    if (now < this.#holdUntil) {
      // A timer can fire a millisecond early: wait out the rest.
      this.#hold(this.#holdUntil - now);
      return;
    }
    this.#tokens = Math.min(SEND_BURST, this.#tokens + ((now - this.#tokensAt) * SEND_PER_SECOND) / 1000);
    this.#tokensAt = now;
    for (const board of this.#rooms.values()) {
      if (board.status !== 'live') continue;
      for (const queued of board.queue) {
        if (queued.sent) continue;
        if (this.#tokens < 1) {
          this.#hold(((1 - this.#tokens) * 1000) / SEND_PER_SECOND);
          return;
        }
        if (!this.#transmit(board, queued)) return;
        this.#tokens -= 1;
      }
    }
  }

  #transmit(board: RoomBoard, queued: QueuedOp): boolean {
    const { op, ref } = queued;
    const room = board.room;
    let sent: boolean;
    if (op.kind === 'segment') {
      const data: BoardClientFrames['board-stroke'] = { room, s: op.stroke.s, i: op.part, p: op.points };
      if (op.part === 0) Object.assign(data, { c: op.stroke.colour, w: op.stroke.width, e: op.stroke.eraser });
      sent = this.#socket.send('board-stroke', data, ref);
    } else if (op.kind === 'undo') {
      sent = this.#socket.send('board-undo', { room, s: op.s }, ref);
    } else {
      sent = this.#socket.send('board-clear', { room, id: op.id }, ref);
    }
    if (!sent) return false;
    queued.sent = true;
    if (op.kind === 'segment') op.stroke.transmitted = true;
    if (queued.resend) queued.silence = setTimeout(() => this.#ack(board, queued), RESEND_SILENCE_MS);
    return true;
  }

  /** Nothing goes out for `ms`; then the queues go on. */
  #hold(ms: number): void {
    const until = Date.now() + Math.max(1, Math.ceil(ms));
    if (until <= this.#holdUntil && this.#holdTimer !== undefined) return;
    this.#holdUntil = Math.max(until, this.#holdUntil);
    clearTimeout(this.#holdTimer);
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = undefined;
      this.#pump();
    }, this.#holdUntil - Date.now());
  }

  #flushCursor(board: RoomBoard): void {
    if (!board.cursor || board.cursorTimer !== undefined || board.status !== 'live') return;
    const wait = board.cursorSentAt + CURSOR_INTERVAL_MS - Date.now();
    if (wait > 0) {
      board.cursorTimer = setTimeout(() => {
        board.cursorTimer = undefined;
        this.#flushCursor(board);
      }, wait);
      return;
    }
    const { x, y } = board.cursor;
    if (!this.#socket.send('board-cursor', { room: board.room, x, y }, `bk:${board.room}`)) return;
    board.cursor = null;
    board.cursorSentAt = Date.now();
  }

  #changed(board: RoomBoard): void {
    if (this.#rooms.get(board.room) !== board) return;
    this.#versions = { ...this.#versions, [board.room]: (this.#versions[board.room] ?? 0) + 1 };
    const cleared = board.picture?.cleared ?? null;
    if (cleared !== (this.#cleared[board.room] ?? null)) this.#cleared = { ...this.#cleared, [board.room]: cleared };
  }

  #setStatus(board: RoomBoard, status: BoardStatus): void {
    board.status = status;
    if (this.#statuses[board.room] !== status) this.#statuses = { ...this.#statuses, [board.room]: status };
    if (status === 'live') this.#flushCursor(board);
  }
}

/** Flat numbers of the stroke still to cut into segments (none past the last part a stroke may have). */
function uncut(stroke: PendingStroke): number {
  return stroke.partEnds.length >= BOARD_LIMITS.partsPerStroke ? 0 : stroke.points.length - stroke.cut;
}

function without<T>(record: Record<string, T>, key: string): Record<string, T> {
  if (!(key in record)) return record;
  const { [key]: _gone, ...rest } = record;
  return rest;
}

function isStrokeTuple(value: unknown): value is StrokeTuple {
  if (!Array.isArray(value) || value.length !== 7) return false;
  const [seq, authorId, stroke, colour, width, eraser, points] = value as unknown[];
  return (
    typeof seq === 'number' &&
    typeof authorId === 'number' &&
    typeof stroke === 'number' &&
    typeof colour === 'string' &&
    typeof width === 'number' &&
    (eraser === 0 || eraser === 1) &&
    Array.isArray(points) &&
    points.every((v) => typeof v === 'number')
  );
}

function isCleared(value: unknown): value is { by: string; t: number } {
  if (!value || typeof value !== 'object') return false;
  const { by, t } = value as { by?: unknown; t?: unknown };
  return typeof by === 'string' && typeof t === 'number';
}
