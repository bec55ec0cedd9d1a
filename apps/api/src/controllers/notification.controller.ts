import { Body, Controller, Get, Headers, HttpCode, Inject, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiProduces, ApiQuery, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { APP_CONFIG } from '../config/tokens.js';
import type { AppConfig } from '../config/app-config.js';
import type { UserEntity } from '../domain/entities.js';
import { ListNotificationsQueryDto, NotificationDto, NotificationListDto, TestNotificationDto, toNotificationDto } from '../dtos/notification.dto.js';
import { nowMs } from '../dtos/sse-format.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
import { SseRepository } from '../repositories/sse.repository.js';
import { SESSION_COOKIE } from '../services/auth.service.js';
import { FanoutService } from '../services/fanout.service.js';
import { NotificationService } from '../services/notification.service.js';

/** A stream position from `Last-Event-ID` or `?lastEventId=`: a non-negative integer, else none. */
export function parseStreamPosition(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

@ApiTags('notifications')
@ApiCookieAuth(SESSION_COOKIE)
@ApiUnauthorizedResponse({ description: 'Not signed in' })
@UseGuards(AuthGuard)
@Controller('api/notifications')
export class NotificationController {
  constructor(
    private readonly notifications: NotificationService,
    private readonly fanout: FanoutService,
    private readonly sse: SseRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOkResponse({ type: NotificationListDto })
  async list(@CurrentUser() user: UserEntity, @Query() query: ListNotificationsQueryDto): Promise<NotificationListDto> {
    const page = await this.notifications.list(user.id, query.limit ?? 20);
    const sentAt = nowMs();
    return { items: page.items.map((n) => toNotificationDto(n, sentAt)), unread: page.unread, lastId: page.lastSeq };
  }

  @Post('test')
  @ApiCreatedResponse({ type: NotificationDto, description: 'A system notification sent to yourself' })
  async test(@CurrentUser() user: UserEntity, @Body() body: TestNotificationDto): Promise<NotificationDto> {
    const n = await this.notifications.sendTest(user.id, body.title ?? 'Test notification', body.body ?? 'It works.');
    return toNotificationDto(n, nowMs());
  }

  @Post('read-all')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'All your notifications are marked read' })
  async readAll(@CurrentUser() user: UserEntity): Promise<void> {
    await this.notifications.markAllRead(user.id);
  }

  /**
   * The notification event stream. Resumes after `Last-Event-ID` (or `?lastEventId=`) from the
   * database, then continues live; see docs/protocol.md.
   */
  @Get('stream')
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'lastEventId', required: false, description: 'Resume after this id (the Last-Event-ID header wins)' })
  @ApiOkResponse({ description: 'An endless text/event-stream of `notification` events' })
  async stream(
    @CurrentUser() user: UserEntity,
    @Headers('last-event-id') lastEventIdHeader: string | undefined,
    @Query('lastEventId') lastEventIdQuery: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const position = parseStreamPosition(lastEventIdHeader ?? (typeof lastEventIdQuery === 'string' ? lastEventIdQuery : undefined));
    await this.sse.open(req, res, user.id, this.fanout.notificationSource(user.id, position), {
      retryMs: this.config.sseRetryMs,
      heartbeatMs: this.config.sseHeartbeatMs,
    });
  }
}
