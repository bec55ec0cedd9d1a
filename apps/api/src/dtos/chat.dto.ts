import { IsInt, IsOptional, IsString, Length, Matches, Min } from 'class-validator';
import type { MessageEntity } from '../domain/entities.js';

export const ROOM_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const MAX_MESSAGE_LENGTH = 4000;

/** `join {room, afterSeq?}` */
export class JoinDto {
  @IsString()
  @Matches(ROOM_NAME_PATTERN, { message: 'room must be 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit' })
  room!: string;

  @IsOptional()
  @IsInt({ message: 'afterSeq must be an integer' })
  @Min(0)
  afterSeq?: number;
}

/** `message {room, text, clientId}` */
export class PostMessageDto {
  @IsString()
  @Matches(ROOM_NAME_PATTERN, { message: 'room must be 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit' })
  room!: string;

  @IsString()
  text!: string;

  @IsString()
  @Length(1, 64, { message: 'clientId must be 1 to 64 characters' })
  clientId!: string;
}

/** One outbound frame in Nest's ws convention. */
export function frame(event: string, data: unknown): string {
  return JSON.stringify({ event, data });
}

/** The `message` frame, built once per message and sent to every member. */
export function toMessageFrame(m: MessageEntity, sentAt: number): string {
  return frame('message', {
    room: m.room,
    seq: m.seq,
    id: m.id,
    author: { id: m.author.id, username: m.author.username },
    text: m.text,
    createdAt: m.createdAt,
    sentAt,
    clientId: m.clientId,
  });
}

export interface WsErrorData {
  code: string;
  message: string;
  ref: string | null;
}

export function toErrorFrame(data: WsErrorData): string {
  return frame('error', data);
}
