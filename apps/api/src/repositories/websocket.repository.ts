import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import WebSocket from 'ws';
import type { UserEntity } from '../domain/entities.js';
import { GaplessCursor, type CursorSource } from '../domain/gapless-cursor.js';

/** A frame prepared once for every recipient, with its position in the room's log. */
export interface SequencedFrame {
  seq: number;
  frame: string;
}

interface Subscription {
  socket: WebSocket;
  room: string;
  cursor: GaplessCursor<SequencedFrame>;
}

/** Close codes we use (documented in docs/protocol.md). */
export const WsCloseCode = {
  normal: 1000,
  goingAway: 1001,
  internalError: 1011,
  tooBig: 1009,
} as const;

/**
 * The registry of open WebSockets: who is behind each socket and which rooms it reads.
 * Everything the server writes to a WebSocket goes through here.
 */
@Injectable()
export class WebSocketRepository implements BeforeApplicationShutdown {
  private readonly logger = new Logger('WebSocket');
  private readonly rooms = new Map<string, Set<Subscription>>();
  private readonly sockets = new Map<WebSocket, { user: UserEntity; rooms: Map<string, Subscription> }>();

  /** On shutdown, tell every client we are going away (1001); they reconnect and resume. */
  beforeApplicationShutdown(): void {
    for (const socket of this.sockets.keys()) socket.close(WsCloseCode.goingAway, 'server shutting down');
  }

  register(socket: WebSocket, user: UserEntity): void {
    this.sockets.set(socket, { user, rooms: new Map() });
  }

  userOf(socket: WebSocket): UserEntity | undefined {
    return this.sockets.get(socket)?.user;
  }

  isJoined(socket: WebSocket, room: string): boolean {
    return this.sockets.get(socket)?.rooms.has(room) ?? false;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Subscribes the socket to a room's log: sends what `source` says to replay, calls `onJoined`,
   * then live frames, in order, each once. Joining again restarts from the new source.
   */
  async join(socket: WebSocket, room: string, source: CursorSource<SequencedFrame>, onJoined: (position: number) => void): Promise<void> {
    const entry = this.sockets.get(socket);
    if (!entry) return;
    this.leave(socket, room);
    const cursor = new GaplessCursor<SequencedFrame>({
      source,
      deliver: (item) => this.send(socket, item.frame),
      onCaughtUp: onJoined,
      onError: (err) => {
        this.logger.error(`room ${room}: cannot keep the reader in order; closing its socket`, err instanceof Error ? err.stack : String(err));
        socket.close(WsCloseCode.internalError, 'resume required');
      },
    });
    const subscription: Subscription = { socket, room, cursor };
    entry.rooms.set(room, subscription);
    let members = this.rooms.get(room);
    if (!members) this.rooms.set(room, (members = new Set()));
    members.add(subscription);
    await cursor.start();
  }

  leave(socket: WebSocket, room: string): void {
    const subscription = this.sockets.get(socket)?.rooms.get(room);
    if (subscription) this.unsubscribe(subscription);
  }

  /** Forgets the socket and all its subscriptions. */
  unregister(socket: WebSocket): void {
    const entry = this.sockets.get(socket);
    if (!entry) return;
    for (const subscription of entry.rooms.values()) this.unsubscribe(subscription);
    this.sockets.delete(socket);
  }

  /** Offers one prepared frame to every reader of the room. */
  broadcast(room: string, item: SequencedFrame): void {
    const members = this.rooms.get(room);
    if (!members) return;
    for (const subscription of members) subscription.cursor.offer(item);
  }

  send(socket: WebSocket, frame: string): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(frame);
  }

  private unsubscribe(subscription: Subscription): void {
    subscription.cursor.stop();
    this.sockets.get(subscription.socket)?.rooms.delete(subscription.room);
    const members = this.rooms.get(subscription.room);
    members?.delete(subscription);
    if (members?.size === 0) this.rooms.delete(subscription.room);
  }
}
