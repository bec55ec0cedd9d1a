import type { MessageChange, MessageEntity, StreamEntry, UserEntity } from './entities.js';

/**
 * Domain events: what happened, published by services after the change is committed.
 * The fan-out layer turns them into WebSocket frames and SSE events. They are plain JSON so a
 * bus can carry them between processes.
 */
export type DomainEvent =
  | { type: 'chat.message.created'; message: MessageEntity }
  | { type: 'chat.message.changed'; change: MessageChange }
  | { type: 'chat.presence.changed'; room: string; users: UserEntity[] }
  | { type: 'chat.typing'; room: string; user: UserEntity }
  | { type: 'stream.appended'; entry: StreamEntry }
  /** A session was revoked (signed out): every instance ends the connections it opened. */
  | { type: 'auth.session.revoked'; sessionId: string };
