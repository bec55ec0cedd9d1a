import { ArgumentsHost, BadRequestException, Catch, Injectable, Logger, type ExceptionFilter } from '@nestjs/common';
import { REF_MAX_CHARS } from '@rt/protocol';
import WebSocket from 'ws';
import { DomainError } from '../domain/errors.js';
import { isDatabaseUnavailable } from '../repositories/database.repository.js';
import { toErrorFrame } from '../dtos/chat.dto.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';
import { frameRefs } from './ws.adapter.js';

/**
 * Turns any error from a gateway handler into an `error` frame for that client. The socket stays
 * open; unexpected errors are logged and reported as `internal` without details.
 */
@Catch()
@Injectable()
export class WsErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('WsGateway');

  constructor(private readonly websockets: WebSocketRepository) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const socket = ws.getClient<WebSocket>();
    // Through the registry: an error frame counts against the send cap like any other reply.
    if (socket.readyState === WebSocket.OPEN) this.websockets.send(socket, wsErrorFrame(exception, ws.getData(), this.logger));
  }
}

/**
 * The `error` frame for what a handler threw about the frame whose `data` it was given: a
 * DomainError's code and details, the ValidationPipe's verdict as `invalid`, an unreachable
 * database as `unavailable`, anything else logged and reported as `internal`.
 */
export function wsErrorFrame(exception: unknown, data: unknown, logger: Logger): string {
  let ref: string | null = null;
  if (typeof data === 'object' && data !== null) {
    const clientId = (data as { clientId?: unknown }).clientId;
    ref = frameRefs.get(data) ?? (typeof clientId === 'string' ? clientId.slice(0, REF_MAX_CHARS) : null);
  }
  let code: string;
  let message: string;
  let details: Record<string, unknown> = {};
  if (exception instanceof DomainError) {
    ({ code, message, details } = exception);
  } else if (exception instanceof BadRequestException) {
    // The ValidationPipe's verdict on `data`.
    const body = exception.getResponse();
    const details = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
    code = 'invalid';
    message = Array.isArray(details) ? details.join('; ') : typeof details === 'string' ? details : 'invalid frame';
  } else if (isDatabaseUnavailable(exception)) {
    logger.warn('database unavailable');
    code = 'unavailable';
    message = 'The database is unavailable; retry shortly (a message resent with the same clientId is stored once)';
  } else {
    logger.error('handler failed', exception instanceof Error ? exception.stack : String(exception));
    code = 'internal';
    message = 'Internal server error';
  }
  return toErrorFrame({ ...details, code, message, ref });
}
