import { CLIENT_ID_MAX_CHARS, ROOM_NAME_PATTERN, wsFrame, type EditData, type JoinData, type MessageRefData, type PingData, type PostMessageData, type RoomData, type WsErrorData } from '@rt/protocol';
import { IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import type { MessageChange, MessageEntity, UserEntity } from '../domain/entities.js';

export const ROOM_NAME_MESSAGE = 'room must be 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit';
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** Frames that name a room. */
export class RoomFrameDto implements RoomData {
  @IsString()
  @Matches(ROOM_NAME_PATTERN, { message: ROOM_NAME_MESSAGE })
  room!: string;
}

/** `join {room, afterSeq?, afterRev?}` */
export class JoinDto extends RoomFrameDto implements JoinData {
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
export class MessageRefDto extends RoomFrameDto implements MessageRefData {
  @IsInt({ message: 'seq must be an integer' })
  @Min(0)
  @Max(MAX_SEQ)
  seq!: number;
}

/** `edit {room, seq, text}` */
export class EditDto extends MessageRefDto implements EditData {
  @IsString()
  text!: string;
}

/** `ping {id, t}` */
export class PingDto implements PingData {
  @IsInt()
  @Min(0)
  @Max(MAX_SEQ)
  id!: number;

  @IsNumber({ allowNaN: false, allowInfinity: false })
  t!: number;
}

/**
 * `message {room, text, clientId, first?}`. `first`: the head of the sender's outbox, no earlier
 * message of this room is unacked; lets it pass an `out_of_order` gate (domain/send-order.ts).
 * Absent means false; `null` or a non-boolean is invalid.
 */
export type PostMessage = PostMessageData;

const POST_MESSAGE_FIELDS = new Set(['room', 'text', 'clientId', 'first']);

/**
 * Validates a `message` frame's data with the rules and wording the other frames get from the
 * ValidationPipe, by hand: it is the one frame on the hot path (class-validator and
 * class-transformer took a fifth of the server's CPU per stored message). Returns the problems,
 * joined as the pipe joins them, or null.
 */
export function postMessageProblem(data: Record<string, unknown>): string | null {
  const problems: string[] = [];
  for (const key of Object.keys(data)) if (!POST_MESSAGE_FIELDS.has(key)) problems.push(`property ${key} should not exist`);
  const { room, text, clientId, first } = data;
  if (typeof room !== 'string') problems.push('room must be a string', ROOM_NAME_MESSAGE);
  else if (!ROOM_NAME_PATTERN.test(room)) problems.push(ROOM_NAME_MESSAGE);
  if (typeof text !== 'string') problems.push('text must be a string');
  if (typeof clientId !== 'string') problems.push('clientId must be a string', `clientId must be 1 to ${CLIENT_ID_MAX_CHARS} characters`);
  else if (clientId.length < 1 || clientId.length > CLIENT_ID_MAX_CHARS) problems.push(`clientId must be 1 to ${CLIENT_ID_MAX_CHARS} characters`);
  if (first !== undefined && typeof first !== 'boolean') problems.push('first must be true or false');
  return problems.length === 0 ? null : problems.join('; ');
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
 * The `message` frame (MessageTuple, @rt/protocol), built once per message and sent to every member (docs/protocol.md):
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
    ? wsFrame('message-edited', { room: c.room, seq: c.seq, rev: c.rev, text: c.text, editedAt: c.at })
    : wsFrame('message-deleted', { room: c.room, seq: c.seq, rev: c.rev });
}

const publicUser = (u: UserEntity) => ({ id: u.id, username: u.username });

export function toPresenceFrame(room: string, users: UserEntity[]): string {
  return wsFrame('presence', { room, users: users.map(publicUser) });
}

export function toTypingFrame(room: string, user: UserEntity): string {
  return wsFrame('typing', { room, user: publicUser(user) });
}

export function toErrorFrame(data: WsErrorData): string {
  return wsFrame('error', data);
}
