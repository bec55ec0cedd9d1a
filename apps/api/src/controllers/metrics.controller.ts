import { Body, Controller, Get, Header, HttpCode, NotFoundException, Param, Post, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { encodeSse, type PongData } from '@rt/protocol';
import type { UserEntity } from '../domain/entities.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
import { ClockPingDto } from '../dtos/probe.dto.js';
import { nowMs } from '../domain/clock.js';
import { SseRepository } from '../repositories/sse.repository.js';
import { TelemetryRepository, type ConnectionStats } from '../repositories/telemetry.repository.js';

/** The transports' and the process's measurements (see README, "Metrics"). */
@ApiTags('metrics')
@Controller()
export class MetricsController {
  constructor(
    private readonly telemetry: TelemetryRepository,
    private readonly sse: SseRepository,
  ) {}

  /** Prometheus text format, with Node's default metrics. */
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus exposition format' })
  prometheus(): Promise<string> {
    return this.telemetry.prometheus();
  }

  /** The same measurements as JSON: `{ws, sse, process}`. */
  @Get('api/metrics')
  @ApiOkResponse({ description: '`{ws: {...}, sse: {...}, process: {...}}`' })
  snapshot() {
    return this.telemetry.snapshot();
  }

  /**
   * One of your open connections (its id comes in the `hello` that opens every WebSocket and
   * event stream): what the server has sent on it, wire bytes included. 404 for anyone else's.
   */
  @Get('api/metrics/connections/:id')
  @UseGuards(AuthGuard)
  @ApiOkResponse({ description: '`{transport, messagesOut, payloadBytesOut, wireBytesOut, controlBytesOut}`' })
  connection(@CurrentUser() user: UserEntity, @Param('id') id: string): ConnectionStats {
    const stats = this.telemetry.connectionStats(id, user.id);
    if (!stats) throw new NotFoundException('No such connection of yours');
    return stats;
  }

  /** The SSE half of a clock probe: writes `event: pong` on your stream `id` at once. */
  @Post('api/metrics/connections/:id/ping')
  @HttpCode(204)
  @UseGuards(AuthGuard)
  ping(@CurrentUser() user: UserEntity, @Param('id') id: string, @Body() body: ClockPingDto): void {
    const pong: PongData = { id: body.id, t: body.t, serverTime: nowMs() };
    if (!this.sse.writeTo(id, user.id, encodeSse({ event: 'pong', data: JSON.stringify(pong) }))) throw new NotFoundException('No open event stream of yours with that id');
  }
}
