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
  too_large: HttpStatus.PAYLOAD_TOO_LARGE,
  conflict: HttpStatus.CONFLICT,
  busy: HttpStatus.SERVICE_UNAVAILABLE,
};

/**
 * Every HTTP error leaves as `{statusCode, error, message}`: Nest's own exceptions as they are,
 * domain errors mapped to their status, anything else as a 500 that reveals nothing.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    if (exception instanceof DomainError) {
      const status = STATUS[exception.code];
      // rate_limited and busy say when to come back, in the standard header (whole seconds).
      const retryAfterMs = exception.details.retryAfterMs;
      if (typeof retryAfterMs === 'number') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
      res.status(status).json({ statusCode: status, error: reason(status), message: exception.message });
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message = typeof body === 'object' && body !== null && 'message' in body ? (body as { message: unknown }).message : exception.message;
      res.status(status).json({ statusCode: status, error: reason(status), message });
      return;
    }
    if (isDatabaseUnavailable(exception)) {
      // A transaction that did not commit rolled back whole; a retry with the same idempotency
      // key (clientId) cannot store anything twice.
      this.logger.warn(`database unavailable: ${exception instanceof Error ? exception.message.split('\n').at(-1) : String(exception)}`);
      res.setHeader('Retry-After', '2');
      res.status(503).json({ statusCode: 503, error: 'Service Unavailable', message: 'The database is unavailable; retry shortly' });
      return;
    }
    this.logger.error('unhandled error', exception instanceof Error ? exception.stack : String(exception));
    res.status(500).json({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
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
