import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ROOM_NAME_PATTERN } from '@rt/protocol';
import { IsString, Matches } from 'class-validator';
import type { MessageEntity, RoomSummary } from '../domain/entities.js';
import { toMessageView } from './chat.dto.js';
import { OptionalIntQuery } from './query.js';

export class CreateRoomDto {
  @ApiProperty({ example: 'random', pattern: ROOM_NAME_PATTERN.source })
  @IsString()
  @Matches(ROOM_NAME_PATTERN, { message: 'name must be 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter or digit' })
  name!: string;
}

export class HistoryQueryDto {
  @ApiPropertyOptional({ description: 'Messages with a seq below this (default: the newest)', minimum: 1 })
  @OptionalIntQuery(1)
  before?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @OptionalIntQuery(1, 100)
  limit?: number;
}

export class RoomDto {
  @ApiProperty({ example: 'general' }) name!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ description: 'Last message seq' }) lastSeq!: number;
  @ApiProperty({ description: 'Last edit/delete revision' }) lastRev!: number;
  @ApiProperty() members!: number;
  @ApiProperty({ description: 'Distinct users connected to the room now' }) online!: number;
  @ApiProperty({ description: 'Whether you are a member' }) member!: boolean;
  @ApiProperty() lastReadSeq!: number;
  @ApiProperty({ description: 'Messages by others after your read position' }) unread!: number;
}

export class RoomListDto {
  @ApiProperty({ type: [RoomDto] }) rooms!: RoomDto[];
}

export class RoomResponseDto {
  @ApiProperty({ type: RoomDto }) room!: RoomDto;
}

class AuthorDto {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
}

export class MessageDto {
  @ApiProperty() room!: string;
  @ApiProperty() seq!: number;
  @ApiProperty() id!: number;
  @ApiProperty({ type: AuthorDto }) author!: AuthorDto;
  @ApiProperty({ description: 'Empty when deleted' }) text!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) editedAt!: string | null;
  @ApiProperty() deleted!: boolean;
  @ApiProperty() clientId!: string;
}

export class HistoryDto {
  @ApiProperty({ type: [MessageDto] }) messages!: MessageDto[];
  @ApiProperty() hasMore!: boolean;
}

export function toRoomDto(r: RoomSummary & { online: number }): RoomDto {
  return {
    name: r.name,
    createdAt: r.createdAt,
    lastSeq: r.lastSeq,
    lastRev: r.lastRev,
    members: r.members,
    online: r.online,
    member: r.member,
    lastReadSeq: r.lastReadSeq,
    unread: r.unread,
  };
}

export function toMessageDto(m: MessageEntity): MessageDto {
  return toMessageView(m);
}
