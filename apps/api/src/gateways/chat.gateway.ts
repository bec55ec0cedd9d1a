import { UseFilters } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import type WebSocket from 'ws';
import { DomainError } from '../domain/errors.js';
import { frame, JoinDto, PostMessageDto } from '../dtos/chat.dto.js';
import { WebSocketRepository, WsCloseCode } from '../repositories/websocket.repository.js';
import { ChatService } from '../services/chat.service.js';
import { FanoutService } from '../services/fanout.service.js';
import { WsErrorFilter } from './ws-error.filter.js';
import type { VerifiedUpgrade } from './ws.adapter.js';

/**
 * Chat over WebSocket at `/ws`, on the API's own port. The adapter has already authenticated
 * the upgrade; frames are `{event, data}` JSON (docs/protocol.md). `data` is validated against
 * the DTOs by the app's global ValidationPipe, whose 400s the filter turns into `invalid`.
 */
@WebSocketGateway({ path: '/ws' })
@UseFilters(WsErrorFilter)
export class ChatGateway implements OnGatewayConnection, OnGatewayDisconnect {
  constructor(
    private readonly chat: ChatService,
    private readonly fanout: FanoutService,
    private readonly websockets: WebSocketRepository,
  ) {}

  handleConnection(socket: WebSocket, request: VerifiedUpgrade): void {
    if (!request.user) {
      socket.close(WsCloseCode.internalError, 'unauthenticated');
      return;
    }
    this.websockets.register(socket, request.user);
  }

  handleDisconnect(socket: WebSocket): void {
    this.websockets.unregister(socket);
  }

  /** `join {room, afterSeq?}`: history (or what was missed), `joined`, then live messages. */
  @SubscribeMessage('join')
  async join(@ConnectedSocket() socket: WebSocket, @MessageBody() data: JoinDto): Promise<void> {
    const room = await this.chat.getRoom(data.room);
    await this.websockets.join(socket, room.name, this.fanout.roomSource(room, data.afterSeq), (lastSeq) =>
      this.websockets.send(socket, frame('joined', { room: room.name, lastSeq })),
    );
  }

  /** `message {room, text, clientId}`: stored, then broadcast to the room and acked to the sender. */
  @SubscribeMessage('message')
  async message(@ConnectedSocket() socket: WebSocket, @MessageBody() data: PostMessageDto): Promise<void> {
    const user = this.websockets.userOf(socket);
    if (!user) return;
    if (!this.websockets.isJoined(socket, data.room)) {
      throw new DomainError('not_joined', `join "${data.room}" before sending to it`);
    }
    const { message } = await this.chat.post(user, data.room, data.text, data.clientId);
    this.websockets.send(socket, frame('ack', { clientId: message.clientId, seq: message.seq, room: message.room }));
  }
}
