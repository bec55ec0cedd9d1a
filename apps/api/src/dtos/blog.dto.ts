import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import type { BlogEntity, BlogUpdateEntity } from '../domain/entities.js';

export class CreateBlogDto {
  @ApiProperty({ example: 'Launch day', minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200, { message: 'title must be 1 to 200 characters' })
  title!: string;
}

/** The body's length is checked by the service, so that too long is a 413, not a 400. */
export class UpdateBodyDto {
  @ApiProperty({ example: 'We are live.', description: 'At most BLOG_MAX_UPDATE_CHARS characters (10,000 by default).' })
  @IsString()
  body!: string;
}

class OwnerDto {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
}

export class BlogDto {
  @ApiProperty() id!: number;
  @ApiProperty() title!: string;
  @ApiProperty({ type: OwnerDto }) owner!: OwnerDto;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) endedAt!: string | null;
  @ApiProperty() followers!: number;
  @ApiProperty({ description: 'Whether you follow it (false when signed out)' }) following!: boolean;
}

export class BlogUpdateDto {
  @ApiProperty() id!: number;
  @ApiProperty() body!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) editedAt!: string | null;
}

export class BlogListDto {
  @ApiProperty({ type: [BlogDto] }) blogs!: BlogDto[];
}

export class BlogSnapshotDto {
  @ApiProperty({ type: BlogDto }) blog!: BlogDto;
  @ApiProperty({ type: [BlogUpdateDto], description: 'Latest 50, newest first' }) updates!: BlogUpdateDto[];
  @ApiProperty({ description: "The blog log's position this snapshot matches: stream from here" }) lastEventId!: number;
}

export function toBlogDto(b: BlogEntity, following: boolean): BlogDto {
  return { id: b.id, title: b.title, owner: { id: b.owner.id, username: b.owner.username }, createdAt: b.createdAt, endedAt: b.endedAt, followers: b.followers, following };
}

export function toBlogUpdateDto(u: BlogUpdateEntity): BlogUpdateDto {
  return { id: u.id, body: u.body, createdAt: u.createdAt, editedAt: u.editedAt };
}
