/**
 * Errors a service raises for a reason the caller can act on. Each transport maps `code` to its
 * own answer (an HTTP status, a WebSocket `error` frame).
 */
export type DomainErrorCode =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'room_not_found'
  | 'not_joined'
  | 'username_taken'
  | 'room_taken'
  | 'message_not_found'
  | 'rate_limited'
  | 'out_of_order'
  /** A board holds as many points as it may: clear it to draw more. */
  | 'board_full'
  /** A board segment or undo names a stroke the board does not hold (never started, undone, cleared, or compacted). */
  | 'stroke_not_found'
  | 'not_found'
  | 'too_large'
  | 'conflict'
  /** The server is saturated (the password-hashing queue is full): retry after `retryAfterMs`. */
  | 'busy';

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    public readonly code: DomainErrorCode,
    message: string,
    /** Extra fields for the client (for example `retryAfterMs`). */
    public readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
