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
  /** Last revision (edit or delete) handed out in this room. */
  lastRev: number;
  /** ISO-8601. */
  createdAt: string;
}

/** A room as one user sees it in the room list. */
export interface RoomSummary extends RoomEntity {
  members: number;
  member: boolean;
  lastReadSeq: number;
  unread: number;
}

export interface MessageEntity {
  id: number;
  room: string;
  /** The room's monotonic, gapless sequence number. */
  seq: number;
  author: UserEntity;
  /** Empty once deleted. */
  text: string;
  clientId: string;
  /** ISO-8601. */
  createdAt: string;
  /** ISO-8601, or null if never edited. */
  editedAt: string | null;
  deleted: boolean;
  /** The room revision of the latest edit or delete; 0 if never changed. */
  rev: number;
}

/** An edit or delete, as an entry in the room's revision log. */
export interface MessageChange {
  room: string;
  rev: number;
  seq: number;
  kind: 'edited' | 'deleted';
  /** The new text (edited); empty for deleted. */
  text: string;
  /** ISO-8601. */
  at: string;
}

export type NotificationKind = 'mention' | 'blog-update' | 'system';

export interface NotificationEntity {
  userId: number;
  /** Position of its `notification` event in the user's log: increasing, the id clients see. */
  seq: number;
  kind: NotificationKind;
  title: string;
  body: string;
  /** ISO-8601. */
  createdAt: string;
  read: boolean;
  /** What it is about, to open: the chat message that mentioned the user. */
  link: NotificationLink | null;
}

export interface NotificationLink {
  room: string;
  seq: number;
}

/** One entry of a durable SSE log (`user:<id>` or `blog:<id>`), as stored. */
export interface StreamEntry {
  /** The log: `user:12`, `blog:3`. */
  stream: string;
  seq: number;
  /** The SSE event name. */
  type: string;
  /** The JSON payload (without `topic` and `sentAt`, added when sent). */
  data: Record<string, unknown>;
  /** ISO-8601. */
  createdAt: string;
}

export interface BlogEntity {
  id: number;
  title: string;
  owner: UserEntity;
  /** ISO-8601. */
  createdAt: string;
  endedAt: string | null;
  /** Position of the blog's event log. */
  lastSeq: number;
  followers: number;
}

export interface BlogUpdateEntity {
  id: number;
  blogId: number;
  body: string;
  /** ISO-8601. */
  createdAt: string;
  editedAt: string | null;
}

/** What a member adds to a board's log (the kinds of the protocol's `BoardEntry`). */
export type BoardWrite =
  | { kind: 's'; stroke: number; colour: string; width: number; eraser: 0 | 1; points: number[] }
  | { kind: 'p'; stroke: number; part: number; points: number[] }
  | { kind: 'u'; stroke: number }
  | { kind: 'c'; id: number; name: string };
