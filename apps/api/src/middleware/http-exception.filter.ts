import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, type DomainErrorCode } from '../domain/errors.js';
import { isDatabaseUnavailable } from '../repositories/database.repository.js';

const STATUS: Record<DomainErrorCode, HttpStatus> = {
  invalid: HttpStatus.BAD_REQUEST,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  room_not_found: HttpStatus.NOT_FOUND,
  not_found: HttpStatus.NOT_FOUND,
  not_joined: HttpStatus.FORBIDDEN,
  username_taken: HttpStatus.CONFLICT,
  room_taken: HttpStatus.CONFLICT,
  message_not_found: HttpStatus.NOT_FOUND,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  out_of_order: HttpStatus.CONFLICT,
  board_full: HttpStatus.CONFLICT,
  stroke_not_found: HttpStatus.NOT_FOUND,
  too_large: HttpStatus.PAYLOAD_TOO_LARGE,
  conflict: HttpStatus.CONFLICT,
  busy: HttpStatus.SERVICE_UNAVAILABLE,
};

/** An error as the HTTP answer it becomes. */
export interface HttpErrorAnswer {
  status: number;
  body: { statusCode: number; error: string; message: unknown };
  headers: Record<string, string>;
}

const logger = new Logger('HTTP');

/**
 * Every HTTP error leaves as `{statusCode, error, message}`: Nest's own exceptions as they are,
 * domain errors mapped to their status, anything else as a 500 that reveals nothing. Shared by
 * the filter and the event streams, which are served below Express.
 */
export function toHttpError(exception: unknown): HttpErrorAnswer {
  const answer = (status: number, message: unknown, headers: Record<string, string> = {}): HttpErrorAnswer => ({
    status,
    body: { statusCode: status, error: reason(status), message },
    headers,
  });
  if (exception instanceof DomainError) {
    // rate_limited and busy say when to come back, in the standard header (whole seconds).
    const retryAfterMs = exception.details.retryAfterMs;
    const headers: Record<string, string> = typeof retryAfterMs === 'number' ? { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } : {};
    return answer(STATUS[exception.code], exception.message, headers);
  }
  if (exception instanceof HttpException) {
    const body = exception.getResponse();
    return answer(exception.getStatus(), typeof body === 'object' && body !== null && 'message' in body ? (body).message : exception.message);
  }
  if (isDatabaseUnavailable(exception)) {
    // A transaction that did not commit rolled back whole; a retry with the same idempotency
    // key (clientId) cannot store anything twice.
    logger.warn(`database unavailable: ${exception instanceof Error ? exception.message.split('\n').at(-1) : String(exception)}`);
    return answer(503, 'The database is unavailable; retry shortly', { 'Retry-After': '2' });
  }
  logger.error('unhandled error', exception instanceof Error ? exception.stack : String(exception));
  return answer(500, 'Internal server error');
}

@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    const { status, body, headers } = toHttpError(exception);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.status(status).json(body);
  }
}

function reason(status: number): string {
  const name = HttpStatus[status];
  if (!name) return 'Error';
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(' ');
}
