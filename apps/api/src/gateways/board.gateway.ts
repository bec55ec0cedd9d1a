import { UseFilters } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { wsFrame, type BoardClientFrames } from '@rt/protocol';
import type WebSocket from 'ws';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { boardFrameProblem, boardTopic, toBoardWrite } from '../dtos/board.dto.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';
import { BoardService } from '../services/board.service.js';
import { FanoutService } from '../services/fanout.service.js';
import { WsErrorFilter } from './ws-error.filter.js';

type BoardEvent = keyof BoardClientFrames;

/**
 * The room boards over the same `/ws` as chat (a gateway of its own: the adapter routes each
 * event to the gateway that handles it). Frames are checked here for shape; the log decides
 * the rest. A socket draws on a board only after `board-join` on that socket.
 */
@WebSocketGateway({ path: '/ws' })
@UseFilters(WsErrorFilter)
export class BoardGateway {
  /**
   * Room ids by name, learnt at `board-join`: rooms are never renamed or deleted, so this never
   * goes stale, and it holds at most one entry per room (rooms are rate-limited to create).
   */
  private readonly ids = new Map<string, number>();

  constructor(
    private readonly board: BoardService,
    private readonly fanout: FanoutService,
    private readonly websockets: WebSocketRepository,
  ) {}

  /** `board-join {room, after?}`: the picture or the entries after `after`, `board-joined`, then live entries. */
  @SubscribeMessage('board-join')
  async join(@ConnectedSocket() socket: WebSocket, @MessageBody() raw: Record<string, unknown>): Promise<void> {
    const data = this.checked('board-join', raw);
    this.user(socket);
    const room = await this.board.room(data.room);
    this.ids.set(room.name, room.id);
    await this.websockets.subscribeLog(socket, boardTopic(room.id), this.fanout.boardSource(room, data.after), (seq) =>
      this.websockets.send(socket, wsFrame('board-joined', { room: room.name, seq })),
    );
  }

  /** `board-leave {room}` */
  @SubscribeMessage('board-leave')
  leave(@ConnectedSocket() socket: WebSocket, @MessageBody() raw: Record<string, unknown>): void {
    const data = this.checked('board-leave', raw);
    const id = this.ids.get(data.room);
    if (id !== undefined) this.websockets.leaveLog(socket, boardTopic(id));
    this.websockets.send(socket, wsFrame('board-left', { room: data.room }));
  }

  /** `board-stroke {room, s, i, p, c?, w?, e?}`: stored in the socket's send order; the entry coming back is the ack. */
  @SubscribeMessage('board-stroke')
  stroke(@ConnectedSocket() socket: WebSocket, @MessageBody() raw: Record<string, unknown>): Promise<void> {
    return this.write(socket, 'board-stroke', raw);
  }

  /** `board-undo {room, s}`: removes the author's own stroke. */
  @SubscribeMessage('board-undo')
  undo(@ConnectedSocket() socket: WebSocket, @MessageBody() raw: Record<string, unknown>): Promise<void> {
    return this.write(socket, 'board-undo', raw);
  }

  /** `board-clear {room, id}` */
  @SubscribeMessage('board-clear')
  clear(@ConnectedSocket() socket: WebSocket, @MessageBody() raw: Record<string, unknown>): Promise<void> {
    return this.write(socket, 'board-clear', raw);
  }

  /** `board-cursor {room, x, y}`: shown to the others, not stored; over the rate, dropped. */
  @SubscribeMessage('board-cursor')
  async cursor(@ConnectedSocket() socket: WebSocket, @MessageBody() raw: Record<string, unknown>): Promise<void> {
    const data = this.checked('board-cursor', raw);
    const { user, roomId } = this.member(socket, data.room);
    await this.board.cursor(user, { id: roomId, name: data.room }, data.x, data.y);
  }

  private async write(socket: WebSocket, event: 'board-stroke' | 'board-undo' | 'board-clear', raw: Record<string, unknown>): Promise<void> {
    const data = this.checked(event, raw);
    const { user, roomId } = this.member(socket, data.room);
    const w = toBoardWrite(event, data, user.username);
    // In the socket's order, pipelined into the group commit (a drawer's 60 segments a second share commits).
    await this.websockets.inOrder(socket, (queued) => {
      const stored = this.board.write(user, roomId, w);
      queued(w.kind === 's' || w.kind === 'p' ? 8 * w.points.length : 16);
      return stored;
    });
  }

  private checked<E extends BoardEvent>(event: E, raw: Record<string, unknown>): BoardClientFrames[E] {
    const problem = boardFrameProblem(event, raw);
    if (problem) throw new DomainError('invalid', problem);
    return raw as unknown as BoardClientFrames[E];
  }

  private user(socket: WebSocket): UserEntity {
    const connection = this.websockets.connection(socket);
    if (!connection) throw new DomainError('unauthenticated', 'connection is closing');
    return connection.user;
  }

  /** The socket's user, who must have joined the room's board on this socket. */
  private member(socket: WebSocket, room: string): { user: UserEntity; roomId: number } {
    const user = this.user(socket);
    const roomId = this.ids.get(room);
    if (roomId === undefined || !this.websockets.isSubscribed(socket, boardTopic(roomId))) throw new DomainError('not_joined', `board-join "${room}" before drawing on it`);
    return { user, roomId };
  }
}
