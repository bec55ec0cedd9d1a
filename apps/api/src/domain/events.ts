import type { BoardEntry } from '@rt/protocol';
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
  /** A board's log grew by `entry` (its room id is `entry[1]`, its position `entry[2]`). */
  | { type: 'board.appended'; entry: BoardEntry }
  /** A member's pointer moved on a board (not stored). */
  | { type: 'board.cursor'; roomId: number; room: string; user: UserEntity; x: number; y: number }
  /** A session was revoked (signed out): every instance ends the connections it opened. */
  | { type: 'auth.session.revoked'; sessionId: string };
