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
  stream(@Req() req: Request, @Res() res: Response): void {
    // Served below Express (EventStreamResponder.serve, installed ahead of it); here for the
    // OpenAPI document and any server that routes it through Nest all the same.
    this.responder.serve(req, res);
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
