import { Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiCookieAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { UserEntity } from '../domain/entities.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
import { SseRepository } from '../repositories/sse.repository.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';
import { SESSION_COOKIE } from '../services/auth.service.js';

/** Network simulation on the caller's own connections only (see the metrics overlay). */
@ApiTags('netsim')
@ApiCookieAuth(SESSION_COOKIE)
@UseGuards(AuthGuard)
@Controller('api/netsim')
export class NetsimController {
  constructor(
    private readonly websockets: WebSocketRepository,
    private readonly sse: SseRepository,
  ) {}

  /** Cuts every WebSocket and event stream of yours at once, as a network failure would. */
  @Post('drop')
  @HttpCode(200)
  @ApiOkResponse({ description: '`{ws, sse}`: how many connections were cut' })
  drop(@CurrentUser() user: UserEntity): { ws: number; sse: number } {
    return { ws: this.websockets.terminateUser(user.id), sse: this.sse.closeUser(user.id) };
  }
}
