import { Logger, UseFilters } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import { WsCloseCode, wsFrame } from '@rt/protocol';
import type WebSocket from 'ws';
import type { UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { SendOrderGate } from '../domain/send-order.js';
import { EditDto, JoinDto, MessageRefDto, PingDto, postMessageProblem, RoomFrameDto, toPresenceFrame, type PostMessage } from '../dtos/chat.dto.js';
import { nowMs } from '../domain/clock.js';
import { TelemetryRepository } from '../repositories/telemetry.repository.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';
import { ChatService } from '../services/chat.service.js';
import { FanoutService } from '../services/fanout.service.js';
import { wsErrorFrame, WsErrorFilter } from './ws-error.filter.js';
import type { VerifiedUpgrade } from './ws.adapter.js';

/**
 * Chat over WebSocket at `/ws`, on the API's own port. The adapter has already authenticated
 * the upgrade; frames are `{event, data}` JSON (docs/protocol.md). `data` is validated against
 * the DTOs by the app's global ValidationPipe, whose 400s the filter turns into `invalid`.
 */
@WebSocketGateway({ path: '/ws' })
@UseFilters(WsErrorFilter)
export class ChatGateway implements OnGatewayConnection, OnGatewayDisconnect {
  /** A refused message holds back the later ones of its connection and room (docs/protocol.md, `out_of_order`). */
  private readonly sendOrder = new SendOrderGate<WebSocket>();
  private readonly logger = new Logger('WsGateway');

  constructor(
    private readonly chat: ChatService,
    private readonly fanout: FanoutService,
    private readonly websockets: WebSocketRepository,
    private readonly telemetry: TelemetryRepository,
  ) {}

  handleConnection(socket: WebSocket, request: VerifiedUpgrade): void {
    if (!request.user) {
      socket.close(WsCloseCode.internalError, 'unauthenticated');
      return;
    }
    this.websockets.register(socket, request.user, request.sessionExpiresAt, request.socket, request.sessionId);
  }

  async handleDisconnect(socket: WebSocket): Promise<void> {
    const gone = this.websockets.unregister(socket);
    if (!gone) return;
    for (const room of gone.rooms) await this.chat.exit(gone.user, room, gone.id);
  }

  /** `join {room, afterSeq?, afterRev?}`: the replay, `joined`, presence, then live traffic. */
  @SubscribeMessage('join')
  async join(@ConnectedSocket() socket: WebSocket, @MessageBody() data: JoinDto): Promise<void> {
    const { id, user } = this.connection(socket);
    const room = await this.chat.getRoom(data.room);
    if (data.afterSeq !== undefined && !this.websockets.isJoined(socket, room.name)) this.telemetry.resumed('ws');
    // Before any of the room's frames: `message` frames name the room by this id.
    this.websockets.send(socket, wsFrame('joining', { room: room.name, id: room.id }));
    const first = await this.websockets.join(socket, room, this.fanout.roomSources(room, data.afterSeq, data.afterRev), ({ lastSeq, lastRev }) =>
      this.websockets.send(socket, wsFrame('joined', { room: room.name, lastSeq, lastRev })),
    );
    // A repeated join was answered with the current position; presence already has this socket.
    if (!first || !this.websockets.isJoined(socket, room.name)) return; // (or it left or closed meanwhile)
    const users = await this.chat.enter(user, room, id);
    this.websockets.send(socket, toPresenceFrame(room.name, users));
  }

  /** `leave {room}` */
  @SubscribeMessage('leave')
  async leave(@ConnectedSocket() socket: WebSocket, @MessageBody() data: RoomFrameDto): Promise<void> {
    const { id, user } = this.connection(socket);
    if (this.websockets.leave(socket, data.room)) await this.chat.exit(user, data.room, id);
    this.websockets.send(socket, wsFrame('left', { room: data.room }));
  }

  /**
   * `message {room, text, clientId, first?}`: stored, broadcast to the room, then acked to the
   * sender. A connection's messages are pipelined into the group commit in the order they came;
   * the send-order gate is asked inside each one's unit, so it sees every earlier message's
   * outcome before deciding on the next.
   */
  @SubscribeMessage('message')
  async message(@ConnectedSocket() socket: WebSocket, @MessageBody() raw: Record<string, unknown>): Promise<void> {
    // Validated here, not by the ValidationPipe (it skips a plain-object parameter): see postMessageProblem.
    const problem = postMessageProblem(raw);
    if (problem) throw new DomainError('invalid', problem);
    const data = raw as unknown as PostMessage;
    const user = this.member(socket, data.room);
    let answer: string;
    try {
      const { message } = await this.websockets.inOrder(socket, (queued) => {
        const ticket = this.sendOrder.ticket(socket, data.room, data.clientId, data.first === true);
        const stored = this.chat.post(user, data.room, data.text, data.clientId, ticket);
        queued(data.text.length); // it has its place in the group commit: the next may queue behind it
        return stored;
      });
      answer = wsFrame('ack', { clientId: message.clientId, seq: message.seq, room: message.room });
    } catch (err) {
      // Answered here, not by the filter (a few turns later), so acks and refusals keep send order.
      answer = wsErrorFrame(err, data, this.logger);
    }
    this.websockets.send(socket, answer);
  }

  /** `edit {room, seq, text}` */
  @SubscribeMessage('edit')
  async edit(@ConnectedSocket() socket: WebSocket, @MessageBody() data: EditDto): Promise<void> {
    const user = this.member(socket, data.room);
    await this.websockets.inOrder(socket, () => this.chat.edit(user, data.room, data.seq, data.text));
  }

  /** `delete {room, seq}` */
  @SubscribeMessage('delete')
  async delete(@ConnectedSocket() socket: WebSocket, @MessageBody() data: MessageRefDto): Promise<void> {
    const user = this.member(socket, data.room);
    await this.websockets.inOrder(socket, () => this.chat.delete(user, data.room, data.seq));
  }

  /** `typing {room}` */
  @SubscribeMessage('typing')
  async typing(@ConnectedSocket() socket: WebSocket, @MessageBody() data: RoomFrameDto): Promise<void> {
    await this.chat.typing(this.member(socket, data.room), data.room);
  }

  /** `read {room, seq}` */
  @SubscribeMessage('read')
  async read(@ConnectedSocket() socket: WebSocket, @MessageBody() data: MessageRefDto): Promise<void> {
    await this.chat.markRead(this.member(socket, data.room), data.room, data.seq);
  }

  /** `ping {id, t}`: answered at once with the server's clock. */
  @SubscribeMessage('ping')
  ping(@ConnectedSocket() socket: WebSocket, @MessageBody() data: PingDto): void {
    this.websockets.send(socket, wsFrame('pong', { id: data.id, t: data.t, serverTime: nowMs() }));
  }

  private connection(socket: WebSocket): { id: string; user: UserEntity } {
    const connection = this.websockets.connection(socket);
    if (!connection) throw new DomainError('unauthenticated', 'connection is closing');
    return connection;
  }

  /** The socket's user, who must have joined `room` on this socket. */
  private member(socket: WebSocket, room: string): UserEntity {
    const { user } = this.connection(socket);
    if (!this.websockets.isJoined(socket, room)) throw new DomainError('not_joined', `join "${room}" before sending to it`);
    return user;
  }
}
