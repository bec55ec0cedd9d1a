import { Inject, Injectable, Logger } from '@nestjs/common';
import { encodeSse, sseIdLine, type HelloData } from '@rt/protocol';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { GaplessCursor, type CursorOptions, type CursorSource } from '../domain/gapless-cursor.js';
import { formatComposite } from '../domain/stream-position.js';
import type { SseEventText } from '../dtos/events.dto.js';
import { ExpirySweep } from '../domain/expiry-sweep.js';
import { DeliveryScheduler, NetsimRepository } from './netsim.repository.js';
import { TurnCork } from './turn-cork.js';
import { TelemetryRepository, type ConnectionMeter, type DisconnectReason } from './telemetry.repository.js';

/** An event stream's own headers (docs/protocol.md), as a flat `[name, value, ...]` list (see SseOpenOptions.headers). */
export const SSE_HEADERS: readonly string[] = Object.freeze([
  'Content-Type', 'text/event-stream; charset=utf-8',
  'Cache-Control', 'no-cache, no-transform',
  'X-Accel-Buffering', 'no',
  // The stream owns its connection: when it ends, so does the connection (see SseConnection.close).
  'Connection', 'close',
]);

/** `text` as one HTTP/1.1 chunk: size in hex, CRLF, the bytes, CRLF. */
function chunk(text: string): Buffer {
  const bytes = Buffer.byteLength(text);
  return Buffer.from(`${bytes.toString(16)}\r\n${text}\r\n`);
}

/** The bytes of `chunk()` without its framing: a view, nothing copied. */
function unchunked(buffer: Buffer): Buffer {
  return buffer.subarray(buffer.indexOf(10) + 1, buffer.length - 2);
}

/**
 * One event's bytes for every stream that carries it, built once. Streams write them straight
 * to their TCP socket: a single-topic stream's whole event is one prebuilt HTTP chunk, the
 * same for every reader; a multiplexed stream writes its own `id:` line (its position in every
 * topic, which differs per stream by design) and then the shared rest.
 */
export class SseFrame {
  readonly seq: number;
  /** The single-topic event as one chunk. */
  readonly plain: Buffer;
  /** The same without chunk framing, for a reader that speaks HTTP/1.0. */
  readonly plainText: Buffer;
  readonly plainPayloadBytes: number;
  /** The multiplexed event after its `id:` line, and the CRLF that ends its chunk. */
  readonly bodyTail: Buffer;
  /** `bodyTail` without that CRLF. */
  readonly body: Buffer;
  readonly bodyPayloadBytes: number;

  constructor(text: SseEventText) {
    this.seq = text.seq;
    this.plain = chunk(text.plain);
    this.plainText = unchunked(this.plain);
    this.plainPayloadBytes = text.plainPayloadBytes;
    this.bodyTail = Buffer.from(`${text.body}\r\n`);
    this.body = this.bodyTail.subarray(0, this.bodyTail.length - 2);
    this.bodyPayloadBytes = text.bodyPayloadBytes;
  }
}

/** One topic carried by a stream. */
export interface SseTopic {
  topic: string;
  /** The log it reads (`user:12`, `blog:3`). */
  stream: string;
  /** The position to replay from. */
  start: number;
  source: CursorSource<SseEventText>;
}

export interface SseOpenOptions {
  topics: SseTopic[];
  /** Multiplexed (`topic=seq,...` ids) or single-topic (plain ids). */
  composite: boolean;
  /** JSON for a `reset` event to send before anything else. */
  reset?: string;
  /** For private streams: when the session expires (epoch ms), send `auth-expired` and end. */
  expiresAt?: number;
  /** For private streams: the session; when it is revoked, send `auth-expired` and end. */
  sessionId?: string;
  /** The client gave a position to resume from (telemetry). */
  resumed?: boolean;
  /** The signed-in reader, if any. */
  userId?: number | null;
  /**
   * The head's headers as one flat list shared by every stream (SSE_HEADERS and the security
   * headers); its bytes are built once per list (see StreamHead).
   */
  headers?: readonly string[];
}

/**
 * A stream's reading of one log; the same object sits in the log's set of readers, and is its
 * cursor's options (source, deliver, onError as methods: no closures per stream and topic).
 */
class Subscription implements CursorOptions<SseFrame | SseEventText> {
  readonly cursor: GaplessCursor<SseFrame | SseEventText>;

  constructor(
    readonly connection: SseConnection,
    readonly stream: string,
    /** The topic's place in the stream's `order` (and `positions`). */
    readonly index: number,
    readonly source: CursorSource<SseFrame | SseEventText>,
    private readonly failed: (subscription: Subscription, err: unknown) => void,
  ) {
    this.cursor = new GaplessCursor(this);
  }

  deliver(item: SseFrame | SseEventText, live: boolean): void {
    this.connection.event(this.index, item, !live);
  }

  onError(err: unknown): void {
    this.failed(this, err);
  }
}

/** Deliveries of a reader nobody impairs (anonymous readers): never queues, so one serves all. */
const UNIMPAIRED = new DeliveryScheduler();

/** What a write is to the meter, besides a message's payload bytes (see SseConnection.send). */
const CONTROL_WRITE = -1;
const UNMETERED = -2;

/** `: heartbeat`, prebuilt in both framings. */
const HEARTBEAT = chunk(encodeSse({ comment: 'heartbeat' }));
const HEARTBEAT_TEXT = unchunked(HEARTBEAT);
/** The last event of a private stream whose session ended. */
const AUTH_EXPIRED = encodeSse({ event: 'auth-expired', data: '{}' });
/** The chunk that ends an HTTP/1.1 body (no trailers). */
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/**
 * A stream's response head, written by us rather than by `ServerResponse.writeHead`: Node keeps
 * the head it wrote as a string on the response for as long as the response lives (about
 * 0.75 KiB with the security headers, per open stream). Ours is shared bytes: the status line
 * and the fixed headers built once, the `Date` line (RFC 9110 §6.6.1) once a second.
 */
class StreamHead {
  private readonly fixed: Buffer;
  private second = -1;
  private chunkedTail = Buffer.alloc(0);
  private plainTail = Buffer.alloc(0);

  constructor(headers: readonly string[]) {
    let head = 'HTTP/1.1 200 OK\r\n';
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      // Fixed strings from this code base; checked once so a bad one fails at boot, not on the wire.
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value) || !/^[\x20-\x7e]*$/.test(value)) throw new Error(`invalid stream header ${name}`);
      head += `${name}: ${value}\r\n`;
    }
    this.fixed = Buffer.from(head, 'latin1');
  }

  /** Writes the head: chunked for HTTP/1.1, for an HTTP/1.0 reader a body that ends with the connection. */
  write(socket: Socket, chunked: boolean): void {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.second) {
      this.second = second;
      const date = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
      this.chunkedTail = Buffer.from(`${date}Transfer-Encoding: chunked\r\n\r\n`, 'latin1');
      this.plainTail = Buffer.from(`${date}\r\n`, 'latin1');
    }
    socket.write(this.fixed);
    socket.write(chunked ? this.chunkedTail : this.plainTail);
  }
}

/**
 * One open event stream. After the response head, everything is written straight to the TCP
 * socket, in HTTP/1.1 chunks we frame ourselves (or unframed for an HTTP/1.0 reader), so a
 * prebuilt event goes out as one write of shared bytes, and the last chunk ends the body (the
 * head is ours too, see StreamHead: Node's response object writes nothing).
 */
class SseConnection {
  subscriptions: Subscription[] = [];
  /** The position in each topic, in `order`'s order. */
  readonly positions: number[];
  /** The stream's group in the session-expiry sweep (private streams). */
  expiry?: number;
  closed = false;
  connectionId = '';
  userId: number | null = null;
  sessionId?: string;
  scheduler = UNIMPAIRED;
  meter?: ConnectionMeter;
  /** Its socket is corked until the end of this turn ({@link TurnCork}). */
  corked?: boolean;

  constructor(
    private readonly socket: Socket,
    /** The response is chunked (HTTP/1.1), so our writes must be chunks too. */
    private readonly chunked: boolean,
    readonly order: string[],
    readonly composite: boolean,
    private readonly maxBuffered: number,
    private readonly onSlow: (connection: SseConnection) => void,
    starts: number[],
    private readonly cork: TurnCork<SseConnection>,
  ) {
    this.positions = starts;
  }

  id(): string {
    return this.composite ? formatComposite(this.order, this.positions) : String(this.positions[0] ?? 0);
  }

  /** An event of the topic at `index`: prebuilt (live, shared) or as text (replayed to this stream alone). */
  event(index: number, item: SseFrame | SseEventText, replayed: boolean): void {
    const frame = item instanceof SseFrame ? item : new SseFrame(item);
    this.positions[index] = frame.seq;
    if (!this.writable()) return;
    if (!this.composite) {
      this.send(this.chunked ? frame.plain : frame.plainText, frame.plainPayloadBytes, replayed);
      return;
    }
    // The one piece that differs per stream: a multiplexed stream's id is its own position in
    // every topic it carries (ASCII: topic names and digits).
    const idLine = sseIdLine(this.id());
    if (this.scheduler.idle()) this.writeComposite(idLine, frame, replayed);
    else this.scheduler.run(() => this.writeComposite(idLine, frame, replayed));
  }

  /** The shared heartbeat. */
  heartbeat(): void {
    if (this.writable()) this.send(this.chunked ? HEARTBEAT : HEARTBEAT_TEXT, CONTROL_WRITE);
  }

  /**
   * Writes one-off text (retry, hello, reset, pong, probe) unless closed or too far behind;
   * `kind`: a message's payload bytes, CONTROL_WRITE or UNMETERED.
   */
  write(text: string, kind = UNMETERED): boolean {
    if (!this.writable()) return false;
    this.send(this.chunked ? chunk(text) : Buffer.from(text), kind);
    return true;
  }

  /**
   * Whether a write may go out. A reader that lets more than the cap pile up is ended instead:
   * it reconnects with Last-Event-ID and the log fills the gap.
   */
  private writable(): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (this.socket.writableLength > this.maxBuffered) {
      this.onSlow(this);
      return false;
    }
    return true;
  }

  /**
   * `kind`: a message's payload bytes (counted as one message), CONTROL_WRITE (no message:
   * heartbeat, `retry:`, `hello`, `pong`, measured as such on the socket) or UNMETERED.
   */
  private send(bytes: Buffer, kind: number, replayed = false): void {
    if (this.scheduler.idle()) this.emit(bytes, kind, replayed);
    else {
      this.scheduler.run(() => {
        if (!this.closed && !this.socket.destroyed) this.emit(bytes, kind, replayed);
      });
    }
  }

  /** Writes, and has the meter count what it wrote once it is in the kernel (see ConnectionMeter). */
  private emit(bytes: Buffer, kind: number, replayed: boolean): void {
    const meter = this.meter;
    this.cork.hold(this, this.socket);
    if (!meter || kind === UNMETERED) this.socket.write(bytes);
    else if (kind === CONTROL_WRITE) meter.control((done) => this.socket.write(bytes, done));
    else {
      const done = meter.callbackFor(kind, replayed);
      this.socket.write(bytes, done);
      if (done === undefined) meter.wrote(kind, replayed);
    }
    this.cork.check(this, this.socket);
  }

  private writeComposite(idLine: string, frame: SseFrame, replayed: boolean): void {
    if (this.closed || this.socket.destroyed) return;
    const socket = this.socket;
    const meter = this.meter;
    this.cork.hold(this, socket);
    const done = meter?.callbackFor(frame.bodyPayloadBytes, replayed);
    if (this.chunked) {
      socket.write(`${(idLine.length + frame.body.length).toString(16)}\r\n${idLine}`, 'latin1');
      socket.write(frame.bodyTail, done);
    } else {
      socket.write(idLine, 'latin1');
      socket.write(frame.body, done);
    }
    if (meter && done === undefined) meter.wrote(frame.bodyPayloadBytes, replayed);
    this.cork.check(this, socket);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subscriptions) s.cursor.stop();
    // The body ends, and the connection with it (the head said `Connection: close`): Node's
    // response was never written, so the socket cannot carry another request.
    if (this.socket.destroyed) return;
    if (this.chunked) this.socket.write(LAST_CHUNK);
    this.socket.end();
  }
}

/**
 * The registry of open SSE streams, by log. Everything the server writes to an event stream goes
 * through here. Written by hand rather than with `@Sse()`: we need our own ids and database
 * replay, frames prepared once and written to many responses, a heartbeat, slow-reader and
 * session-expiry limits, and exact cleanup (counted by `stats()` in the tests).
 */
@Injectable()
export class SseRepository {
  private readonly logger = new Logger('SSE');
  private readonly byStream = new Map<string, Set<Subscription>>();
  /** Open streams by connection id (the probe and the clock probe address one by id). */
  private readonly connections = new Map<string, SseConnection>();
  /** Prefix of connection ids: the instance's name (INSTANCE_ID), so ids are unique across instances. */
  private get instance(): string {
    return this.config.instanceId;
  }
  private nextId = 0;
  /** One heartbeat for every open stream (a timer per stream cost a Timeout and a closure each). */
  private heartbeat?: NodeJS.Timeout;
  /** Private streams whose session expires: told `auth-expired`, then ended. */
  /** Each open stream by its response, for the one shared `close` listener. */
  private readonly byResponse = new WeakMap<ServerResponse, SseConnection>();
  /** Each head's bytes, by the header list it was built from (one list in the app: STREAM_HEAD). */
  private readonly heads = new Map<readonly string[], StreamHead>();
  private readonly onResponseClose: (this: ServerResponse) => void;
  private readonly onCursorError = (subscription: Subscription, err: unknown): void => {
    this.logger.error(`${subscription.stream}: cannot keep the stream in order; ending it`, err instanceof Error ? err.stack : String(err));
    this.remove(subscription.connection, 'error');
  };
  private readonly onSlow = (connection: SseConnection): void => {
    this.logger.warn('ending a slow SSE reader');
    this.remove(connection, 'slow_consumer');
  };
  /** The `retry:` every stream starts with (SSE_RETRY_MS). */
  private readonly retryLine: string;
  private readonly expiries = new ExpirySweep<SseConnection>((connection) => this.expire(connection));
  /** Holds each stream's writes to the end of the turn: one write per stream per batch. */
  private readonly cork: TurnCork<SseConnection>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly telemetry: TelemetryRepository,
    private readonly netsim: NetsimRepository,
  ) {
    this.retryLine = encodeSse({ retry: config.sseRetryMs });
    this.cork = new TurnCork<SseConnection>(Math.min(64 * 1024, Math.floor(config.sseMaxBufferedBytes / 4)), (c) => c.meter?.catchUp());
    const byResponse = this.byResponse;
    const remove = (connection: SseConnection) => this.remove(connection);
    this.onResponseClose = function (this: ServerResponse) {
      const connection = byResponse.get(this);
      if (connection) remove(connection);
    };
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Open streams, log subscriptions and timers (the shared heartbeat and pending session
   * expiries): all three return to zero when clients leave.
   */
  stats(): { connections: number; subscriptions: number; timers: number } {
    let subscriptions = 0;
    for (const set of this.byStream.values()) subscriptions += set.size;
    return { connections: this.connections.size, subscriptions, timers: (this.heartbeat ? 1 : 0) + this.expiries.size };
  }

  /**
   * Starts an event stream on `res`: headers, `retry:`, the `reset` if any, each topic's replay,
   * then live events, each once and in order per topic. Cleans up when the client goes away.
   */
  async open(res: ServerResponse, options: SseOpenOptions): Promise<void> {
    const socket = res.socket;
    if (!socket || socket.destroyed) return; // the client left before the stream started
    socket.setNoDelay(true);
    // The head, `retry:`, `hello` and any `reset` leave in one write.
    let connection: SseConnection | undefined;
    socket.cork();
    try {
      connection = this.start(res, socket, options);
    } finally {
      socket.uncork();
    }
    // Each topic's replay, then live events (a cursor that fails ends the stream itself).
    if (connection) for (const s of connection.subscriptions) await s.cursor.start();
  }

  /** Registers the stream and writes its beginning; undefined if the client has already left. */
  private start(res: ServerResponse, socket: Socket, options: SseOpenOptions): SseConnection | undefined {
    const chunked = res.req.httpVersionMajor > 1 || (res.req.httpVersionMajor === 1 && res.req.httpVersionMinor >= 1);
    this.headFor(options.headers).write(socket, chunked);
    const connection: SseConnection = new SseConnection(
      socket,
      chunked,
      options.topics.map((t) => t.topic),
      options.composite,
      this.config.sseMaxBufferedBytes,
      this.onSlow,
      options.topics.map((t) => t.start),
      this.cork,
    );
    connection.connectionId = `${this.instance}-s${++this.nextId}`;
    connection.userId = options.userId ?? null;
    connection.sessionId = options.sessionId;
    if (connection.userId !== null) connection.scheduler = this.netsim.scheduler(connection.userId);
    this.connections.set(connection.connectionId, connection);
    this.byResponse.set(res, connection);
    res.on('close', this.onResponseClose); // emitted once; `once` would wrap it per stream

    // Counted from here: the response head is already written, so wire bytes exclude it.
    connection.meter = this.telemetry.opened('sse', socket, { id: connection.connectionId, userId: connection.userId });
    if (options.resumed) this.telemetry.resumed('sse');
    connection.write(this.retryLine, CONTROL_WRITE);
    // No id: line, so it does not move the browser's Last-Event-ID.
    const hello: HelloData = { connectionId: connection.connectionId, serverTime: performance.timeOrigin + performance.now() };
    connection.write(encodeSse({ event: 'hello', data: JSON.stringify(hello) }), CONTROL_WRITE);
    if (options.reset) connection.write(encodeSse({ id: connection.id(), event: 'reset', data: options.reset }));
    this.heartbeat ??= setInterval(() => {
      for (const open of this.connections.values()) open.heartbeat();
    }, this.config.sseHeartbeatMs).unref();
    if (options.expiresAt !== undefined) connection.expiry = this.expiries.add(connection, options.expiresAt);

    connection.subscriptions = options.topics.map(({ stream, source }, index) => {
      const subscription = new Subscription(connection, stream, index, source, this.onCursorError);
      let set = this.byStream.get(stream);
      if (!set) this.byStream.set(stream, (set = new Set()));
      set.add(subscription);
      return subscription;
    });
    if (connection.closed) {
      this.remove(connection); // the client left while we were setting up
      return undefined;
    }
    return connection;
  }

  private headFor(headers: readonly string[] = SSE_HEADERS): StreamHead {
    let head = this.heads.get(headers);
    if (!head) this.heads.set(headers, (head = new StreamHead(headers)));
    return head;
  }

  /** Whether `res` became a stream (its head is written): after that, an error just ends it. */
  started(res: ServerResponse): boolean {
    return this.byResponse.has(res);
  }

  /** Whether any stream here reads the log (if none, there is no event to build). */
  reads(stream: string): boolean {
    return this.byStream.has(stream);
  }

  /** Builds the event's bytes once and offers them to every stream that reads the log. */
  deliver(stream: string, text: SseEventText): void {
    const readers = this.byStream.get(stream);
    if (!readers) return;
    const frame = new SseFrame(text);
    for (const sub of readers) sub.cursor.offer(frame);
  }

  /** Writes an event without an id (pong, probe) to one of the user's streams; false if there is none. */
  writeTo(connectionId: string, userId: number, chunk: string, payloadBytes?: number): boolean {
    const connection = this.connections.get(connectionId);
    if (!connection || connection.userId !== userId) return false;
    return connection.write(chunk, payloadBytes ?? CONTROL_WRITE);
  }

  /** A private stream whose session ended (expired or revoked): told `auth-expired`, then ended. */
  private expire(connection: SseConnection): void {
    connection.expiry = undefined;
    connection.write(AUTH_EXPIRED);
    this.remove(connection, 'session_expired');
  }

  /** A session was revoked (signed out): its private streams end as if it had expired. Returns how many. */
  endSession(sessionId: string): number {
    let count = 0;
    for (const connection of [...this.connections.values()]) {
      if (connection.sessionId !== sessionId) continue;
      if (connection.expiry !== undefined) this.expiries.remove(connection, connection.expiry);
      this.expire(connection);
      count++;
    }
    return count;
  }

  /** The sessions that open private streams were opened with. */
  sessionIds(): Set<string> {
    const ids = new Set<string>();
    for (const connection of this.connections.values()) if (connection.sessionId !== undefined) ids.add(connection.sessionId);
    return ids;
  }

  /** Ends every stream of a user, as a network failure would (the network simulation); returns how many. */
  closeUser(userId: number): number {
    let count = 0;
    for (const connection of [...this.connections.values()]) {
      if (connection.userId !== userId) continue;
      this.remove(connection, 'error');
      count++;
    }
    return count;
  }

  /** Ends every stream: browsers reconnect with Last-Event-ID. */
  closeAll(reason: DisconnectReason = 'shutdown'): void {
    for (const connection of [...this.connections.values()]) this.remove(connection, reason);
  }

  /** On shutdown, end every stream so the HTTP server can close and browsers reconnect elsewhere. */
  drain(): void {
    this.closeAll();
    this.expiries.stop();
  }

  /** The bus may have dropped events: every reader reads its logs past its position. */
  resync(): void {
    for (const subscriptions of this.byStream.values()) for (const s of subscriptions) s.cursor.catchUp();
  }

  private remove(connection: SseConnection, reason: DisconnectReason = 'client'): void {
    connection.close();
    if (this.connections.delete(connection.connectionId)) this.telemetry.closed(connection.meter, reason);
    if (connection.expiry !== undefined) this.expiries.remove(connection, connection.expiry);
    connection.expiry = undefined;
    for (const subscription of connection.subscriptions) {
      const set = this.byStream.get(subscription.stream);
      if (!set?.delete(subscription) || set.size > 0) continue;
      this.byStream.delete(subscription.stream);
    }
    if (this.connections.size === 0 && this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
  }
}
