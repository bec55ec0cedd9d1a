import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { WsCloseCode, wsFrame } from '@rt/protocol';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import * as wsModule from 'ws';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { UserEntity } from '../domain/entities.js';
import { GaplessCursor, type CursorSource } from '../domain/gapless-cursor.js';
import { waitAtMost } from '../domain/deadline.js';
import { ExpirySweep } from '../domain/expiry-sweep.js';
import { DeliveryScheduler, NetsimRepository } from './netsim.repository.js';
import { TurnCork } from './turn-cork.js';
import { TelemetryRepository, type ConnectionMeter, type DisconnectReason } from './telemetry.repository.js';

/** ws's framing, to frame a message once (`Sender.frame`; @types/ws does not declare it). */
const frameText = (wsModule as unknown as { Sender: { frame: (data: Buffer, options: Record<string, unknown>) => Buffer[] } }).Sender.frame;

/** An unmasked, uncompressed, final text frame: what a server sends (RFC 6455 5.2). */
const TEXT_FRAME_OPTIONS = { fin: true, opcode: 1, mask: false, readOnly: true, rsv1: false } as const;

/**
 * A text frame built once, at the byte level, for every recipient: `wire` is the whole RFC 6455
 * frame (header and payload in one Buffer), written as-is to each socket that negotiated no
 * extension; `payload` is its UTF-8 text, which goes through ws's own sender on a socket with
 * permessage-deflate (ws compresses, and queues frames while it does, so bypassing it there could
 * reorder them).
 */
export class WsFrame {
  readonly payload: Buffer;
  readonly wire: Buffer;

  constructor(text: string) {
    this.payload = Buffer.from(text);
    this.wire = Buffer.concat(frameText(this.payload, TEXT_FRAME_OPTIONS));
  }
}

/**
 * A frame with its position in a room's log: a {@link WsFrame} when it is built once for many
 * readers (live broadcasts, resume pages shared by a burst of rejoins), a string when it is built
 * for one reader (a join's history, a catch-up).
 */
export interface SequencedFrame {
  seq: number;
  frame: string | WsFrame;
}


interface Subscription {
  socket: WebSocket;
  room: string;
  /** Settles once the join's replay is done (a second join of the room waits for it). */
  ready?: Promise<void>;
  /** The room's readers on this instance (the set this subscription is in). */
  readers: RoomReaders;
  /** The room's messages, by seq. */
  messages: GaplessCursor<SequencedFrame>;
  /** The room's edits and deletes, by rev (a sparse log). */
  changes: GaplessCursor<SequencedFrame>;
}

/**
 * A socket's subscription to a log of its own beside the rooms' (a room's board: `board:<id>`):
 * one cursor, so the log's entries reach it in order and once, replayed or live.
 */
interface LogSubscription {
  socket: WebSocket;
  topic: string;
  userId: number;
  /** Settles once the subscription's replay is done (a second subscribe waits for it). */
  ready?: Promise<void>;
  /** The topic's readers on this instance (the set this subscription is in). */
  readers: Set<LogSubscription>;
  cursor: GaplessCursor<SequencedFrame>;
}

/** The readers of one room on this instance, and the room's id (what `message` frames carry). */
interface RoomReaders {
  id: number;
  members: Set<Subscription>;
}

interface Connection {
  id: string;
  user: UserEntity;
  rooms: Map<string, Subscription>;
  /** Its other logs (boards), by topic. */
  logs: Map<string, LogSubscription>;
  alive: boolean;
  /** Being closed as a slow consumer: nothing more is written to it. */
  closing: boolean;
  /** Why we closed it, if we did (telemetry); otherwise the client went away. */
  reason?: DisconnectReason;
  /** Writes, through the user's network simulation if any. */
  scheduler: DeliveryScheduler;
  /** The connection's group in the expiry sweep. */
  expiry?: number;
  /** The session it was opened with: revoking it closes the socket. */
  sessionId?: string;
  /** Counts what is written (set once the TCP socket is known). */
  meter?: ConnectionMeter;
  /**
   * The TCP socket, when prebuilt frames may be written to it directly: ws negotiated no
   * extension, so its sender writes every frame synchronously, in call order, and ours
   * interleave with its own (pings, close) exactly as if it had written them.
   */
  direct?: Socket;
  /** Its socket is corked until the end of this turn ({@link TurnCork}). */
  corked?: boolean;
  /** Settles once the last of the client's writes has its place in the queue ({@link WebSocketRepository.inOrder}). */
  tail?: Promise<void>;
  /** Settles once the last of the client's writes has settled, after every earlier one. */
  answered?: Promise<void>;
  /** Bytes of the client's writes queued in the group commit and not yet settled. */
  inFlightBytes: number;
}

const settle = (): void => undefined;

/** Options of every Buffer we hand to ws: a text frame, not binary (allocated once). */
const TEXT_FRAME = { binary: false } as const;

/** The rooms of a connection that has joined none (most idle sockets): shared, never written to. */
const NO_ROOMS: Map<string, Subscription> = new Map();
/** The same for other logs: nearly every socket reads none. */
const NO_LOGS: Map<string, LogSubscription> = new Map();

/** Frames per replay page. */
const REPLAY_PAGE = 200;

/**
 * The registry of open WebSockets: who is behind each socket, which rooms it reads, and its
 * health. Everything the server writes to a WebSocket goes through here, so the limits (slow
 * consumers, expired sessions, dead peers) are enforced in one place.
 */
@Injectable()
export class WebSocketRepository implements OnModuleInit {
  private readonly logger = new Logger('WebSocket');
  private readonly rooms = new Map<string, RoomReaders>();
  /** Readers of other logs (boards) on this instance, by topic. */
  private readonly logs = new Map<string, Set<LogSubscription>>();
  private readonly sockets = new Map<WebSocket, Connection>();
  /** Prefix of connection ids: the instance's name (INSTANCE_ID), so ids are unique across instances. */
  private get instance(): string {
    return this.config.instanceId;
  }
  private nextId = 0;
  /** A connection's writes in flight in the group commit, at most (see {@link inOrder}): a sixteenth of the send cap, up to 64 KiB. */
  private readonly pipelineBytes: number;
  /** Holds each socket's writes to the end of the turn: one write per socket per batch ({@link TurnCork}). */
  private readonly cork: TurnCork<Connection>;
  private heartbeat?: NodeJS.Timeout;
  /** Closes sockets whose session has expired, with 4001 so the client renews it and reconnects. */
  private readonly expiries = new ExpirySweep<WebSocket>((socket) => this.expire(socket));

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly telemetry: TelemetryRepository,
    private readonly netsim: NetsimRepository,
  ) {
    this.pipelineBytes = Math.min(64 * 1024, Math.floor(config.wsMaxBufferedBytes / 16));
    this.cork = new TurnCork<Connection>(Math.min(64 * 1024, Math.floor(config.wsMaxBufferedBytes / 4)), (c) => c.meter?.catchUp());
  }

  /** The client answered a heartbeat ping (the adapter's sockets call this: no listener per socket). */
  markAlive(socket: WebSocket): void {
    const connection = this.sockets.get(socket);
    if (connection) connection.alive = true;
  }

  /** The client pinged: the pong is a reply like any other, counted against the send cap. */
  answerPing(socket: WebSocket, data: Buffer): void {
    if (this.overCap(socket)) return;
    if (socket.readyState === WebSocket.OPEN) socket.pong(data);
  }

  /**
   * Protocol-level heartbeat: every interval, a socket that has not answered the previous ping
   * is terminated (its peer is gone without a close), and the others are pinged again.
   */
  onModuleInit(): void {
    this.heartbeat = setInterval(() => {
      for (const [socket, connection] of this.sockets) {
        if (!connection.alive) {
          connection.reason = 'heartbeat';
          socket.terminate();
          continue;
        }
        connection.alive = false;
        if (connection.meter) connection.meter.control((done) => socket.ping(undefined, undefined, done));
        else socket.ping();
      }
    }, this.config.wsPingIntervalMs);
    this.heartbeat.unref();
  }

  /**
   * On shutdown: tells every client to reconnect elsewhere (1012) and resolves once their sockets
   * have closed, or after `graceMs`, when those whose peers did not answer are cut.
   */
  async drain(graceMs: number): Promise<void> {
    clearInterval(this.heartbeat);
    this.expiries.stop();
    const closed: Promise<void>[] = [];
    for (const [socket, connection] of this.sockets) {
      connection.reason = 'shutdown';
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
      socket.close(WsCloseCode.serviceRestart, 'server restarting: reconnect');
    }
    await waitAtMost(Promise.all(closed), graceMs);
    for (const socket of this.sockets.keys()) socket.terminate();
  }

  /** The bus may have dropped events: every reader reads its room's logs past its position. */
  resync(): void {
    for (const { members } of this.rooms.values()) {
      for (const subscription of members) {
        subscription.messages.catchUp();
        subscription.changes.catchUp();
      }
    }
    for (const readers of this.logs.values()) for (const subscription of readers) subscription.cursor.catchUp();
  }

  /**
   * Starts tracking a socket for `user`, whose session expires at `expiresAt` (epoch ms): then
   * the socket is closed with 4001 so the client renews the session and reconnects.
   * @returns the connection's id.
   */
  register(socket: WebSocket, user: UserEntity, expiresAt: number, tcp?: Socket, sessionId?: string): string {
    // Every field present from the start: one fixed shape with the fields in the object itself
    // (fields added later would go to a separate properties array, per connection).
    const connection: Connection = {
      id: `${this.instance}-${++this.nextId}`,
      user,
      rooms: NO_ROOMS,
      logs: NO_LOGS,
      alive: true,
      closing: false,
      reason: undefined,
      scheduler: this.netsim.scheduler(user.id),
      expiry: undefined,
      sessionId,
      meter: undefined,
      direct: undefined,
      corked: undefined,
      tail: undefined,
      answered: undefined,
      inFlightBytes: 0,
    };
    // Counted from here: the 101 handshake is already written, so wire bytes exclude it.
    if (tcp) {
      connection.meter = this.telemetry.opened('ws', tcp, { id: connection.id, userId: user.id });
      if (socket.extensions === '') connection.direct = tcp;
    }
    this.sockets.set(socket, connection);
    connection.expiry = this.expiries.add(socket, expiresAt);
    this.write(socket, wsFrame('hello', { connectionId: connection.id, serverTime: performance.timeOrigin + performance.now() }), false, connection);
    return connection.id;
  }

  /**
   * Runs one of the client's writes (message, edit, delete) in the order the client sent them,
   * and settles them in that order (acks and error frames go out in send order). Handlers run
   * concurrently, and on PostgreSQL so do transactions: without this, three messages sent back
   * to back could take their sequence numbers in any order. Other clients' writes are not held up.
   *
   * `fn` gets `queued(bytes)`: a write that calls it once it has its place in the group commit's
   * queue lets the next one start then (a message: pipelined, so a burst shares a commit), as
   * long as the connection's writes in flight stay within {@link pipelineBytes}; past that, and
   * for a write that does not call it (an edit or delete), the next waits until this one settles.
   * The bound keeps one sender's burst from landing on every reader in one batch (on PostgreSQL
   * a batch takes everything that arrived while the previous one ran): a batch brings each
   * reader at most that much per sender.
   */
  inOrder<T>(socket: WebSocket, fn: (queued: (bytes: number) => void) => Promise<T>): Promise<T> {
    const connection = this.sockets.get(socket);
    if (!connection) return fn(settle);
    let release: () => void = settle;
    const turn = new Promise<void>((resolve) => (release = resolve));
    let weight = 0;
    const queued = (bytes: number) => {
      weight = bytes;
      connection.inFlightBytes += bytes;
      if (connection.inFlightBytes <= this.pipelineBytes) release();
    };
    const run = connection.tail ? connection.tail.then(() => fn(queued)) : fn(queued);
    const answer = connection.answered ? connection.answered.then(() => run) : run;
    const done = () => {
      connection.inFlightBytes -= weight;
      release();
    };
    run.then(done, done);
    const answered = answer.then(settle, settle);
    connection.tail = turn;
    connection.answered = answered;
    void turn.then(() => {
      if (connection.tail === turn) connection.tail = undefined;
    });
    void answered.then(() => {
      if (connection.answered === answered) connection.answered = undefined;
    });
    return answer;
  }

  connection(socket: WebSocket): { id: string; user: UserEntity } | undefined {
    return this.sockets.get(socket);
  }

  isJoined(socket: WebSocket, room: string): boolean {
    return this.sockets.get(socket)?.rooms.has(room) ?? false;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Subscribes the socket to a room's two logs: replays what the sources say (messages first,
   * then changes), calls `onJoined`, then sends live frames of both, each in order and once.
   * A join of a room the socket is already in replays nothing: once the first join's replay is
   * done, `onJoined` gets the current position (so a flood of joins costs a frame each, not a
   * replay each). Returns false for such a repeated join.
   */
  async join(
    socket: WebSocket,
    { name: room, id: roomId }: { name: string; id: number },
    sources: { messages: CursorSource<SequencedFrame>; changes: CursorSource<SequencedFrame> },
    onJoined: (position: { lastSeq: number; lastRev: number }) => void,
  ): Promise<boolean> {
    const connection = this.sockets.get(socket);
    if (!connection) return false;
    const existing = connection.rooms.get(room);
    if (existing) {
      await existing.ready;
      if (connection.rooms.get(room) === existing) onJoined({ lastSeq: existing.messages.current, lastRev: existing.changes.current });
      return false;
    }
    const onError = (err: unknown) => {
      this.logger.error(`room ${room}: cannot keep the reader in order; closing its socket`, err instanceof Error ? err.stack : String(err));
      socket.close(WsCloseCode.internalError, 'resume required');
    };
    // Every frame counts against the send-buffer cap, replayed or live, and the next replay page
    // is read only once the socket has drained: a long replay is paced by the reader, and a
    // reader that does not read is cut (4008) instead of piling pages up in memory.
    const deliver = (item: SequencedFrame, live: boolean) => this.send(socket, item.frame, connection, !live);
    const paced = (source: CursorSource<SequencedFrame>): CursorSource<SequencedFrame> => ({
      initial: () => source.initial(),
      after: async (after, limit) => {
        await this.drained(socket);
        return source.after(after, limit);
      },
    });
    let readers = this.rooms.get(room);
    if (!readers) this.rooms.set(room, (readers = { id: roomId, members: new Set() }));
    const subscription: Subscription = {
      socket,
      room,
      readers,
      messages: new GaplessCursor({ source: paced(sources.messages), deliver, onError, pageSize: REPLAY_PAGE }),
      changes: new GaplessCursor({ source: paced(sources.changes), deliver, onError, pageSize: REPLAY_PAGE, sparse: true }),
    };
    if (connection.rooms === NO_ROOMS) connection.rooms = new Map();
    connection.rooms.set(room, subscription);
    readers.members.add(subscription);
    const replay = (async () => {
      await subscription.messages.start();
      await subscription.changes.start();
    })();
    subscription.ready = replay.then(settle, settle);
    await replay;
    if (connection.rooms.get(room) === subscription) {
      onJoined({ lastSeq: subscription.messages.current, lastRev: subscription.changes.current });
    }
    return true;
  }

  /**
   * Subscribes the socket to a log that is not a room's (a board, `topic`): replays what the
   * source says, calls `onJoined` with the position reached, then sends live entries, in order
   * and once, paced and capped like a room's. A repeated subscribe replays nothing (`onJoined`
   * gets the current position) and returns false.
   */
  async subscribeLog(socket: WebSocket, topic: string, source: CursorSource<SequencedFrame>, onJoined: (position: number) => void): Promise<boolean> {
    const connection = this.sockets.get(socket);
    if (!connection) return false;
    const existing = connection.logs.get(topic);
    if (existing) {
      await existing.ready;
      if (connection.logs.get(topic) === existing) onJoined(existing.cursor.current);
      return false;
    }
    let readers = this.logs.get(topic);
    if (!readers) this.logs.set(topic, (readers = new Set()));
    const subscription: LogSubscription = {
      socket,
      topic,
      userId: connection.user.id,
      readers,
      cursor: new GaplessCursor({
        source: {
          initial: () => source.initial(),
          after: async (after, limit) => {
            await this.drained(socket);
            return source.after(after, limit);
          },
        },
        deliver: (item, live) => this.send(socket, item.frame, connection, !live),
        onError: (err) => {
          this.logger.error(`${topic}: cannot keep the reader in order; closing its socket`, err instanceof Error ? err.stack : String(err));
          socket.close(WsCloseCode.internalError, 'resume required');
        },
        pageSize: REPLAY_PAGE,
      }),
    };
    if (connection.logs === NO_LOGS) connection.logs = new Map();
    connection.logs.set(topic, subscription);
    readers.add(subscription);
    const replay = subscription.cursor.start();
    subscription.ready = replay.then(settle, settle);
    await replay;
    if (connection.logs.get(topic) === subscription) onJoined(subscription.cursor.current);
    return true;
  }

  /** Whether the socket reads `topic` (see {@link subscribeLog}). */
  isSubscribed(socket: WebSocket, topic: string): boolean {
    return this.sockets.get(socket)?.logs.has(topic) ?? false;
  }

  /** Unsubscribes the socket from `topic`; true if it was subscribed. */
  leaveLog(socket: WebSocket, topic: string): boolean {
    const subscription = this.sockets.get(socket)?.logs.get(topic);
    if (!subscription) return false;
    this.unsubscribeLog(subscription);
    return true;
  }

  /** Whether `topic` has readers on this instance (else there is no frame to build). */
  readsLog(topic: string): boolean {
    return this.logs.has(topic);
  }

  /** Offers one prepared entry frame to every reader of `topic`. */
  broadcastLog(topic: string, item: SequencedFrame): void {
    const readers = this.logs.get(topic);
    if (readers) for (const subscription of readers) subscription.cursor.offer(item);
  }

  /** Sends an unsequenced frame (a board cursor) to every reader of `topic`, except one user's. */
  broadcastLogVolatile(topic: string, frame: WsFrame, exceptUserId?: number): void {
    const readers = this.logs.get(topic);
    if (!readers) return;
    for (const subscription of readers) if (subscription.userId !== exceptUserId) this.send(subscription.socket, frame);
  }

  private unsubscribeLog(subscription: LogSubscription): void {
    subscription.cursor.stop();
    this.sockets.get(subscription.socket)?.logs.delete(subscription.topic);
    subscription.readers.delete(subscription);
    if (subscription.readers.size === 0 && this.logs.get(subscription.topic) === subscription.readers) this.logs.delete(subscription.topic);
  }

  /** Unsubscribes the socket from the room; true if it was subscribed. */
  leave(socket: WebSocket, room: string): boolean {
    const subscription = this.sockets.get(socket)?.rooms.get(room);
    if (!subscription) return false;
    this.unsubscribe(subscription);
    return true;
  }

  /** Closes a socket whose session ended (expired or revoked) with 4001: the client renews and reconnects, or signs in. */
  private expire(socket: WebSocket): void {
    const connection = this.sockets.get(socket);
    if (!connection) return;
    connection.expiry = undefined;
    connection.reason = 'session_expired';
    socket.close(WsCloseCode.sessionExpired, 'session expired');
  }

  /** A session was revoked (signed out): its sockets close as if it had expired. Returns how many. */
  endSession(sessionId: string): number {
    let count = 0;
    for (const [socket, connection] of this.sockets) {
      if (connection.sessionId !== sessionId) continue;
      if (connection.expiry !== undefined) this.expiries.remove(socket, connection.expiry);
      this.expire(socket);
      count++;
    }
    return count;
  }

  /** The sessions that open sockets were opened with. */
  sessionIds(): Set<string> {
    const ids = new Set<string>();
    for (const connection of this.sockets.values()) if (connection.sessionId !== undefined) ids.add(connection.sessionId);
    return ids;
  }

  /** Forgets the socket; returns who it was and the rooms it had joined. */
  unregister(socket: WebSocket): { id: string; user: UserEntity; rooms: string[] } | undefined {
    const connection = this.sockets.get(socket);
    if (!connection) return undefined;
    this.telemetry.closed(connection.meter, connection.reason ?? 'client');
    if (connection.expiry !== undefined) this.expiries.remove(socket, connection.expiry);
    const rooms = [...connection.rooms.keys()];
    for (const subscription of connection.rooms.values()) this.unsubscribe(subscription);
    for (const subscription of connection.logs.values()) this.unsubscribeLog(subscription);
    this.sockets.delete(socket);
    return { id: connection.id, user: connection.user, rooms };
  }

  /**
   * Cuts every socket of a user without a closing handshake, as a network failure would (the
   * network simulation's `POST /api/netsim/drop`). Returns how many were cut.
   */
  terminateUser(userId: number): number {
    let count = 0;
    for (const [socket, connection] of this.sockets) {
      if (connection.user.id !== userId) continue;
      connection.reason = 'error';
      socket.terminate();
      count++;
    }
    return count;
  }

  /**
   * The id of a room that has readers on this instance; undefined when it has none (then there
   * is no frame to build).
   */
  roomId(room: string): number | undefined {
    return this.rooms.get(room)?.id;
  }

  /** Offers one prepared message frame to every reader of the room. */
  broadcastMessage(room: string, item: SequencedFrame): void {
    const readers = this.rooms.get(room);
    if (readers) for (const subscription of readers.members) subscription.messages.offer(item);
  }

  /** Offers one prepared change frame (edit, delete) to every reader of the room. */
  broadcastChange(room: string, item: SequencedFrame): void {
    const readers = this.rooms.get(room);
    if (readers) for (const subscription of readers.members) subscription.changes.offer(item);
  }

  /** Sends an unsequenced frame (presence, typing) to every socket in the room, except one user's. */
  broadcastVolatile(room: string, frame: WsFrame, exceptUserId?: number): void {
    const readers = this.rooms.get(room);
    if (!readers) return;
    for (const subscription of readers.members) {
      if (exceptUserId !== undefined && this.sockets.get(subscription.socket)?.user.id === exceptUserId) continue;
      this.send(subscription.socket, frame);
    }
  }

  /**
   * Writes a frame, unless the socket already has more than `wsMaxBufferedBytes` waiting to go
   * out: such a reader is closed with 4008 and resumes from the log after reconnecting, rather
   * than growing the server's memory without bound.
   */
  send(socket: WebSocket, frame: string | WsFrame, connection = this.sockets.get(socket), replayed = false): void {
    if (this.overCap(socket)) return;
    this.write(socket, frame, replayed, connection);
  }

  /**
   * Whether the socket has more than the cap waiting to go out; if so it is closed as a slow
   * consumer (once). Every reply passes here: broadcasts, replays, `joined`, error frames, pongs.
   */
  private overCap(socket: WebSocket): boolean {
    if (socket.bufferedAmount <= this.config.wsMaxBufferedBytes) return false;
    if (socket.readyState === WebSocket.OPEN && !this.sockets.get(socket)?.closing) {
      this.logger.warn(`closing a slow consumer (${socket.bufferedAmount} bytes waiting)`);
      this.closeSlow(socket);
    }
    return true;
  }

  /**
   * The one write path, run once per recipient per frame: kept free of allocations and lookups
   * when the user's deliveries are not impaired (the benchmark measures it against raw `ws`).
   */
  private write(socket: WebSocket, frame: string | WsFrame, replayed = false, connection = this.sockets.get(socket)): void {
    if (socket.readyState !== WebSocket.OPEN || connection?.closing) return;
    if (connection && !connection.scheduler.idle()) connection.scheduler.run(() => this.writeNow(socket, frame, replayed, connection));
    else this.writeNow(socket, frame, replayed, connection);
  }

  /** Writes a frame and has the meter count it once its bytes are in the kernel (see ConnectionMeter). */
  private writeNow(socket: WebSocket, frame: string | WsFrame, replayed: boolean, connection: Connection | undefined): void {
    if (socket.readyState !== WebSocket.OPEN) return;
    const meter = connection?.meter;
    const direct = connection?.direct;
    if (direct) this.cork.hold(connection, direct);
    if (typeof frame === 'string') {
      if (meter) socket.send(frame, meter.queued(Buffer.byteLength(frame), replayed));
      else socket.send(frame);
    } else if (direct) {
      // The same bytes for every recipient: one write of the prebuilt frame, nothing allocated
      // (a callback, always the same one, only when the socket already has writes queued).
      const done = meter?.callbackFor(frame.payload.length, replayed);
      direct.write(frame.wire, done);
      if (meter && done === undefined) meter.wrote(frame.payload.length, replayed);
    } else if (meter) socket.send(frame.payload, TEXT_FRAME, meter.queued(frame.payload.length, replayed));
    else socket.send(frame.payload, TEXT_FRAME);
    if (direct) this.cork.check(connection, direct);
  }

  /** An open socket of the user by its connection id. */
  socketById(id: string, userId: number): WebSocket | undefined {
    for (const [socket, connection] of this.sockets) if (connection.id === id && connection.user.id === userId) return socket;
    return undefined;
  }

  /** Writes a frame outside any room log (the probe), through the same path as everything else. */
  sendDirect(socket: WebSocket, frame: string | WsFrame): void {
    this.write(socket, frame);
  }

  /**
   * Resolves once the socket has at most half the cap waiting (or is closed). A reader that has
   * not drained within a ping interval is closed as a slow consumer: otherwise a client that
   * answers pings but never reads would hold a replay, and this poll, for ever.
   */
  private async drained(socket: WebSocket): Promise<void> {
    const giveUpAt = performance.now() + this.config.wsPingIntervalMs;
    while (socket.readyState === WebSocket.OPEN && socket.bufferedAmount > this.config.wsMaxBufferedBytes / 2) {
      if (performance.now() > giveUpAt) {
        this.logger.warn(`closing a slow consumer (not drained in ${this.config.wsPingIntervalMs} ms, ${socket.bufferedAmount} bytes waiting)`);
        this.closeSlow(socket);
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private closeSlow(socket: WebSocket): void {
    const connection = this.sockets.get(socket);
    if (connection) {
      connection.closing = true;
      connection.reason = 'slow_consumer';
    }
    socket.close(WsCloseCode.slowConsumer, 'too slow: reconnect and resume');
    // A peer that is not reading will not complete the closing handshake either.
    setTimeout(() => socket.terminate(), 5000).unref();
  }

  private unsubscribe(subscription: Subscription): void {
    subscription.messages.stop();
    subscription.changes.stop();
    this.sockets.get(subscription.socket)?.rooms.delete(subscription.room);
    const { readers } = subscription;
    readers.members.delete(subscription);
    if (readers.members.size === 0 && this.rooms.get(subscription.room) === readers) this.rooms.delete(subscription.room);
  }
}
