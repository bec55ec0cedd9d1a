// The room boards (issue 19) over real sockets: segments in order with positions, the drawer's
// own entry as its ack, late join with the exact picture, resume after a drop mid-stroke (reader
// and drawer), undo and clear, compaction, a restart, limits and hostile frames.
import { BoardPicture, type BoardEntry, type BoardPictureData } from '@rt/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson, SseClient, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let alice: SignedIn;
let bob: SignedIn;
const sockets: WsClient[] = [];

beforeAll(async () => {
  server = await startServer({ boardRateBurst: 100_000, boardRatePerSecond: 100_000 });
  alice = await signUp(server.url, 'alice');
  bob = await signUp(server.url, 'bob');
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.close();
  server.cleanup();
});

async function connect(who: SignedIn, on = server) {
  const c = await WsClient.connect(on.wsUrl, who.cookie);
  sockets.push(c);
  return c;
}
let rooms = 0;
async function newRoom(on = server): Promise<string> {
  const name = `board${++rooms}`;
  expect((await postJson(on.url, '/api/rooms', { name }, { cookie: alice.cookie })).status).toBe(201);
  return name;
}

/** Board frames of one client, folded as the web app folds them. */
const entries = (c: WsClient, from = 0): BoardEntry[] => c.frames.slice(from).filter((f) => f.event === 'board-entry').map((f) => f.data.entry as BoardEntry);

/** Joins the board and folds what comes: the picture (or nothing on a resume), then entries. */
async function joinBoard(c: WsClient, room: string, after?: number): Promise<{ first: { event: string; data: Record<string, unknown> }; joined: number; from: number }> {
  const from = c.frames.length;
  c.send('board-join', after === undefined ? { room } : { room, after });
  const joined = (await c.waitFor('board-joined', (d) => d.room === room, 5000, from)).seq as number;
  const first = c.frames.slice(from).find((f) => f.event === 'board-picture' || f.event === 'board-resume')!;
  return { first, joined, from };
}

/** The picture a client holds: its last picture frame folded with every entry after it. */
function fold(c: WsClient): BoardPicture {
  let start = 0;
  let picture = new BoardPicture();
  c.frames.forEach((f, i) => {
    if (f.event === 'board-picture') {
      picture = new BoardPicture(f.data as unknown as BoardPictureData);
      start = i;
    }
  });
  for (const entry of entries(c, start)) expect(picture.apply(entry)).not.toBe('gap');
  return picture;
}
const pixels = (p: BoardPicture) => p.toData('x', 0).strokes;

let strokeIds = 0;
/** A stroke of `parts` segments of three points each, sent back to back. */
function draw(c: WsClient, room: string, parts: number, s = ++strokeIds, colour = '#112233'): number {
  for (let i = 0; i < parts; i++) {
    const p = [10 * i, 20 * i, 10 * i + 5, 20 * i + 5, 10 * i + 7, 20 * i + 9];
    c.send('board-stroke', i === 0 ? { room, s, i, p, c: colour, w: 8 } : { room, s, i, p }, { ref: `b:${s}:${i}` });
  }
  return s;
}
const errors = (c: WsClient, from = 0) => c.frames.slice(from).filter((f) => f.event === 'error').map((f) => f.data);

describe('board log', () => {
  it('gives every reader the segments in order, with gapless positions, and the drawer its own entries as acks', async () => {
    const room = await newRoom();
    const a = await connect(alice);
    const b = await connect(bob);
    const ja = await joinBoard(a, room);
    expect(ja.first.data).toMatchObject({ room, seq: 0, strokes: [], cleared: null });
    expect(ja.joined).toBe(0);
    await joinBoard(b, room);
    const s = draw(a, room, 5);
    await eventually(() => entries(b).length === 5 || undefined);
    await eventually(() => entries(a).length === 5 || undefined);
    expect(entries(b).map((e) => e[2])).toEqual([1, 2, 3, 4, 5]);
    expect(entries(b).map((e) => [e[0], e[3], e[5]])).toEqual([['s', alice.user.id, s], ...[1, 2, 3, 4].map(() => ['p', alice.user.id, s])]);
    expect(entries(b).map((e) => (e[0] === 'p' ? e[6] : 0))).toEqual([0, 1, 2, 3, 4]);
    // The same bytes to the drawer and the reader.
    expect(a.raw.filter((r) => r.startsWith('["'))).toEqual(b.raw.filter((r) => r.startsWith('["')));
    expect(fold(b).strokes[0]).toMatchObject({ authorId: alice.user.id, stroke: s, colour: '#112233', width: 8, eraser: 0 });
    expect(fold(b).points).toBe(15);
    expect(errors(a)).toEqual([]);
  });

  it('gives a late joiner the exact picture, then live segments with no gap and no duplicate', async () => {
    const room = await newRoom();
    const a = await connect(alice);
    const b = await connect(bob);
    await joinBoard(a, room);
    await joinBoard(b, room);
    draw(a, room, 3);
    const s2 = draw(b, room, 2, ++strokeIds, '#ff0000');
    await eventually(() => entries(a).length === 5 || undefined);
    const late = await connect(bob);
    const jl = await joinBoard(late, room);
    expect(jl.first.event).toBe('board-picture');
    expect(jl.first.data.seq).toBe(5);
    expect(jl.joined).toBe(5);
    expect(pixels(fold(late))).toEqual(pixels(fold(a)));
    // A stroke in progress at the join continues on the late joiner's picture.
    b.send('board-stroke', { room, s: s2, i: 2, p: [1, 1] });
    await eventually(() => entries(late).length === 1 || undefined);
    expect(entries(late)[0]!.slice(0, 3)).toEqual(['p', expect.any(Number), 6]);
    expect(pixels(fold(late))).toEqual(pixels(fold(a)));
  });

  it('resumes a reader dropped mid-stroke from its position, and a drawer that resends what was stored gets it once', async () => {
    const room = await newRoom();
    const a = await connect(alice);
    const b = await connect(bob);
    await joinBoard(a, room);
    await joinBoard(b, room);
    const s = draw(a, room, 2);
    await eventually(() => entries(b).length === 2 || undefined);
    const position = fold(b).seq;
    b.socket.terminate();
    // Drawn while the reader is away.
    for (let i = 2; i < 6; i++) a.send('board-stroke', { room, s, i, p: [i, i] });
    await eventually(() => entries(a).length === 6 || undefined);
    // The drawer is cut too, and resends its last two segments after rejoining: stored once.
    a.socket.terminate();
    const a2 = await connect(alice);
    const ra = await joinBoard(a2, room, 4);
    expect(ra.first).toEqual({ event: 'board-resume', data: { room, id: expect.any(Number), seq: 4 } });
    expect(entries(a2).map((e) => e[2])).toEqual([5, 6]);
    for (let i = 4; i < 7; i++) a2.send('board-stroke', { room, s, i, p: [i, i] }, { ref: `b:${s}:${i}` });
    await eventually(() => entries(a2).length === 3 || undefined);
    const b2 = await connect(bob);
    const rb = await joinBoard(b2, room, position);
    expect(rb.first.event).toBe('board-resume');
    expect(entries(b2).map((e) => e[2])).toEqual([3, 4, 5, 6, 7]);
    expect(errors(a2)).toEqual([]);
    // The reader's old picture plus what it resumed equals the drawer's.
    const resumed = fold(b);
    for (const entry of entries(b2)) expect(resumed.apply(entry)).toBe('applied');
    const drawer = fold(a);
    for (const entry of entries(a2)) expect(drawer.apply(entry)).not.toBe('gap');
    expect(drawer.seq).toBe(7);
    expect(pixels(resumed)).toEqual(pixels(drawer));
    expect(resumed.points).toBe(3 + 3 + 5);
  });

  it("undoes only the author's own stroke, clears for everyone with the clearer's name, and refuses strokes the board no longer holds", async () => {
    const room = await newRoom();
    const a = await connect(alice);
    const b = await connect(bob);
    await joinBoard(a, room);
    await joinBoard(b, room);
    const mine = draw(a, room, 2);
    const theirs = draw(b, room, 1);
    await eventually(() => entries(a).length === 3 || undefined);
    // Bob cannot undo alice's stroke: he has no stroke with that id.
    const before = b.frames.length;
    b.send('board-undo', { room, s: mine }, { ref: 'undo-1' });
    expect(await b.waitFor('error', (d) => d.ref === 'undo-1', 5000, before)).toMatchObject({ code: 'stroke_not_found' });
    a.send('board-undo', { room, s: mine });
    await eventually(() => entries(b).length === 4 || undefined);
    expect(entries(b)[3]).toEqual(['u', expect.any(Number), 4, alice.user.id, expect.any(Number), mine]);
    expect(fold(b).strokes.map((s) => s.stroke)).toEqual([theirs]);
    // Undo again: stored already, nothing new. A segment of the undone stroke: refused.
    const f = a.frames.length;
    a.send('board-undo', { room, s: mine });
    a.send('board-stroke', { room, s: mine, i: 2, p: [1, 1] }, { ref: 'late-part' });
    expect(await a.waitFor('error', (d) => d.ref === 'late-part', 5000, f)).toMatchObject({ code: 'stroke_not_found' });
    b.send('board-clear', { room, id: 1 });
    await eventually(() => entries(a).length === 5 || undefined);
    expect(entries(a)[4]).toEqual(['c', expect.any(Number), 5, bob.user.id, expect.any(Number), 'bob']);
    expect(fold(a).strokes).toEqual([]);
    expect(fold(a).cleared).toEqual({ by: 'bob', t: expect.any(Number) });
    // After the clear, the strokes before it cannot be continued or undone.
    const g = b.frames.length;
    b.send('board-undo', { room, s: theirs }, { ref: 'undo-2' });
    b.send('board-stroke', { room, s: theirs, i: 1, p: [1, 1] }, { ref: 'part-2' });
    expect(await b.waitFor('error', (d) => d.ref === 'part-2', 5000, g)).toMatchObject({ code: 'stroke_not_found' });
    expect(errors(b, g).map((e) => e.ref)).toEqual(['undo-2', 'part-2']);
    const late = await connect(alice);
    const jl = await joinBoard(late, room);
    expect(jl.first.data).toMatchObject({ seq: 5, strokes: [], cleared: { by: 'bob' } });
    expect(entries(a).length).toBe(5);
  });

  it('shows cursors to the others, not to their owner, and stores nothing for them', async () => {
    const room = await newRoom();
    const a = await connect(alice);
    const b = await connect(bob);
    await joinBoard(a, room);
    await joinBoard(b, room);
    a.send('board-cursor', { room, x: 100, y: 200 });
    expect(await b.waitFor('board-cursor')).toEqual({ room, id: alice.user.id, name: 'alice', x: 100, y: 200 });
    a.send('board-cursor', { room, x: -1, y: -1 });
    await b.waitFor('board-cursor', (d) => d.x === -1);
    expect(a.of('board-cursor')).toEqual([]);
    const late = await connect(bob);
    expect((await joinBoard(late, room)).joined).toBe(0);
  });

  it('answers every hostile or malformed board frame with a clear error and stores nothing', async () => {
    const room = await newRoom();
    const a = await connect(alice);
    // Not joined yet: refused.
    a.send('board-stroke', { room, s: 1, i: 0, p: [1, 1], c: '#000000', w: 2 }, { ref: 'early' });
    expect(await a.waitFor('error', (d) => d.ref === 'early')).toMatchObject({ code: 'not_joined' });
    a.send('board-join', { room: 'no-such-room' }, { ref: 'nowhere' });
    expect(await a.waitFor('error', (d) => d.ref === 'nowhere')).toMatchObject({ code: 'room_not_found' });
    await joinBoard(a, room);
    const start = { room, s: 7, i: 0, c: '#000000', w: 2 };
    const hostile: [string, Record<string, unknown>][] = [
      ['x beyond the board', { ...start, p: [4001, 0] }],
      ['y below the board', { ...start, p: [0, -1] }],
      ['fractional', { ...start, p: [1.5, 2] }],
      ['odd count', { ...start, p: [1, 2, 3] }],
      ['empty', { ...start, p: [] }],
      ['too many points', { ...start, p: Array.from({ length: 258 }, () => 1) }],
      ['strings', { ...start, p: ['1', '2'] }],
      ['nested', { ...start, p: [[1, 2]] }],
      ['huge number', { ...start, p: [1e308, 1] }],
      ['no colour on part 0', { room, s: 7, i: 0, w: 2, p: [1, 1] }],
      ['colour upper case', { ...start, c: '#FFFFFF', p: [1, 1] }],
      ['colour as css', { ...start, c: 'red', p: [1, 1] }],
      ['width 0', { ...start, w: 0, p: [1, 1] }],
      ['width 201', { ...start, w: 201, p: [1, 1] }],
      ['eraser not boolean', { ...start, e: 1, p: [1, 1] }],
      ['style on a later part', { room, s: 7, i: 1, c: '#000000', p: [1, 1] }],
      ['stroke 0', { ...start, s: 0, p: [1, 1] }],
      ['stroke beyond 31 bits', { ...start, s: 2 ** 31, p: [1, 1] }],
      ['part 4096', { room, s: 7, i: 4096, p: [1, 1] }],
      ['part negative', { room, s: 7, i: -1, p: [1, 1] }],
      ['points not an array', { ...start, p: { 0: 1, 1: 1 } }],
      ['bad room', { ...start, room: '../etc', p: [1, 1] }],
    ];
    for (const [why, data] of hostile) {
      const from = a.frames.length;
      a.send('board-stroke', data, { ref: why });
      const error = await a.waitFor('error', (d) => d.ref === why, 5000, from);
      expect(error.code, why).toBe('invalid');
      expect(String(error.message).length, why).toBeGreaterThan(5);
    }
    for (const [event, data] of [
      ['board-undo', { room, s: 'x' }],
      ['board-clear', { room }],
      ['board-cursor', { room, x: 5000, y: 1 }],
      ['board-cursor', { room, x: Number.NaN, y: 1 }],
      ['board-join', { room, after: -3 }],
    ] as const) {
      const from = a.frames.length;
      a.send(event, data, { ref: event });
      expect((await a.waitFor('error', (d) => d.ref === event, 5000, from)).code).toBe('invalid');
    }
    // A segment of a stroke that never started, and one that skips a part.
    a.send('board-stroke', { room, s: 99, i: 1, p: [1, 1] }, { ref: 'orphan' });
    expect(await a.waitFor('error', (d) => d.ref === 'orphan')).toMatchObject({ code: 'stroke_not_found' });
    a.send('board-stroke', { ...start, p: [1, 1] });
    a.send('board-stroke', { room, s: 7, i: 2, p: [1, 1] }, { ref: 'skipped' });
    expect(await a.waitFor('error', (d) => d.ref === 'skipped')).toMatchObject({ code: 'stroke_not_found' });
    // Nothing but the one good start was stored.
    const late = await connect(bob);
    expect((await joinBoard(late, room)).joined).toBe(1);
    expect(a.socket.readyState).toBe(a.socket.OPEN);
  });
});

describe('board over SSE', () => {
  const roomId = async (room: string, c: WsClient) => ((await joinBoard(c, room)).first.data.id as number);

  it('serves board:ID to signed-in readers only, for rooms that exist', async () => {
    const room = await newRoom();
    const id = await roomId(room, await connect(alice));
    expect((await fetch(`${server.url}/api/events?topics=board:${id}`)).status).toBe(401);
    for (const [topics, status] of [[`board:999999`, 404], ['board:0', 400], ['board:x', 400], [`board:${id}x`, 400]] as const) {
      const res = await fetch(`${server.url}/api/events?topics=${topics}`, { headers: { cookie: bob.cookie } });
      expect(res.status, topics).toBe(status);
      await res.body?.cancel();
    }
  });

  it('gives a viewer the picture, then every entry with its position, and resumes from Last-Event-ID', async () => {
    const room = await newRoom();
    const a = await connect(alice);
    const id = await roomId(room, a);
    const s = draw(a, room, 3);
    await eventually(() => entries(a).length === 3 || undefined);
    const viewer = new SseClient(`${server.url}/api/events?topics=board:${id}`, bob.cookie, ['picture', 'board']);
    try {
      const [picture] = await viewer.waitForCount(1);
      expect(picture).toMatchObject({ type: 'picture', id: `board:${id}=3`, data: { topic: `board:${id}`, room, id, seq: 3 } });
      const watched = new BoardPicture(picture!.data as unknown as BoardPictureData);
      expect(pixels(watched)).toEqual(pixels(fold(a)));
      for (let i = 3; i < 6; i++) a.send('board-stroke', { room, s, i, p: [i, i] });
      a.send('board-undo', { room, s });
      await viewer.waitForCount(5);
      expect(viewer.events.slice(1).map((e) => [e.type, e.id])).toEqual([4, 5, 6, 7].map((n) => ['board', `board:${id}=${n}`]));
      // The same bytes as the WebSocket's frames.
      expect(viewer.raw.slice(1)).toEqual(a.raw.filter((r) => r.startsWith('["')).slice(3));
      for (const e of viewer.events.slice(1)) expect(watched.apply(e.data.entry as BoardEntry)).toBe('applied');
      expect(pixels(watched)).toEqual(pixels(fold(a)));
    } finally {
      viewer.close();
    }
    // Resuming from a position replays the entries after it, no picture.
    const resumed = new SseClient(`${server.url}/api/events?topics=board:${id}&lastEventId=${encodeURIComponent(`board:${id}=5`)}`, bob.cookie, ['picture', 'board']);
    try {
      await resumed.waitForCount(2);
      expect(resumed.events.map((e) => [e.type, e.id])).toEqual([['board', `board:${id}=6`], ['board', `board:${id}=7`]]);
    } finally {
      resumed.close();
    }
    // The polling fallback answers the same, as JSON.
    const poll = await fetch(`${server.url}/api/events/poll?topics=board:${id}`, { headers: { cookie: bob.cookie } });
    const answer = (await poll.json()) as { events: { event: string; id: string; data: BoardPictureData }[]; lastEventId: string };
    expect(answer.events.map((e) => e.event)).toEqual(['picture']);
    expect(answer.lastEventId).toBe(`board:${id}=7`);
    expect(answer.events[0]!.data.strokes).toEqual([]);
  });
});

describe('board limits', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ boardRateBurst: 5, boardRatePerSecond: 1, boardMaxPoints: 200, boardCursorsPerSecond: 3 });
  });
  afterAll(async () => {
    await limited.close();
    limited.cleanup();
  });

  it('refuses segments over the rate with retryAfterMs, then a board over its points with board_full; nothing refused is stored', async () => {
    const drawer = await signUp(limited.url, 'drawer');
    expect((await postJson(limited.url, '/api/rooms', { name: 'limits' }, { cookie: drawer.cookie })).status).toBe(201);
    const a = await connect(drawer, limited);
    await joinBoard(a, 'limits');
    for (let i = 0; i < 8; i++) a.send('board-stroke', i === 0 ? { room: 'limits', s: 1, i, p: [1, 1], c: '#000000', w: 3 } : { room: 'limits', s: 1, i, p: [1, 1] }, { ref: `r${i}` });
    const refused = await a.waitFor('error', (d) => d.ref === 'r5');
    expect(refused).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    await eventually(() => entries(a).length === 5 || undefined);
    expect(errors(a).map((e) => e.ref)).toEqual(['r5', 'r6', 'r7']);
    // Over the points cap (200 points since the last clear; 5 stored): board_full.
    await new Promise((r) => setTimeout(r, 1100));
    a.send('board-stroke', { room: 'limits', s: 2, i: 0, p: Array.from({ length: 256 }, () => 3), c: '#000000', w: 3 }, { ref: 'big-1' });
    await eventually(() => entries(a).length === 6 || undefined);
    await new Promise((r) => setTimeout(r, 1100));
    a.send('board-stroke', { room: 'limits', s: 3, i: 0, p: Array.from({ length: 200 }, () => 3), c: '#000000', w: 3 }, { ref: 'big-2' });
    expect(await a.waitFor('error', (d) => d.ref === 'big-2')).toMatchObject({ code: 'board_full' });
    // A clear makes room again.
    await new Promise((r) => setTimeout(r, 1100));
    a.send('board-clear', { room: 'limits', id: 1 });
    await eventually(() => entries(a).length === 7 || undefined);
    await new Promise((r) => setTimeout(r, 1100));
    a.send('board-stroke', { room: 'limits', s: 3, i: 0, p: Array.from({ length: 200 }, () => 3), c: '#000000', w: 3 }, { ref: 'big-3' });
    await eventually(() => entries(a).length === 8 || undefined);
  });

  it('drops cursor updates over the rate without an answer', async () => {
    const one = await signUp(limited.url, 'pointer');
    const two = await signUp(limited.url, 'watcher');
    expect((await postJson(limited.url, '/api/rooms', { name: 'cursors' }, { cookie: one.cookie })).status).toBe(201);
    const a = await connect(one, limited);
    const b = await connect(two, limited);
    await joinBoard(a, 'cursors');
    await joinBoard(b, 'cursors');
    for (let x = 0; x < 20; x++) a.send('board-cursor', { room: 'cursors', x, y: 1 });
    await eventually(() => b.of('board-cursor').length >= 3 || undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(b.of('board-cursor').length).toBeLessThanOrEqual(4);
    expect(errors(a)).toEqual([]);
  });
});

describe('board compaction and restart', () => {
  it('compacts the log into a snapshot past BOARD_LOG_KEEP, answers an old position with the picture, and keeps it all across a restart', async () => {
    const dir = (await import('node:fs')).mkdtempSync(`${(await import('node:os')).tmpdir()}/rt-board-`);
    let first = await startServer({ boardLogKeep: 10, boardRateBurst: 100_000, boardRatePerSecond: 100_000 }, dir);
    const drawer = await signUp(first.url, 'painter');
    expect((await postJson(first.url, '/api/rooms', { name: 'big' }, { cookie: drawer.cookie })).status).toBe(201);
    const a = await connect(drawer, first);
    await joinBoard(a, 'big');
    draw(a, 'big', 12);
    draw(a, 'big', 13);
    a.send('board-undo', { room: 'big', s: strokeIds });
    await eventually(() => entries(a).length === 26 || undefined);
    const whole = pixels(fold(a));
    // Compaction runs after the 20th entry: entries up to 10 are in the snapshot.
    const old = await connect(drawer, first);
    await eventually(async () => {
      const j = await joinBoard(old, 'big', 3);
      return j.first.event === 'board-picture' || undefined;
    });
    expect(pixels(fold(old))).toEqual(whole);
    const recent = await connect(drawer, first);
    const r = await joinBoard(recent, 'big', 20);
    expect(r.first.event).toBe('board-resume');
    expect(entries(recent).map((e) => e[2])).toEqual([21, 22, 23, 24, 25, 26]);
    a.close();
    old.close();
    recent.close();
    await first.close();
    // The same data after a restart: the same picture, and the log goes on from its position.
    first = await startServer({ boardLogKeep: 10 }, dir);
    try {
      const again = await WsClient.connect(first.wsUrl, drawer.cookie);
      sockets.push(again);
      const j = await joinBoard(again, 'big');
      expect(j.first.data.seq).toBe(26);
      expect(pixels(fold(again))).toEqual(whole);
      again.send('board-stroke', { room: 'big', s: ++strokeIds, i: 0, p: [5, 5], c: '#00ff00', w: 4 });
      await eventually(() => entries(again).length === 1 || undefined);
      expect(entries(again)[0]![2]).toBe(27);
    } finally {
      await first.close();
      first.cleanup();
    }
  });
});
