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

  /**
   * Up to 128 characters. A new password (sign-up) must also pass the policy: at least
   * PASSWORD_MIN_LENGTH (10) characters, not the username, not a common password. Sign-in
   * checks only the length, so accounts made under an older policy can still sign in.
   */
  @ApiProperty({ example: 'correct horse battery', minLength: 1, maxLength: 128, description: 'Sign-up: at least 10 characters (PASSWORD_MIN_LENGTH), not the username, not a common password' })
  @IsString()
  @Length(1, 128, { message: 'password must be 1 to 128 characters' })
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
