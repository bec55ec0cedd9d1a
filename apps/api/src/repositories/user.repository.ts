import { Injectable } from '@nestjs/common';
import type { UserEntity } from '../domain/entities.js';
import { DatabaseRepository, isUniqueViolation } from './database.repository.js';
import { many, type Unit } from './sql.js';

export interface UserWithPassword extends UserEntity {
  passwordHash: string;
}

@Injectable()
export class UserRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /** Creates a user; null when the username is taken. */
  async create(username: string, passwordHash: string): Promise<UserEntity | null> {
    try {
      const row = await this.db.client.user.create({ data: { username, passwordHash }, select: { id: true, username: true } });
      return row;
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
  }

  findById(id: number): Promise<UserEntity | null> {
    return this.db.client.user.findUnique({ where: { id }, select: { id: true, username: true } });
  }

  findByUsernameWithPassword(username: string): Promise<UserWithPassword | null> {
    return this.db.client.user.findUnique({
      where: { username },
      select: { id: true, username: true, passwordHash: true },
    });
  }

  /** The users with these usernames, as a unit of a transaction (prepared statements: a message's mentions). */
  *byUsernames(usernames: readonly string[]): Unit<UserEntity[]> {
    if (usernames.length === 0) return [];
    const marks = usernames.map((_, i) => `$${i + 1}`).join(', ');
    return yield* many<UserEntity>(`SELECT "id", "username" FROM "User" WHERE "username" IN (${marks}) ORDER BY "id"`, usernames);
  }
}
