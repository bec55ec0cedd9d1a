import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import { GaplessCursor, type CursorSource } from '../domain/gapless-cursor.js';
import { formatComposite } from '../domain/stream-position.js';
import { ExpirySweep } from './expiry-sweep.js';
import { DeliveryScheduler, NetsimRepository } from './netsim.repository.js';
import { TelemetryRepository, type ConnectionMeter, type DisconnectReason } from './telemetry.repository.js';

/** The response headers of every event stream (see docs/protocol.md). */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

/**
 * A prepared event of one log: its seq, the SSE text after the `id:` line (`body` names the
 * event, for multiplexed streams; `plain` leaves the log's default event unnamed, for
 * single-topic streams), and its data's size. Both are built once per event.
 */
export interface SseFrame {
  seq: number;
  body: string;
  plain: string;
  payloadBytes: number;
}

/** One topic carried by a stream. */
export interface SseTopic {
  topic: string;
  /** The log it reads (`user:12`, `blog:3`). */
  stream: string;
  /** The position to replay from. */
  start: number;
  source: CursorSource<SseFrame>;
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
}

/** A stream's reading of one log; the same object sits in the log's set of readers. */
interface Subscription {
  connection: SseConnection;
  stream: string;
  topic: string;
  cursor: GaplessCursor<SseFrame>;
}

/** One open event stream: a response we keep writing to. */
class SseConnection {
  readonly subscriptions: Subscription[] = [];
  readonly positions = new Map<string, number>();
  /** The stream's group in the session-expiry sweep (private streams). */
  expiry?: number;
  closed = false;
  connectionId = '';
  userId: number | null = null;
  sessionId?: string;
  scheduler = new DeliveryScheduler();
  meter?: ConnectionMeter;

  constructor(
    private readonly res: ServerResponse,
    readonly order: string[],
    readonly composite: boolean,
    private readonly maxBuffered: number,
    private readonly onSlow: () => void,
    private readonly onSent: (payloadBytes: number, replayed: boolean) => void,
  ) {}

  id(): string {
    return this.composite ? formatComposite(this.order, this.positions) : String(this.positions.get(this.order[0]!) ?? 0);
  }

  event(topic: string, frame: SseFrame, replayed: boolean): void {
    this.positions.set(topic, frame.seq);
    if (this.write(`id: ${this.id()}\n${this.composite ? frame.body : frame.plain}`)) this.onSent(frame.payloadBytes, replayed);
  }

  /**
   * Writes unless closed. A reader that lets more than the cap pile up is ended instead: it
   * reconnects with Last-Event-ID and the log fills the gap.
   */
  write(chunk: string, control = false): boolean {
    if (this.closed || this.res.writableEnded) return false;
    if (this.res.writableLength > this.maxBuffered) {
      this.onSlow();
      return false;
    }
    if (this.scheduler.idle()) this.emit(chunk, control);
    else {
      this.scheduler.run(() => {
        if (!this.closed && !this.res.writableEnded) this.emit(chunk, control);
      });
    }
    return true;
  }

  /** A control chunk (no message: heartbeat, `retry:`, `hello`, `pong`) is measured as such on the socket. */
  private emit(chunk: string, control: boolean): void {
    if (control && this.meter) this.meter.control(() => this.res.write(chunk));
    else this.res.write(chunk);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subscriptions) s.cursor.stop();
    if (!this.res.writableEnded) this.res.end();
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
  private readonly expiries = new ExpirySweep<SseConnection>((connection) => this.expire(connection));

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly telemetry: TelemetryRepository,
    private readonly netsim: NetsimRepository,
  ) {}

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
  async open(req: IncomingMessage, res: ServerResponse, options: SseOpenOptions): Promise<void> {
    const connection: SseConnection = new SseConnection(
      res,
      options.topics.map((t) => t.topic),
      options.composite,
      this.config.sseMaxBufferedBytes,
      () => {
        this.logger.warn('ending a slow SSE reader');
        this.remove(connection, 'slow_consumer');
      },
      (payloadBytes, replayed) => connection.meter?.sent(payloadBytes, replayed),
    );
    for (const t of options.topics) connection.positions.set(t.topic, t.start);
    connection.connectionId = `${this.instance}-s${++this.nextId}`;
    connection.userId = options.userId ?? null;
    connection.sessionId = options.sessionId;
    if (connection.userId !== null) connection.scheduler = new DeliveryScheduler(this.netsim.for(connection.userId));
    this.connections.set(connection.connectionId, connection);
    const onClose = () => this.remove(connection);
    req.once('close', onClose);
    res.once('close', onClose);

    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    // Counted from here: the response head is already written, so wire bytes exclude it.
    if (res.socket) connection.meter = this.telemetry.opened(connection, 'sse', res.socket, { id: connection.connectionId, userId: connection.userId });
    if (options.resumed) this.telemetry.resumed('sse');
    connection.write(`retry: ${this.config.sseRetryMs}\n\n`, true);
    // No id: line, so it does not move the browser's Last-Event-ID.
    connection.write(`event: hello\ndata: ${JSON.stringify({ connectionId: connection.connectionId, serverTime: performance.timeOrigin + performance.now() })}\n\n`, true);
    if (options.reset) connection.write(`id: ${connection.id()}\nevent: reset\ndata: ${options.reset}\n\n`);
    this.heartbeat ??= setInterval(() => {
      for (const open of this.connections.values()) open.write(': heartbeat\n\n', true);
    }, this.config.sseHeartbeatMs).unref();
    if (options.expiresAt !== undefined) connection.expiry = this.expiries.add(connection, options.expiresAt);

    for (const topic of options.topics) {
      const cursor = new GaplessCursor<SseFrame>({
        source: topic.source,
        deliver: (frame, live) => connection.event(topic.topic, frame, !live),
        onError: (err) => {
          this.logger.error(`${topic.stream}: cannot keep the stream in order; ending it`, err instanceof Error ? err.stack : String(err));
          this.remove(connection, 'error');
        },
      });
      const subscription: Subscription = { connection, stream: topic.stream, topic: topic.topic, cursor };
      connection.subscriptions.push(subscription);
      let set = this.byStream.get(topic.stream);
      if (!set) this.byStream.set(topic.stream, (set = new Set()));
      set.add(subscription);
    }
    if (connection.closed) {
      this.remove(connection); // the client left while we were setting up
      return;
    }
    for (const s of connection.subscriptions) await s.cursor.start();
  }

  /** Offers one prepared event to every stream that reads the log. */
  deliver(stream: string, frame: SseFrame): void {
    for (const sub of this.byStream.get(stream) ?? []) sub.cursor.offer(frame);
  }

  /** Writes an event without an id (pong, probe) to one of the user's streams; false if there is none. */
  writeTo(connectionId: string, userId: number, chunk: string, payloadBytes?: number): boolean {
    const connection = this.connections.get(connectionId);
    if (!connection || connection.userId !== userId) return false;
    const written = connection.write(chunk, payloadBytes === undefined);
    if (written && payloadBytes !== undefined) connection.meter?.sent(payloadBytes, false);
    return written;
  }

  /** A private stream whose session ended (expired or revoked): told `auth-expired`, then ended. */
  private expire(connection: SseConnection): void {
    connection.expiry = undefined;
    connection.write('event: auth-expired\ndata: {}\n\n');
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
    if (this.connections.delete(connection.connectionId)) this.telemetry.closed(connection, reason);
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
