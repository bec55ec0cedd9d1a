import { Body, Controller, Get, HttpCode, Param, ParseIntPipe, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiCookieAuth, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiProduces, ApiQuery, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { UserEntity } from '../domain/entities.js';
import { ListNotificationsQueryDto, NotificationDto, NotificationListDto, TestNotificationDto, toNotificationDto } from '../dtos/notification.dto.js';
import { nowMs } from '../domain/clock.js';
import { AuthGuard, CurrentUser } from '../middleware/auth.guard.js';
import { SESSION_COOKIE } from '../services/auth.service.js';
import { EventStreamResponder } from './event-stream.responder.js';
import { NotificationService } from '../services/notification.service.js';

@ApiTags('notifications')
@ApiCookieAuth(SESSION_COOKIE)
@ApiUnauthorizedResponse({ description: 'Not signed in' })
@UseGuards(AuthGuard)
@Controller('api/notifications')
export class NotificationController {
  constructor(
    private readonly notifications: NotificationService,
    private readonly responder: EventStreamResponder,
  ) {}

  @Get()
  @ApiOkResponse({ type: NotificationListDto })
  async list(@CurrentUser() user: UserEntity, @Query() query: ListNotificationsQueryDto): Promise<NotificationListDto> {
    const page = await this.notifications.list(user.id, query.limit ?? 20, query.after);
    const sentAt = nowMs();
    return { items: page.items.map((n) => toNotificationDto(n, sentAt)), unread: page.unread, lastId: page.lastSeq };
  }

  @Post('test')
  @ApiCreatedResponse({ type: NotificationDto, description: 'A system notification sent to yourself' })
  async test(@CurrentUser() user: UserEntity, @Body() body: TestNotificationDto): Promise<NotificationDto> {
    const n = await this.notifications.sendTest(user.id, body.title ?? 'Test notification', body.body ?? 'It works.');
    return toNotificationDto(n, nowMs());
  }

  @Post(':id/read')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Marked read; your streams get notification-read' })
  @ApiNotFoundResponse({ description: 'Not yours, or no such notification' })
  async read(@CurrentUser() user: UserEntity, @Param('id', new ParseIntPipe({ errorHttpStatusCode: 404 })) id: number): Promise<void> {
    await this.notifications.markRead(user.id, id);
  }

  @Post('read-all')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'All your notifications are marked read' })
  async readAll(@CurrentUser() user: UserEntity): Promise<void> {
    await this.notifications.markAllRead(user.id);
  }

  /**
   * Your `notifications` log as an event stream with plain ids (the same as
   * `/api/events?topics=notifications`); see docs/protocol.md.
   */
  @Get('stream')
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'lastEventId', required: false, description: 'Resume after this id (the Last-Event-ID header wins)' })
  @ApiOkResponse({ description: 'An endless text/event-stream of `notification` and `notification-read` events' })
  stream(@Req() req: Request, @Res() res: Response): void {
    // Served below Express (EventStreamResponder.serve); here for the OpenAPI document.
    this.responder.serve(req, res);
  }
}
