import { BOARD_LIMITS, type BoardEntry, type BoardPictureData } from '@rt/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChatConnection } from '../chat.svelte';
import { alice, bob } from '../testing/chat';
import { FakeServer, type FakeWebSocket, type SentFrame } from '../testing/fake-websocket';
import { CURSOR_IDLE_MS, CURSOR_INTERVAL_MS, NOTICE_MS, RESEND_SILENCE_MS, SEGMENT_INTERVAL_MS, SEND_BURST } from './board.svelte';

const ROOM_ID = 4;
const T = 1795356000000;
const pen = { colour: '#dc2626', width: 16, eraser: false };

let server: FakeServer;
let chat: ChatConnection;
/** The animation frames the board asked for, run by `frame()`. */
let frames: (() => void)[];
/** Where the fake server's log of the board stands. */
let seq: number;

beforeEach(() => {
  vi.useFakeTimers();
  server = new FakeServer();
  frames = [];
  seq = 0;
  chat = new ChatConnection({ url: 'ws://test/ws', createSocket: server.createSocket, random: () => 0.5, me: alice, frame: (callback) => frames.push(callback) });
});

afterEach(() => {
  chat.close();
  vi.useRealTimers();
});

const board = () => chat.board;

/** One animation frame, `ms` after the last one. */
function frame(ms = SEGMENT_INTERVAL_MS): void {
  vi.advanceTimersByTime(ms);
  for (const callback of frames.splice(0)) callback();
}

/** Open the current socket and answer the board's join with the picture, then `board-joined`. */
function online(picture: Partial<BoardPictureData> = {}): FakeWebSocket {
  const socket = server.current;
  socket.open();
  answerJoin(socket, picture);
  return socket;
}

function answerJoin(socket: FakeWebSocket, picture: Partial<BoardPictureData> = {}, replay: () => void = () => {}): void {
  seq = picture.seq ?? seq;
  socket.receive('board-picture', { room: 'art', id: ROOM_ID, seq, strokes: [], cleared: null, ...picture });
  replay();
  socket.receive('board-joined', { room: 'art', seq });
}

function entry(socket: FakeWebSocket, tuple: BoardEntry): void {
  socket.receiveRaw(JSON.stringify(tuple));
}

/** The log stores a segment we sent and sends its entry back (the ack). */
function store(socket: FakeWebSocket, sent: SentFrame, authorId = alice.id): void {
  const { s, i, p, c, w, e } = sent.data as { s: number; i: number; p: number[]; c?: string; w?: number; e?: boolean };
  seq += 1;
  entry(socket, i === 0 ? ['s', ROOM_ID, seq, authorId, T, s, c!, w!, e ? 1 : 0, p] : ['p', ROOM_ID, seq, authorId, T, s, i, p]);
}

const strokes = (socket: FakeWebSocket) => socket.frames('board-stroke');

/** Reconnect: the socket drops and the next one opens once the backoff has passed. */
function reconnect(): FakeWebSocket {
  server.current.drop(1006);
  vi.advanceTimersByTime(10_000);
  const socket = server.current;
  socket.open();
  return socket;
}

/** Draw a stroke of 201 points, sent in two frames: part 0 (128 points) and part 1; returns them. */
function drawTwoParts(socket: FakeWebSocket): SentFrame[] {
  board().begin('art', { x: 0, y: 100 }, pen);
  board().extend('art', line(1, 200));
  frame();
  frame();
  board().end('art');
  const sent = strokes(socket);
  expect(sent.map((f) => f.data.i)).toEqual([0, 1]);
  return sent;
}

function line(from: number, count: number): { x: number; y: number }[] {
  return Array.from({ length: count }, (_, k) => ({ x: from + k, y: 100 }));
}

describe('RoomBoards: joining', () => {
  it('joins when the socket opens, shows the picture, replays entries and is live on board-joined', () => {
    board().open('art');
    expect(board().status('art')).toBe('offline');
    const socket = server.current;
    socket.open();
    expect(socket.frames('board-join')).toEqual([{ event: 'board-join', data: { room: 'art' }, ref: 'bj:art' }]);
    socket.receive('board-picture', { room: 'art', id: ROOM_ID, seq: 3, strokes: [[2, bob.id, 9, '#000000', 4, 0, [1, 1, 5, 5]]], cleared: { by: 'bob', t: T } });
    expect(board().status('art')).toBe('joining');
    entry(socket, ['p', ROOM_ID, 4, bob.id, T, 9, 1, [6, 6]]);
    socket.receive('board-joined', { room: 'art', seq: 4 });
    expect(board().status('art')).toBe('live');
    expect(board().picture('art')?.strokes.map((s) => s.points)).toEqual([[1, 1, 5, 5, 6, 6]]);
    expect(board().cleared('art')).toEqual({ by: 'bob', t: T });
  });

  it('re-joins after the position it holds on a new socket, and takes the entries after a board-resume', () => {
    board().open('art');
    const first = online({ seq: 5 });
    entry(first, ['c', ROOM_ID, 6, bob.id, T, 'bob']);
    const version = board().version('art');
    const socket = reconnect();
    expect(board().status('art')).toBe('joining');
    expect(socket.frames('board-join').map((f) => f.data)).toEqual([{ room: 'art', after: 6 }]);
    socket.receive('board-resume', { room: 'art', id: ROOM_ID, seq: 6 });
    entry(socket, ['s', ROOM_ID, 7, bob.id, T, 10, '#2563eb', 8, 0, [9, 9]]);
    socket.receive('board-joined', { room: 'art', seq: 7 });
    expect(board().status('art')).toBe('live');
    expect(board().picture('art')?.seq).toBe(7);
    expect(board().version('art')).toBeGreaterThan(version);
  });

  it('re-joins from where the picture stands when an entry leaves a gap, and ignores entries until the log is in', () => {
    board().open('art');
    const socket = online({ seq: 5 });
    entry(socket, ['s', ROOM_ID, 7, bob.id, T, 10, '#2563eb', 8, 0, [9, 9]]);
    entry(socket, ['p', ROOM_ID, 8, bob.id, T, 10, 1, [10, 10]]);
    expect(socket.frames('board-join').map((f) => f.data)).toEqual([{ room: 'art' }, { room: 'art', after: 5 }]);
    expect(board().status('art')).toBe('joining');
    expect(board().picture('art')?.seq).toBe(5);
    socket.receive('board-resume', { room: 'art', id: ROOM_ID, seq: 5 });
    entry(socket, ['u', ROOM_ID, 6, bob.id, T, 3]);
    entry(socket, ['s', ROOM_ID, 7, bob.id, T, 10, '#2563eb', 8, 0, [9, 9]]);
    socket.receive('board-joined', { room: 'art', seq: 7 });
    expect(board().picture('art')?.strokes).toHaveLength(1);
    expect(board().status('art')).toBe('live');
  });

  it('leaves a board closed right after drawing only once the stroke is stored, unless it is opened again', () => {
    board().open('art');
    const socket = online();
    board().begin('art', { x: 1, y: 1 }, pen);
    board().close('art');
    frame();
    const [sent] = strokes(socket);
    expect(sent).toBeDefined();
    expect(socket.frames('board-leave')).toEqual([]);
    store(socket, sent);
    expect(socket.frames('board-leave').map((f) => f.data)).toEqual([{ room: 'art' }]);

    board().open('art');
    answerJoin(socket);
    board().begin('art', { x: 2, y: 2 }, pen);
    board().close('art');
    board().open('art');
    frame();
    store(socket, strokes(socket)[1]);
    expect(socket.frames('board-leave')).toHaveLength(1);
    expect(board().status('art')).toBe('live');
  });

  it('leaves the board when the room is closed, and stops asking for a room that does not exist', () => {
    board().open('art');
    const socket = online();
    board().close('art');
    expect(socket.frames('board-leave').map((f) => f.data)).toEqual([{ room: 'art' }]);
    expect(board().status('art')).toBeNull();
    board().open('nowhere');
    socket.receive('error', { code: 'room_not_found', message: 'No such room', ref: 'bj:nowhere' });
    expect(board().status('nowhere')).toBeNull();
    const next = reconnect();
    expect(next.frames('board-join')).toEqual([]);
  });
});

describe('RoomBoards: our strokes', () => {
  it('sends a stroke as segments, draws it on top until its own entry comes back, then only from the picture', () => {
    board().open('art');
    const socket = online();
    expect(board().begin('art', { x: 10.4, y: 20.6 }, pen)).toBe(true);
    board().extend('art', [{ x: 11, y: 21 }, { x: 11, y: 21 }, { x: 12, y: 22 }]);
    expect(board().pending('art').map((s) => s.points)).toEqual([[10, 21, 11, 21, 12, 22]]);
    frame();
    board().end('art');
    const [sent] = strokes(socket);
    expect(sent).toMatchObject({ data: { room: 'art', i: 0, p: [10, 21, 11, 21, 12, 22], c: '#dc2626', w: 16, e: false } });
    expect(sent.ref).toBe(`b:${String(sent.data.s)}:0`);
    expect(board().pending('art')).toHaveLength(1);
    // Another user's stroke with the same id is not ours.
    store(socket, sent, bob.id);
    expect(board().pending('art')).toHaveLength(1);
    store(socket, sent);
    expect(board().pending('art')).toEqual([]);
    expect(board().picture('art')?.strokes.map((s) => [s.authorId, s.points])).toEqual([
      [bob.id, [10, 21, 11, 21, 12, 22]],
      [alice.id, [10, 21, 11, 21, 12, 22]],
    ]);
  });

  it('cannot draw before the picture is in', () => {
    board().open('art');
    expect(board().begin('art', { x: 1, y: 1 }, pen)).toBe(false);
    expect(board().begin('elsewhere', { x: 1, y: 1 }, pen)).toBe(false);
  });

  it('sends at most one segment per stroke per frame and per 16 ms, at most 128 points each, accumulating between', () => {
    board().open('art');
    const socket = online();
    board().begin('art', { x: 0, y: 100 }, pen);
    board().extend('art', line(1, 299));
    frame();
    expect(strokes(socket).map((f) => (f.data.p as number[]).length / 2)).toEqual([128]);
    // A frame too soon after (a 120 Hz screen) sends nothing.
    frame(SEGMENT_INTERVAL_MS / 2);
    expect(strokes(socket)).toHaveLength(1);
    board().extend('art', line(300, 5));
    frame(SEGMENT_INTERVAL_MS / 2);
    frame();
    board().end('art');
    frame();
    frame();
    const sent = strokes(socket);
    expect(sent.map((f) => [f.data.i, (f.data.p as number[]).length / 2])).toEqual([
      [0, 128],
      [1, 128],
      [2, 49],
    ]);
    expect(sent.slice(1).every((f) => f.data.c === undefined && f.data.w === undefined && f.data.e === undefined)).toBe(true);
    expect(sent.flatMap((f) => f.data.p as number[])).toEqual(line(0, 305).flatMap(({ x, y }) => [x, y]));
    // Nothing left: no more frames asked for.
    frame();
    expect(strokes(socket)).toHaveLength(3);
  });

  it('stays inside the server rate (120 at once, then 60 a second) with a margin, also when much waits', () => {
    board().open('art');
    online();
    // Offline drawing of many strokes that all go out once the board is live again.
    server.current.drop(1006);
    for (let k = 0; k < 200; k++) {
      board().begin('art', { x: k, y: 1 }, pen);
      board().end('art');
    }
    const next = reconnect();
    answerJoin(next);
    // The server's bucket, fed with what we sent each frame: it must never run dry.
    let tokens: number = BOARD_LIMITS.segmentBurst;
    let sent = 0;
    const start = Date.now();
    let at = start;
    for (let n = 0; n < 300 && sent < 200; n++) {
      frame();
      tokens = Math.min(BOARD_LIMITS.segmentBurst, tokens + ((Date.now() - at) * BOARD_LIMITS.segmentsPerSecond) / 1000);
      at = Date.now();
      tokens -= strokes(next).length - sent;
      sent = strokes(next).length;
      expect(tokens).toBeGreaterThanOrEqual(0);
      if (n === 0) expect(sent).toBe(SEND_BURST);
    }
    expect(sent).toBe(200);
    // ...and not far below it: the 100 past our burst (100) took about 100 / 54 s.
    expect(Date.now() - start).toBeGreaterThan(1800);
    expect(Date.now() - start).toBeLessThan(2200);
  });

  it('sends every segment not stored again after a reconnect, in order, once the log is in', () => {
    board().open('art');
    const first = online();
    const [part0, part1] = drawTwoParts(first);
    store(first, part0);
    const next = reconnect();
    expect(strokes(next)).toEqual([]);
    // The picture holds part 0 (stored, acked); part 1 was lost with the socket.
    answerJoin(next, { strokes: [[1, alice.id, part0.data.s as number, '#dc2626', 16, 0, part0.data.p as number[]]] });
    expect(strokes(next)).toEqual([part1]);
    store(next, part1);
    expect(board().pending('art')).toEqual([]);
  });

  it('does not send again what the re-join brought back, from the replay or the picture', () => {
    board().open('art');
    const first = online({ seq: 2 });
    const [part0, part1] = drawTwoParts(first);
    // The server stored both, but the socket died before their entries came.
    const next = reconnect();
    next.receive('board-resume', { room: 'art', id: ROOM_ID, seq: 2 });
    store(next, part0);
    next.receive('board-joined', { room: 'art', seq });
    expect(strokes(next)).toEqual([part1]);

    // And a whole picture that holds the stroke's points up to some part acks those parts.
    const third = reconnect();
    const picture = [[1, alice.id, part0.data.s, '#dc2626', 16, 0, [...(part0.data.p as number[]), ...(part1.data.p as number[])]]] as BoardPictureData['strokes'];
    answerJoin(third, { seq: 9, strokes: picture });
    expect(strokes(third)).toEqual([]);
    expect(board().pending('art')).toEqual([]);
  });

  it('forgets a resent segment the server answers with silence: stored before, no longer in the picture', () => {
    board().open('art');
    const first = online();
    board().begin('art', { x: 5, y: 5 }, pen);
    board().end('art');
    frame();
    expect(strokes(first)).toHaveLength(1);
    const next = reconnect();
    // Someone cleared the board, and the log is too old: a whole picture without the stroke.
    answerJoin(next, { seq: 10, cleared: { by: 'bob', t: T } });
    expect(strokes(next)).toHaveLength(1);
    vi.advanceTimersByTime(RESEND_SILENCE_MS - 1);
    expect(board().pending('art')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(board().pending('art')).toEqual([]);
  });

  it('drops a refused stroke with the parts not sent yet, and says why for a few seconds', () => {
    board().open('art');
    const socket = online();
    board().begin('art', { x: 0, y: 100 }, pen);
    board().extend('art', line(1, 200));
    frame();
    const [part0] = strokes(socket);
    socket.receive('error', { code: 'board_full', message: 'The board is full: clear it first', ref: part0.ref });
    frame();
    frame();
    board().end('art');
    expect(strokes(socket)).toHaveLength(1);
    expect(board().pending('art')).toEqual([]);
    expect(board().notice('art')).toBe('The board is full: clear it first');
    expect(chat.socket.lastError).toBeNull();
    vi.advanceTimersByTime(NOTICE_MS);
    expect(board().notice('art')).toBeNull();
    // The next stroke goes out as usual.
    board().begin('art', { x: 1, y: 1 }, pen);
    board().end('art');
    frame();
    expect(strokes(socket)).toHaveLength(2);
  });

  it('sends a rate-limited segment again when the server allows, and what came after it', () => {
    board().open('art');
    const socket = online();
    const [part0, part1] = drawTwoParts(socket);
    socket.receive('error', { code: 'rate_limited', message: 'Slow down', ref: part0.ref, retryAfterMs: 500 });
    vi.advanceTimersByTime(499);
    expect(strokes(socket)).toHaveLength(2);
    // The timer fires a millisecond early by the wall clock (Node does): it waits out the rest.
    vi.setSystemTime(Date.now() - 1);
    vi.advanceTimersByTime(1);
    expect(strokes(socket)).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(strokes(socket).slice(2)).toEqual([part0, part1]);
    expect(board().notice('art')).toBeNull();
  });
});

describe('RoomBoards: undo and clear', () => {
  const picture = (): BoardPictureData['strokes'] => [
    [1, alice.id, 5, '#000000', 4, 0, [1, 1]],
    [2, alice.id, 6, '#000000', 4, 0, [2, 2]],
    [3, bob.id, 9, '#000000', 4, 0, [3, 3]],
  ];

  it('undoes our own last stroke of the picture, then the one before it, never another user’s', () => {
    board().open('art');
    const socket = online({ seq: 3, strokes: picture() });
    expect(board().undo('art')).toBe(true);
    expect(board().undo('art')).toBe(true);
    expect(board().undo('art')).toBe(false);
    expect(socket.frames('board-undo')).toEqual([
      { event: 'board-undo', data: { room: 'art', s: 6 }, ref: 'bu:6' },
      { event: 'board-undo', data: { room: 'art', s: 5 }, ref: 'bu:5' },
    ]);
    seq = 3;
    entry(socket, ['u', ROOM_ID, 4, alice.id, T, 6]);
    expect(board().picture('art')?.strokes.map((s) => s.stroke)).toEqual([5, 9]);
    // The undo of 6 is done; after a reconnect only the one of 5 goes again.
    const next = reconnect();
    answerJoin(next, { seq: 4, strokes: picture().filter((s) => s[2] !== 6) });
    expect(next.frames('board-undo').map((f) => f.data.s)).toEqual([5]);
  });

  it('undoes a stroke still on its way: dropped here at once if none of it went out, else undone on the server after it', () => {
    board().open('art');
    const socket = online({ seq: 3, strokes: picture() });
    board().begin('art', { x: 7, y: 7 }, pen);
    board().end('art');
    expect(board().undo('art')).toBe(true);
    frame();
    expect(strokes(socket)).toEqual([]);
    expect(socket.frames('board-undo')).toEqual([]);
    expect(board().pending('art')).toEqual([]);

    board().begin('art', { x: 8, y: 8 }, pen);
    board().end('art');
    frame();
    const [sent] = strokes(socket);
    board().undo('art');
    expect(board().pending('art')).toEqual([]);
    expect(socket.frames('board-undo').map((f) => f.data.s)).toEqual([sent.data.s]);
  });

  it('says nothing when the stroke to undo is gone already', () => {
    board().open('art');
    const socket = online({ seq: 3, strokes: picture() });
    board().undo('art');
    socket.receive('error', { code: 'stroke_not_found', message: 'No such stroke', ref: 'bu:6' });
    expect(board().notice('art')).toBeNull();
    expect(chat.socket.lastError).toBeNull();
  });

  it('clears the board: the picture empties when the clear comes back, with who did it', () => {
    board().open('art');
    const socket = online({ seq: 3, strokes: picture() });
    expect(board().clear('art')).toBe(true);
    const [sent] = socket.frames('board-clear');
    expect(sent).toMatchObject({ data: { room: 'art' } });
    expect(sent.ref).toBe(`bc:${String(sent.data.id)}`);
    entry(socket, ['c', ROOM_ID, 4, alice.id, T + 5, 'alice']);
    expect(board().picture('art')?.strokes).toEqual([]);
    expect(board().cleared('art')).toEqual({ by: 'alice', t: T + 5 });
    const next = reconnect();
    answerJoin(next, { seq: 4 });
    expect(next.frames('board-clear')).toEqual([]);
  });

  it('sends a clear not answered before the socket went again on the next one', () => {
    board().open('art');
    const socket = online({ seq: 3, strokes: picture() });
    board().clear('art');
    const [sent] = socket.frames('board-clear');
    const next = reconnect();
    answerJoin(next, { seq: 3, strokes: picture() });
    expect(next.frames('board-clear')).toEqual([sent]);
  });
});

describe('RoomBoards: cursors', () => {
  it('sends our pointer at most 20 times a second, the latest position winning', () => {
    board().open('art');
    const socket = online();
    board().cursor('art', 10, 10);
    board().cursor('art', 20, 20);
    board().cursor('art', 30.7, 9000);
    expect(socket.frames('board-cursor').map((f) => f.data)).toEqual([{ room: 'art', x: 10, y: 10 }]);
    vi.advanceTimersByTime(CURSOR_INTERVAL_MS - 1);
    expect(socket.frames('board-cursor')).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(socket.frames('board-cursor').map((f) => f.data)).toEqual([
      { room: 'art', x: 10, y: 10 },
      { room: 'art', x: 31, y: 2500 },
    ]);
    vi.advanceTimersByTime(CURSOR_INTERVAL_MS * 3);
    expect(socket.frames('board-cursor')).toHaveLength(2);
    board().cursor('art', -1, 0);
    expect(socket.frames('board-cursor').at(-1)?.data).toEqual({ room: 'art', x: -1, y: -1 });
  });

  it('shows the others’ pointers, hides one idle for 5 s or gone off the board, never our own', () => {
    board().open('art');
    const socket = online();
    socket.receive('board-cursor', { room: 'art', id: bob.id, name: 'bob', x: 100, y: 200 });
    socket.receive('board-cursor', { room: 'art', id: alice.id, name: 'alice', x: 1, y: 1 });
    socket.receive('board-cursor', { room: 'art', id: 3, name: 'carol', x: 5, y: 5 });
    expect(board().cursors('art')).toEqual([
      { id: bob.id, name: 'bob', x: 100, y: 200 },
      { id: 3, name: 'carol', x: 5, y: 5 },
    ]);
    socket.receive('board-cursor', { room: 'art', id: 3, name: 'carol', x: -1, y: 0 });
    vi.advanceTimersByTime(CURSOR_IDLE_MS - 1000);
    socket.receive('board-cursor', { room: 'art', id: bob.id, name: 'bob', x: 110, y: 200 });
    vi.advanceTimersByTime(CURSOR_IDLE_MS - 1);
    expect(board().cursors('art')).toEqual([{ id: bob.id, name: 'bob', x: 110, y: 200 }]);
    vi.advanceTimersByTime(1);
    expect(board().cursors('art')).toEqual([]);
  });
});
