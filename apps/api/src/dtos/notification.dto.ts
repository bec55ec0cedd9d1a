import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import type { NotificationEntity } from '../domain/entities.js';
import { OptionalIntQuery } from './query.js';

export class ListNotificationsQueryDto {
  @ApiPropertyOptional({ description: 'Only notifications with a greater id, oldest first', minimum: 0 })
  @OptionalIntQuery(0)
  after?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @OptionalIntQuery(1, 100)
  limit?: number;
}

export class TestNotificationDto {
  @ApiPropertyOptional({ maxLength: 200, example: 'Hello' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  title?: string;

  @ApiPropertyOptional({ maxLength: 2000, example: 'This is a test notification.' })
  @IsOptional()
  @IsString()
  @Length(0, 2000)
  body?: string;
}

export class NotificationDto {
  @ApiProperty({ description: "Sequence number in this user's stream; the SSE event id", example: 7 })
  id!: number;
  @ApiProperty({ enum: ['mention', 'blog-update', 'system'] })
  kind!: string;
  @ApiProperty()
  title!: string;
  @ApiProperty()
  body!: string;
  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ description: "Server clock (epoch ms, fractional) when this was sent" })
  sentAt!: number;
  @ApiProperty()
  read!: boolean;
  @ApiProperty({ nullable: true, description: 'What it is about, to open: `{room, seq}` of the chat message that mentioned you; null for others', example: { room: 'general', seq: 12 } })
  link!: { room: string; seq: number } | null;
}

export class NotificationListDto {
  @ApiProperty({ type: [NotificationDto] })
  items!: NotificationDto[];
  @ApiProperty({ example: 3 })
  unread!: number;
  @ApiProperty({ description: 'Current stream position: open the stream with ?lastEventId=lastId', example: 7 })
  lastId!: number;
}

export function toNotificationDto(n: NotificationEntity, sentAt: number): NotificationDto {
  return { id: n.seq, kind: n.kind, title: n.title, body: n.body, createdAt: n.createdAt, sentAt, read: n.read, link: n.link };
}
