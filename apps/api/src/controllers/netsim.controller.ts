import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiCookieAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { UserEntity } from '../domain/entities.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
import { ImpairDto, PauseDto } from '../dtos/probe.dto.js';
import { NetsimRepository } from '../repositories/netsim.repository.js';
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
    private readonly netsim: NetsimRepository,
  ) {}

  /** Cuts every WebSocket and event stream of yours at once, as a network failure would. */
  @Post('drop')
  @HttpCode(200)
  @ApiOkResponse({ description: '`{ws, sse}`: how many connections were cut' })
  drop(@CurrentUser() user: UserEntity): { ws: number; sse: number } {
    return { ws: this.websockets.terminateUser(user.id), sse: this.sse.closeUser(user.id) };
  }

  /** Delays every delivery to your connections by delayMs plus up to jitterMs (0, 0: off). */
  @Post('impair')
  @HttpCode(204)
  impair(@CurrentUser() user: UserEntity, @Body() body: ImpairDto): void {
    this.netsim.impair(user.id, body.delayMs, body.jitterMs);
  }

  /** Holds every delivery to your connections for `seconds`, then sends them in order. */
  @Post('pause')
  @HttpCode(204)
  pause(@CurrentUser() user: UserEntity, @Body() body: PauseDto): void {
    this.netsim.pause(user.id, body.seconds);
  }
}
