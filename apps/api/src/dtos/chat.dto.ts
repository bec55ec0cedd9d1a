import { IsBoolean, IsInt, IsNumber, IsOptional, IsString, Length, Matches, Max, Min, ValidateIf } from 'class-validator';
import type { MessageChange, MessageEntity, UserEntity } from '../domain/entities.js';

export const ROOM_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const ROOM_NAME_MESSAGE = 'room must be 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit';
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** Frames that name a room. */
export class RoomFrameDto {
  @IsString()
  @Matches(ROOM_NAME_PATTERN, { message: ROOM_NAME_MESSAGE })
  room!: string;
}

/** `join {room, afterSeq?, afterRev?}` */
export class JoinDto extends RoomFrameDto {
  @IsOptional()
  @IsInt({ message: 'afterSeq must be an integer' })
  @Min(0)
  @Max(MAX_SEQ)
  afterSeq?: number;

  @IsOptional()
  @IsInt({ message: 'afterRev must be an integer' })
  @Min(0)
  @Max(MAX_SEQ)
  afterRev?: number;
}

/** Frames that name one message: `delete {room, seq}`, `read {room, seq}`. */
export class MessageRefDto extends RoomFrameDto {
  @IsInt({ message: 'seq must be an integer' })
  @Min(0)
  @Max(MAX_SEQ)
  seq!: number;
}

/** `edit {room, seq, text}` */
export class EditDto extends MessageRefDto {
  @IsString()
  text!: string;
}

/** `ping {id, t}` */
export class PingDto {
  @IsInt()
  @Min(0)
  @Max(MAX_SEQ)
  id!: number;

  @IsNumber({ allowNaN: false, allowInfinity: false })
  t!: number;
}

/** `message {room, text, clientId, first?}` */
export class PostMessageDto extends RoomFrameDto {
  @IsString()
  text!: string;

  @IsString()
  @Length(1, 64, { message: 'clientId must be 1 to 64 characters' })
  clientId!: string;

  /**
   * The head of the sender's outbox: no earlier message of this room is unacked. Lets it pass an
   * `out_of_order` gate (domain/send-order.ts). Absent means false; `null` or a non-boolean is invalid.
   */
  @ValidateIf((frame: PostMessageDto) => frame.first !== undefined)
  @IsBoolean({ message: 'first must be true or false' })
  first?: boolean;
}

/** One outbound frame in Nest's ws convention. */
export function frame(event: string, data: unknown): string {
  return JSON.stringify({ event, data });
}

/** A message as clients see it, in history pages and (with `sentAt`) in `message` frames. */
export function toMessageView(m: MessageEntity) {
  return {
    room: m.room,
    seq: m.seq,
    id: m.id,
    author: { id: m.author.id, username: m.author.username },
    text: m.text,
    createdAt: m.createdAt,
    editedAt: m.editedAt,
    deleted: m.deleted,
    clientId: m.clientId,
  };
}

/**
 * The `message` frame, built once per message and sent to every member (docs/protocol.md):
 * `[roomId, seq, authorId, author, t, text]`, with `editedAt` appended for an edited message
 * (history only; a live message is new). `t` is when it was stored and `editedAt` when it was
 * last edited, both epoch ms; a deleted message has the text "" (a live text never is). The
 * room is its id, the same for every recipient, rather than its name (up to 32 bytes) or a
 * per-socket alias (which would make the frame differ per socket); `joining` gives the id.
 */
export function toMessageFrame(m: MessageEntity, roomId: number): string {
  const head = `[${roomId},${m.seq},${m.author.id},${JSON.stringify(m.author.username)},${Date.parse(m.createdAt)},${JSON.stringify(m.deleted ? '' : m.text)}`;
  return m.editedAt !== null && !m.deleted ? `${head},${Date.parse(m.editedAt)}]` : `${head}]`;
}

/** `message-edited` or `message-deleted`, built once per change. */
export function toChangeFrame(c: MessageChange): string {
  return c.kind === 'edited'
    ? frame('message-edited', { room: c.room, seq: c.seq, rev: c.rev, text: c.text, editedAt: c.at })
    : frame('message-deleted', { room: c.room, seq: c.seq, rev: c.rev });
}

const publicUser = (u: UserEntity) => ({ id: u.id, username: u.username });

export function toPresenceFrame(room: string, users: UserEntity[]): string {
  return frame('presence', { room, users: users.map(publicUser) });
}

export function toTypingFrame(room: string, user: UserEntity): string {
  return frame('typing', { room, user: publicUser(user) });
}

export interface WsErrorData {
  code: string;
  message: string;
  ref: string | null;
  [detail: string]: unknown;
}

export function toErrorFrame(data: WsErrorData): string {
  return frame('error', data);
}
