import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Length, Matches } from 'class-validator';
import type { UserEntity } from '../domain/entities.js';

export const USERNAME_PATTERN = /^[a-z0-9_-]{3,32}$/;

/**
 * A username is one name whatever its case: "ALICE" and " Alice " sign in (and register) as
 * "alice". Only strings are folded; anything else reaches the validators as sent.
 */
export function normalizeUsername(value: unknown): unknown {
  return typeof value === 'string' ? value.trim().toLowerCase() : value;
}

export class CredentialsDto {
  @ApiProperty({ example: 'alice', pattern: USERNAME_PATTERN.source, description: '3 to 32 of a-z, 0-9, _ and - (case-insensitive: folded to lower case)' })
  @Transform(({ value }) => normalizeUsername(value))
  @IsString()
  @Matches(USERNAME_PATTERN, { message: 'username must be 3 to 32 characters of a-z, 0-9, _ and -' })
  username!: string;

  @ApiProperty({ example: 'correct horse battery', minLength: 8, maxLength: 128 })
  @IsString()
  @Length(8, 128, { message: 'password must be 8 to 128 characters' })
  password!: string;
}

export class UserDto {
  @ApiProperty({ example: 1 })
  id!: number;

  @ApiProperty({ example: 'alice' })
  username!: string;
}

export class SessionResponseDto {
  @ApiProperty({ type: UserDto })
  user!: UserDto;

  @ApiProperty({ description: 'When the session token expires (epoch ms); renew before with POST /api/auth/refresh', example: 1795356900000 })
  expiresAt!: number;
}

export function toSessionResponse(user: UserEntity, expiresAt: number): SessionResponseDto {
  return { user: { id: user.id, username: user.username }, expiresAt };
}
