/**
 * The app's entities as plain, JSON-safe data: what repositories return, what domain events
 * carry (across processes, later), and what response mappers in `dtos/` turn into API shapes.
 * Database rows never leave the repositories.
 */

export interface UserEntity {
  id: number;
  username: string;
}

export interface RoomEntity {
  id: number;
  name: string;
  /** Last sequence number handed out in this room. */
  lastSeq: number;
}

export interface MessageEntity {
  id: number;
  room: string;
  /** The room's monotonic, gapless sequence number. */
  seq: number;
  author: UserEntity;
  text: string;
  clientId: string;
  /** ISO-8601. */
  createdAt: string;
}

export type NotificationKind = 'mention' | 'system';

export interface NotificationEntity {
  userId: number;
  /** Monotonic, gapless sequence number in the user's notification stream (the SSE id). */
  seq: number;
  kind: NotificationKind;
  title: string;
  body: string;
  /** ISO-8601. */
  createdAt: string;
  read: boolean;
}
