/**
 * The load generator's side of the `whiteboard` scenario: drawers that send a pen's segments at a
 * set rate into one board, and viewers that time each segment's arrival.
 *
 * - app-ws: drawers and viewers `board-join` the room's board on /ws; a drawer sends
 *   `board-stroke` frames (part 0 with colour and width), the app stores each through its group
 *   commit and sends every member the entry `['s'|'p', roomId, seq, authorId, t, stroke, ...]`.
 * - app-sse: the same drawers; viewers read `board:<roomId>` on /api/events (signed in), whose
 *   `board` events carry the same tuples.
 * - socketio: drawers `emit('board-stroke', segment)`, the server relays it to the room
 *   unstored; raw-ws, raw-sse and floor relay the segment's JSON as they relay any message.
 *
 * Drawers and viewers share this process, so a segment's send time and its arrivals are on one
 * monotonic clock: a delivery is matched to its send by the segment's stroke and part (stroke ids
 * are unique over every drawer), which every system carries; nothing is added to the payload.
 */
import { BOARD_HEIGHT, BOARD_WIDTH, clientFrame, type BoardClientFrames } from '@rt/protocol';
import { httpPublisher, openFloor, openSocketIo, openSse, openWs, socketIoConnection, wsConnection, wsUrl, type Connection } from './clients.js';
import { drain, nowMicros, pace } from './pace.js';
import type { BoardStepResult, Target } from './protocol.js';
import { emptyTally, stepResult, tallyDelivery } from './stats.js';

export type Segment = BoardClientFrames['board-stroke'];

/** A stroke's part numbers fit under this (the protocol's `partsPerStroke` is 4096). */
const PARTS = 4096;
/** Stroke ids of drawer d are d x STROKES + 1, + 2, ...: unique over every drawer, under the protocol's 2^31 - 1. */
const STROKES = 1_000_000;

/** The key a delivery is matched to its send by: stroke and part. */
export const segmentKey = (stroke: number, part: number): number => stroke * PARTS + part;

/**
 * A segment's key from what a viewer got, or undefined for anything else (a picture, a cursor,
 * an ack): the app's entry tuple alone (WebSocket) or as an SSE event's data, or the segment's
 * own JSON as a relay passes it on (`{"room":..,"s":..,"i":..,...}`, alone or as SSE data).
 * Read by scanning, not JSON.parse: at 1,000 viewers the load generator reads 600k a second.
 */
export function keyOf(text: string): number | undefined {
  const at = text.indexOf('["');
  const kind = at >= 0 && text[at + 3] === '"' ? text[at + 2] : undefined;
  if (kind === 's' || kind === 'p') {
    // [kind, roomId, seq, authorId, t, stroke, part (p) or colour (s), ...]
    let comma = at + 4;
    for (let k = 0; k < 4; k++) comma = text.indexOf(',', comma + 1);
    const next = text.indexOf(',', comma + 1);
    const stroke = Number(text.slice(comma + 1, next));
    const part = kind === 's' ? 0 : Number(text.slice(next + 1, text.indexOf(',', next + 1)));
    return Number.isInteger(stroke) && Number.isInteger(part) ? segmentKey(stroke, part) : undefined;
  }
  const m = /"s":(\d+),"i":(\d+)/.exec(text);
  return m ? segmentKey(Number(m[1]), Number(m[2])) : undefined;
}

/** A small seeded generator (mulberry32), so every system is sent the very same segments. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, Math.round(v)));

/**
 * A drawer's hand: strokes of `segmentsPerStroke` segments, each segment 4 to 8 points that
 * carry on from the last (a pen moving a few board units a point, turning gently), then a new
 * stroke somewhere else. Part 0 carries colour and width, as the web app sends it.
 */
export class Pen {
  private readonly rand: () => number;
  private stroke: number;
  private part = 0;
  private x = 0;
  private y = 0;
  private heading = 0;

  constructor(
    readonly drawer: number,
    readonly room: string,
    readonly segmentsPerStroke = 60,
  ) {
    this.rand = random(drawer + 1);
    this.stroke = drawer * STROKES;
  }

  next(): Segment {
    if (this.part === 0) {
      this.stroke++;
      this.x = 200 + this.rand() * (BOARD_WIDTH - 400);
      this.y = 200 + this.rand() * (BOARD_HEIGHT - 400);
      this.heading = this.rand() * 2 * Math.PI;
    }
    const points: number[] = [];
    const n = 4 + Math.floor(this.rand() * 5);
    for (let k = 0; k < n; k++) {
      this.heading += (this.rand() - 0.5) * 0.6;
      this.x += Math.cos(this.heading) * 6;
      this.y += Math.sin(this.heading) * 6;
      if (this.x < 0 || this.x > BOARD_WIDTH || this.y < 0 || this.y > BOARD_HEIGHT) this.heading += Math.PI;
      points.push(clamp(this.x, BOARD_WIDTH), clamp(this.y, BOARD_HEIGHT));
    }
    const segment: Segment = this.part === 0 ? { room: this.room, s: this.stroke, i: 0, p: points, c: '#1f77b4', w: 4 } : { room: this.room, s: this.stroke, i: this.part, p: points };
    this.part = (this.part + 1) % this.segmentsPerStroke;
    return segment;
  }
}

interface Drawer {
  pen: Pen;
  send(segment: Segment): void;
  close(): void;
}

const drawers: Drawer[] = [];
const viewers: Connection[] = [];
/** The app's id of the board's room, from a drawer's `board-picture` (the SSE topic is `board:<id>`). */
let roomId: number | undefined;
/** This step's segments by key: the send time (µs) and the arrivals so far, over every viewer. */
let sentAt = new Map<number, { at: number; arrivals: number }>();
let step = emptyTally();
/** Segments the server refused in this step (error frames, failed POSTs). */
let errors = 0;

const boardJoin = (room: string, onJoining?: (text: string) => void) => ({ frame: clientFrame('board-join', { room }), ready: '{"event":"board-joined"', onJoining });

/** One delivery to a viewer: its key, and the bytes of its text, frame and data (0 where the client hides them). */
function delivered(key: number | undefined, textBytes: number, frameBytes: number, dataBytes: number): void {
  const sent = key === undefined ? undefined : sentAt.get(key);
  if (sent === undefined) {
    step.other++;
    return;
  }
  sent.arrivals++;
  tallyDelivery(step, sent.at, nowMicros(), textBytes, frameBytes, dataBytes);
}

const onSegment = (text: string, frameBytes: number, dataBytes: number) => delivered(keyOf(text), Buffer.byteLength(text), frameBytes, dataBytes);

const onError = () => errors++;

/**
 * Drawer `index` of the system. The app's drawer is user `index` (each drawer its own user, as
 * its rate limit is per user); it is a member of the board like any, so it gets every entry too
 * (its own is its ack); only error frames are counted. The relays' drawers also receive the
 * others' segments (role `both`), except raw-sse's, which only POST.
 */
async function openDrawer(target: Target, index: number): Promise<Drawer> {
  const pen = new Pen(index, target.room ?? 'bench');
  switch (target.system) {
    case 'app-ws':
    case 'app-sse': {
      const socket = await openWs(
        wsUrl(target, '/ws'),
        { cookie: target.cookies![index]! },
        (text) => {
          if (text.startsWith('{"event":"error"')) onError();
        },
        boardJoin(target.room!, (text) => {
          const id = /^\{"event":"board-picture","data":\{"room":"[^"]*","id":(\d+)/.exec(text)?.[1];
          if (id) roomId = Number(id);
        }),
      );
      return { pen, send: (segment) => socket.send(clientFrame('board-stroke', segment)), close: () => socket.terminate() };
    }
    case 'socketio': {
      const socket = await openSocketIo(target.port, 'both', () => {});
      return { pen, send: (segment) => socket.emit('board-stroke', segment), close: () => socket.disconnect() };
    }
    case 'raw-ws': {
      const socket = await openWs(wsUrl(target, '/?role=both'), {}, () => {});
      return { pen, send: (segment) => socket.send(JSON.stringify(segment)), close: () => socket.terminate() };
    }
    case 'raw-sse': {
      const publisher = httpPublisher(target.port, '/publish', {}, (p) => p, onError, 204);
      return { pen, send: (segment) => publisher.publish(JSON.stringify(segment)), close: () => publisher.close() };
    }
    case 'floor': {
      const socket = await openFloor(target.port, 'both', () => {});
      return { pen, send: (segment) => socket.write(JSON.stringify(segment) + '\n'), close: () => socket.destroy() };
    }
  }
}

async function openViewer(target: Target, index: number): Promise<Connection> {
  const onOther = () => step.other++;
  switch (target.system) {
    case 'app-ws': {
      const socket = await openWs(wsUrl(target, '/ws'), { cookie: target.cookies![index % target.cookies!.length]! }, onSegment, boardJoin(target.room!));
      return wsConnection(socket);
    }
    case 'app-sse': {
      if (roomId === undefined) throw new Error('no board room id: open the drawers first');
      return openSse(target.port, `/api/events?topics=board:${roomId}`, onSegment, onOther, { cookie: target.cookies![index % target.cookies!.length]! }, 'picture');
    }
    case 'socketio': {
      const socket = await openSocketIo(target.port, 'sub', () => {});
      // The client has parsed the packet already; its bytes are the socket's (wireBytes), not re-encoded here.
      socket.on('board-stroke', (segment: Segment) => delivered(segmentKey(segment.s, segment.i), 0, 0, 0));
      return socketIoConnection(socket);
    }
    case 'raw-ws':
      return wsConnection(await openWs(wsUrl(target, '/?role=sub'), {}, onSegment));
    case 'raw-sse':
      return openSse(target.port, '/events', onSegment, onOther);
    case 'floor': {
      const socket = await openFloor(target.port, 'sub', onSegment);
      return { bytesRead: () => socket.bytesRead, close: () => socket.destroy() };
    }
  }
}

export async function openDrawers(target: Target, count: number): Promise<number> {
  for (let i = 0; i < count; i++) drawers.push(await openDrawer(target, drawers.length));
  return drawers.length;
}

export async function openViewers(target: Target, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      viewers.push(await openViewer(target, viewers.length));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return viewers.length;
}

const bytesRead = () => viewers.reduce((total, v) => total + v.bytesRead(), 0);

/**
 * Every drawer sends `rate` segments a second for `durationMs` (the drawers interleaved, so the
 * board gets drawers x rate evenly), then waits up to `graceMs` for every viewer to have every
 * segment. `wireBytes` is what the viewers' sockets read over the step. `lost` and `duplicated`
 * are counted per segment against the number of viewers (a viewer that got one twice while
 * another missed it would cancel out; no system here has a path that does that).
 */
export async function runBoardStep(rate: number, durationMs: number, graceMs: number): Promise<BoardStepResult> {
  if (drawers.length === 0) throw new Error('no drawers');
  sentAt = new Map();
  step = emptyTally();
  errors = 0;
  const bytesBefore = bytesRead();
  const start = nowMicros();
  const sent = drawers.length * Math.max(1, Math.round((rate * durationMs) / 1000));
  let points = 0;
  await pace(rate * drawers.length, sent, (n) => {
    const drawer = drawers[n % drawers.length]!;
    const segment = drawer.pen.next();
    points += segment.p.length / 2;
    sentAt.set(segmentKey(segment.s, segment.i), { at: nowMicros(), arrivals: 0 });
    drawer.send(segment);
  });
  const expected = sent * viewers.length;
  await drain(() => step.delivered >= expected, graceMs);
  // Per segment: arrivals short of one per viewer are lost, beyond it duplicated.
  let lost = 0;
  let duplicated = 0;
  for (const { arrivals } of sentAt.values()) {
    lost += Math.max(0, viewers.length - arrivals);
    duplicated += Math.max(0, arrivals - viewers.length);
  }
  return { ...stepResult(step, { sent, expected, errors, wireBytes: bytesRead() - bytesBefore }, start, nowMicros()), points, lost, duplicated };
}

export function closeBoard(): void {
  for (const d of drawers) d.close();
  for (const v of viewers) v.close();
  drawers.length = 0;
  viewers.length = 0;
  roomId = undefined;
}
