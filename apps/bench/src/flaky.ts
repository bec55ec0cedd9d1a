/**
 * The load generator's side of the flaky-network scenarios: clients that lose their connection
 * and come back, each the way its system's own client does, and count what they got.
 *
 * - app-ws: the app's chat socket; it rejoins with `afterSeq` (its last seq) and the server replays
 *   from the room's log. After a 1012 close (a deploy) it retries every 0.5 s + 0-0.5 s of jitter
 *   for up to 60 s, otherwise full-jitter backoff from 0.5 s: the app's own `Backoff` (@rt/protocol).
 * - app-sse: `EventSource` semantics on the live blog's stream: `Last-Event-ID` on reconnect, the
 *   wait is the server's `retry:` field, no jitter (as the browser does it).
 * - socketio: the socket.io-client Manager's own reconnection (1 s x 2^attempt up to 5 s, +-50 %),
 *   resuming with the session id and offset that `connectionStateRecovery` gave it.
 * - raw-ws: `ws` with the same full-jitter backoff as the app and no resume at all: the floor of
 *   what is lost.
 *
 * In `churn` a client drops on purpose (the network goes), stays offline for a while and then
 * tries at once (the moment its network is back); in `storm` the server goes, and the client's
 * own backoff decides when it comes back.
 */
import { request, type ClientRequest } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Backoff, clientFrame, WS_BACKOFF_BASE_MS, WS_BACKOFF_CAP_MS, WsCloseCode } from '@rt/protocol';
import { io, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { sseBlocks } from './clients.js';
import { summarize } from './stats.js';
import { Arrivals, countDeliveries, recoveryTimes, ReplayDelays, readStamp, timeToFraction } from './flaky-stats.js';
import type { FlakyProgress, FlakyResult, FlakySystem, Fractions, Published, Target } from './protocol.js';

const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/** EventSource's wait before the server has sent `retry:` (the WHATWG spec leaves it to the browser; Chromium's is 3 s). */
const SSE_INITIAL_RETRY_MS = 3000;

export interface FlakyCounters {
  /** Successful connections after each client's first. */
  reconnects: number;
  /** Connection attempts that failed: refused, reset, or answered with an error status. */
  failedAttempts: number;
  /** Of those, ones the server answered with an HTTP status instead of a connection. */
  refusedByStatus: number;
  /** Socket.IO: reconnections its server recovered (the session and missed packets). */
  recovered: number;
  /** The app's SSE: `reset` events (the position was no longer in the log). */
  resets: number;
}

let counters: FlakyCounters = { reconnects: 0, failedAttempts: 0, refusedByStatus: 0, recovered: 0, resets: 0 };
let replays = new ReplayDelays();
/** Reconnection attempt to ready, ms (the last attempt of each reconnection). */
let connectTimes: number[] = [];
/** This process's own event-loop delay: a load generator that falls behind shows here, not as the server's figure. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

export abstract class FlakyClient {
  readonly arrivals = new Arrivals();
  /** Connected and ready (handshake done). */
  online = false;
  /** Dropped on purpose: no reconnecting until `back()`. */
  protected offline = false;
  private everConnected = false;
  private retryTimer?: NodeJS.Timeout;
  /** The storm's progress check: after `watchLive(t)`, the first connection ready at or after t, and the first message made after that to arrive (µs, 0: not yet). */
  private liveAfter = Infinity;
  backAt = 0;
  liveAt = 0;
  protected stopped = false;

  constructor(
    protected readonly target: Target,
    readonly index: number,
  ) {}

  /** Opens a connection; resolves when it is ready, rejects when the attempt failed. */
  protected abstract attempt(): Promise<void>;
  /** Cuts the connection at once, as a lost network would (no close handshake). */
  protected abstract cut(): void;
  /** The wait before the next attempt after the server closed us or an attempt failed. */
  protected abstract retryDelay(): number;

  /** Opens the first connection (failing the run if it cannot). */
  async start(): Promise<void> {
    await this.attempt();
  }

  protected ready(): void {
    this.online = true;
    const at = nowMicros();
    this.arrivals.connected(at);
    if (this.everConnected) counters.reconnects++;
    if (this.arrivals.onlineAt) connectTimes.push((at - this.arrivals.onlineAt) / 1000);
    this.everConnected = true;
    if (this.backAt === 0 && at >= this.liveAfter) this.backAt = at;
  }

  protected deliver(text: string): void {
    const stamp = readStamp(text);
    if (!stamp) return;
    const at = nowMicros();
    const { first, replayed } = this.arrivals.arrived(stamp.n, stamp.createdMicros, at);
    if (first && replayed) replays.add(stamp.createdMicros, this.arrivals.onlineAt, at);
    if (first && this.liveAt === 0 && this.backAt !== 0 && stamp.createdMicros >= this.backAt) this.liveAt = at;
  }

  /** The connection ended without us asking (the server closed it, or an attempt failed). */
  protected lost(): void {
    this.online = false;
    if (this.offline || this.stopped) return;
    this.schedule(this.retryDelay());
  }

  protected failed(byStatus = false): void {
    counters.failedAttempts++;
    if (byStatus) counters.refusedByStatus++;
    this.lost();
  }

  protected schedule(delay: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.offline || this.stopped) return;
      this.arrivals.onlineAt = nowMicros();
      this.attempt().catch(() => this.failed());
    }, delay);
  }

  /** The network goes. */
  drop(): void {
    this.offline = true;
    this.online = false;
    clearTimeout(this.retryTimer);
    this.cut();
  }

  /** The network is back: the client tries at once. */
  back(): void {
    this.offline = false;
    this.schedule(0);
  }

  /** From `t` on, watch for the first live message (made after the client is back). */
  watchLive(t: number): void {
    this.liveAfter = t;
    this.backAt = 0;
    this.liveAt = 0;
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.cut();
  }
}

abstract class WsClient extends FlakyClient {
  protected socket?: WebSocket;
  /** The web app's reconnect policy, as its chat socket runs it. */
  protected readonly backoff = new Backoff({ baseMs: WS_BACKOFF_BASE_MS, capMs: WS_BACKOFF_CAP_MS });

  protected abstract url(): string;
  protected headers(): Record<string, string> {
    return {};
  }
  /** After `open`: what the client sends first (the app's join). Resolves `ready`. */
  protected opened(socket: WebSocket, ready: () => void): void {
    void socket;
    ready();
  }
  protected onText(text: string, ready: () => void): void {
    void ready;
    this.deliver(text);
  }

  protected attempt(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.url(), { headers: this.headers(), perMessageDeflate: false });
      this.socket = socket;
      let settled = false;
      const ready = () => {
        if (settled) return;
        settled = true;
        this.backoff.succeeded();
        this.ready();
        resolve();
      };
      socket.on('message', (data: Buffer, isBinary) => {
        if (this.socket !== socket) return;
        if (!isBinary) this.onText(data.toString(), ready);
      });
      socket.once('open', () => this.opened(socket, ready));
      socket.once('unexpected-response', (_req, res) => {
        res.resume();
        socket.terminate();
        if (settled) return;
        settled = true;
        counters.refusedByStatus++;
        reject(new Error(`upgrade refused: ${res.statusCode}`));
      });
      socket.on('error', () => {});
      socket.once('close', (code) => {
        if (this.socket !== socket) return;
        if (code === WsCloseCode.serviceRestart) this.backoff.restarted();
        if (!settled) {
          settled = true;
          reject(new Error(`connection failed (${code})`));
          return;
        }
        this.lost();
      });
    });
  }

  protected cut(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.terminate();
  }

  protected retryDelay(): number {
    return this.backoff.next();
  }
}

/** The app's chat socket in the room: rejoins after its last seq. */
class AppWsClient extends WsClient {
  private lastSeq: number | undefined;

  protected url(): string {
    return `ws://127.0.0.1:${this.target.port}/ws`;
  }
  protected override headers(): Record<string, string> {
    return { cookie: this.target.cookies![this.index % this.target.cookies!.length]! };
  }
  protected override opened(socket: WebSocket, ready: () => void): void {
    socket.send(clientFrame('join', { room: this.target.room! /* the app's targets name their room */, ...(this.lastSeq === undefined ? {} : { afterSeq: this.lastSeq }) }));
    // The connection is up: what comes from here on, replay included, is this connection's.
    ready();
  }
  protected override onText(text: string): void {
    if (text.charCodeAt(0) === 0x5b /* [ */) {
      // A message frame: [roomId, seq, authorId, username, createdAt, text, editedAt?]
      const frame = JSON.parse(text) as [number, number, number, string, number, string];
      if (this.lastSeq === undefined || frame[1] > this.lastSeq) this.lastSeq = frame[1];
      this.deliver(frame[5]);
    } else if (text.startsWith('{"event":"joined"')) {
      const { data } = JSON.parse(text) as { data: { lastSeq: number } };
      if (this.lastSeq === undefined || data.lastSeq > this.lastSeq) this.lastSeq = data.lastSeq;
    } else if (text.startsWith('{"event":"error"')) {
      counters.failedAttempts++;
      this.cut();
      this.lost();
    }
  }
}

class RawWsClient extends WsClient {
  protected url(): string {
    return `ws://127.0.0.1:${this.target.port}/?role=sub`;
  }
}

/**
 * EventSource, as the WHATWG spec has it: Last-Event-ID, the server's `retry:`. Opened as
 * docs/protocol.md says a client should: the blog's snapshot first (`GET /api/blogs/:id`), its
 * `lastEventId` in the stream's URL, so a reconnect before any event has come (no Last-Event-ID
 * yet) still resumes from there.
 */
class AppSseClient extends FlakyClient {
  private req?: ClientRequest;
  private lastEventId = '';
  private retryMs = SSE_INITIAL_RETRY_MS;
  private path = '';

  override async start(): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${this.target.port}/api/blogs/${this.target.blogId}`);
    if (!res.ok) throw new Error(`blog snapshot: ${res.status}`);
    const { lastEventId } = (await res.json()) as { lastEventId: string | number | null };
    this.path = `/api/blogs/${this.target.blogId}/stream${lastEventId === null || lastEventId === '' ? '' : `?lastEventId=${encodeURIComponent(String(lastEventId))}`}`;
    await super.start();
  }

  protected attempt(): Promise<void> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: 'text/event-stream' };
      if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
      const req = request({ host: '127.0.0.1', port: this.target.port, path: this.path, agent: false, headers }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          counters.refusedByStatus++;
          reject(new Error(`stream refused: ${res.statusCode}`));
          return;
        }
        this.ready();
        resolve();
        sseBlocks(res, (block) => this.event(block.slice(0, -2)));
        // The server ended the stream (a deploy): EventSource waits `retry` and reconnects.
        res.once('close', () => {
          if (this.req === req) this.lost();
        });
      });
      this.req = req;
      req.once('error', (err) => {
        if (this.req !== req) return;
        if (!this.online) reject(err);
      });
      req.end();
    });
  }

  private event(block: string): void {
    let data: string | undefined;
    let event = 'message';
    for (const line of block.split('\n')) {
      if (line.startsWith('data: ')) data = line.slice(6);
      else if (line.startsWith('id: ')) this.lastEventId = line.slice(4);
      else if (line.startsWith('retry: ')) this.retryMs = Number(line.slice(7)) || this.retryMs;
      else if (line.startsWith('event: ')) event = line.slice(7);
    }
    if (event === 'reset') counters.resets++;
    if (data !== undefined && event === 'message') this.deliver(data);
  }

  protected cut(): void {
    const req = this.req;
    this.req = undefined;
    req?.destroy();
  }

  protected retryDelay(): number {
    return this.retryMs;
  }
}

/** socket.io-client with its Manager's own reconnection and connection-state recovery. */
class SocketIoClient extends FlakyClient {
  private socket?: IoSocket;

  protected attempt(): Promise<void> {
    if (this.socket) {
      // A reconnection after a drop: the same Socket, so its session id and offset go with it.
      this.socket.io.reconnection(true);
      this.socket.connect();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const socket = io(`http://127.0.0.1:${this.target.port}`, { transports: ['websocket'], query: { role: 'sub' }, forceNew: true });
      this.socket = socket;
      let first = true;
      socket.on('message', (payload: string) => this.deliver(payload));
      socket.on('connect', () => {
        if (socket.recovered) counters.recovered++;
        this.ready();
        if (first) {
          first = false;
          resolve();
        }
      });
      socket.on('disconnect', () => {
        this.online = false;
      });
      socket.io.on('reconnect_error', () => counters.failedAttempts++);
      socket.once('connect_error', (err) => {
        if (first) {
          first = false;
          reject(err);
        }
      });
    });
  }

  protected cut(): void {
    const socket = this.socket;
    if (!socket) return;
    if (this.stopped) {
      socket.disconnect();
      return;
    }
    // Closes the transport, as a lost network does: the server keeps the session for recovery
    // (an explicit disconnect() would end it), and the Manager does not retry until back().
    socket.io.reconnection(false);
    (socket.io as unknown as { engine?: { close(): void } }).engine?.close();
  }

  protected retryDelay(): number {
    return 0; // never used: the Manager reconnects by itself
  }
}

export function flakyClient(system: FlakySystem, target: Target, index: number): FlakyClient {
  switch (system) {
    case 'app-ws':
      return new AppWsClient(target, index);
    case 'app-sse':
      return new AppSseClient(target, index);
    case 'socketio':
      return new SocketIoClient(target, index);
    case 'raw-ws':
      return new RawWsClient(target, index);
  }
}

// ---------------------------------------------------------------------------------------------
// The crowd: every flaky client of a run in this process

const crowd: FlakyClient[] = [];
let drops = 0;
const rand = ([lo, hi]: [number, number]) => lo + Math.random() * (hi - lo);

export async function openFlaky(system: FlakySystem, target: Target, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const client = flakyClient(system, target, crowd.length + next++);
      await client.start();
      crowd.push(client);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return crowd.length;
}

/**
 * For `durationMs`: each client, in every period of `periodMs` (a fresh random length each time),
 * drops at a random moment for `offlineMs` (random too) and then comes back at once. Resolves when
 * the time is up; a client offline then comes back on its schedule.
 */
export async function churn(durationMs: number, periodMs: [number, number], offlineMs: [number, number]): Promise<void> {
  const end = Date.now() + durationMs;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const cycle = (client: FlakyClient) => {
    const period = rand(periodMs);
    const off = rand(offlineMs);
    const at = Math.random() * Math.max(0, period - off);
    if (Date.now() + at < end) {
      later(at, () => {
        drops++;
        client.drop();
        setTimeout(() => client.back(), off); // not in `timers`: it always comes back
      });
    }
    if (Date.now() + period < end) later(period, () => cycle(client));
  };
  for (const client of crowd) cycle(client);
  await new Promise((r) => setTimeout(r, durationMs));
  for (const t of timers) clearTimeout(t);
}

export function watchLive(t0: number): void {
  for (const client of crowd) client.watchLive(t0);
}

export function progress(): FlakyProgress {
  let online = 0;
  let back = 0;
  let live = 0;
  for (const c of crowd) {
    if (c.online) online++;
    if (c.backAt) back++;
    if (c.liveAt) live++;
  }
  return { clients: crowd.length, online, back, live };
}

const fractions = (times: number[]): Fractions => {
  const at = (q: number) => {
    const t = timeToFraction(times, q);
    return Number.isFinite(t) ? t : null;
  };
  return { p50: at(0.5), p99: at(0.99), p100: at(1) };
};

/** Waits up to `timeoutMs` for every client to be online with every accepted message, then counts. */
export async function settle(published: Published[], timeoutMs: number, t0?: number): Promise<FlakyResult> {
  const accepted = published.filter((p) => p.accepted);
  const deadline = Date.now() + timeoutMs;
  const done = () => crowd.every((c) => c.online && accepted.every((p) => c.arrivals.copiesOf(p.n) > 0));
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  // Copies still in flight (a duplicate on its way) get a moment to land.
  await new Promise((r) => setTimeout(r, 200));
  const clients = crowd.map((c) => c.arrivals);
  const counts = countDeliveries(clients, published);
  if (process.env.DEBUG_FLAKY) {
    const sorted = [...connectTimes].sort((a, b) => a - b);
    console.error(`loop delay ms: p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} max ${(loopDelay.max / 1e6).toFixed(1)}`);
    console.error(`connect ms: n ${sorted.length} p50 ${sorted[sorted.length >> 1]} p90 ${sorted[Math.floor(sorted.length * 0.9)]} max ${sorted.at(-1)}`);
    const base = published[0]?.createdMicros ?? 0;
    for (const c of crowd) {
      const missing = accepted.filter((p) => c.arrivals.copiesOf(p.n) === 0);
      if (missing.length)
        console.error(`client ${c.index} online=${c.online} missing ${missing.map((p) => `${p.n}@${((p.createdMicros - base) / 1000).toFixed(0)}`).join(',')} connections ${c.arrivals.connections.map((t) => ((t - base) / 1000).toFixed(0)).join(',')} ${(c as unknown as { lastEventId?: string }).lastEventId ?? ''}`);
    }
  }
  let recovery: FlakyResult['recovery'];
  if (t0 !== undefined) {
    const { back, caughtUp } = recoveryTimes(clients, published, t0);
    recovery = { back: fractions(back), caughtUp: fractions(caughtUp), neverBack: back.filter((t) => t === Infinity).length, neverCaughtUp: caughtUp.filter((t) => t === Infinity).length };
  }
  const loadLoopDelay = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
  return { ...counts, drops, ...counters, replay: replays.summary(), connect: summarize(connectTimes), loadLoopDelay, ...(recovery ? { recovery } : {}) };
}

export function closeFlaky(): void {
  for (const c of crowd) c.close();
  crowd.length = 0;
  drops = 0;
  counters = { reconnects: 0, failedAttempts: 0, refusedByStatus: 0, recovered: 0, resets: 0 };
  replays = new ReplayDelays();
  connectTimes = [];
  loopDelay.reset();
}
