import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuthService } from '../services/auth.service.js';
import { EventStreamResponder } from './event-stream.responder.js';

/** One SSE stream (or poll) for any set of topics: the web app's single connection per browser. */
@ApiTags('events')
@Controller('api/events')
export class EventsController {
  constructor(
    private readonly responder: EventStreamResponder,
    private readonly auth: AuthService,
  ) {}

  @Get()
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'topics', description: 'Comma-separated: notifications, blog:ID (up to 10)', example: 'notifications,blog:3' })
  @ApiQuery({ name: 'lastEventId', required: false, description: 'Resume position `topic=seq,...` (the Last-Event-ID header wins)' })
  @ApiOkResponse({ description: 'text/event-stream; see docs/protocol.md' })
  async stream(@Query('topics') topics: unknown, @Req() req: Request, @Res() res: Response): Promise<void> {
    const session = await this.auth.authenticateSession(req.headers.cookie);
    const specs = await this.responder.resolve(topics, session?.user ?? null);
    await this.responder.open(req, res, specs, true, session);
  }

  @Get('poll')
  @ApiQuery({ name: 'topics', example: 'notifications,blog:3' })
  @ApiQuery({ name: 'lastEventId', required: false })
  @ApiOkResponse({ description: '`{events: [{id, event, data}], lastEventId}`: the same events as the stream, at most 100' })
  async poll(@Query('topics') topics: unknown, @Req() req: Request) {
    const session = await this.auth.authenticateSession(req.headers.cookie);
    return this.responder.poll(req, await this.responder.resolve(topics, session?.user ?? null));
  }
}
