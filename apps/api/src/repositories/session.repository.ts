import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { UserEntity } from '../domain/entities.js';
import { DatabaseRepository } from './database.repository.js';
import { isoTime, many, one } from './sql.js';

/** A session row as authenticate() reads it: whose it is, which token is current, until when. */
export interface SessionRecord {
  id: string;
  user: UserEntity;
  tokenId: string;
  expiresAt: number;
}

/** Session ids per query of {@link SessionRepository.existing} (well within both engines' parameter limits). */
const EXISTING_BATCH = 500;

/** 16 random bytes, URL-safe: session and token ids (128 bits: not guessable, not enumerable). */
const newId = (): string => randomBytes(16).toString('base64url');

/** Revocable sessions (the Session model): created at sign-in, renewed in place, deleted at sign-out. */
@Injectable()
export class SessionRepository {
  constructor(private readonly db: DatabaseRepository) {}

  async create(userId: number, expiresAt: number): Promise<{ id: string; tokenId: string }> {
    const row = { id: newId(), tokenId: newId() };
    await this.db.client.session.create({ data: { ...row, userId, expiresAt: new Date(expiresAt) } });
    return row;
  }

  /**
   * The session with its user, or null when it was revoked (or never existed). Every request,
   * upgrade and stream asks this, so it is a prepared statement (one join), not an ORM query:
   * a reconnect storm pays microseconds per connection for it, not a millisecond.
   */
  async find(id: string): Promise<SessionRecord | null> {
    const row = await this.db.read(
      one<{ id: string; tokenId: string; expiresAt: unknown; userId: number; username: string }>(
        `SELECT s."id", s."tokenId", s."expiresAt", u."id" AS "userId", u."username" FROM "Session" s JOIN "User" u ON u."id" = s."userId" WHERE s."id" = $1`,
        [id],
      ),
    );
    return row ? { id: row.id, user: { id: row.userId, username: row.username }, tokenId: row.tokenId, expiresAt: Date.parse(isoTime(row.expiresAt)) } : null;
  }

  /**
   * Which of `ids` are sessions still (not revoked): one query per 500 ids, whatever the number
   * of connections that hold them. Used to recheck open connections when revocations may have
   * been missed (the bus was away).
   */
  async existing(ids: Iterable<string>): Promise<Set<string>> {
    const all = [...new Set(ids)];
    const found = new Set<string>();
    for (let i = 0; i < all.length; i += EXISTING_BATCH) {
      const batch = all.slice(i, i + EXISTING_BATCH);
      const rows = await this.db.read(many<{ id: string }>(`SELECT "id" FROM "Session" WHERE "id" IN (${batch.map((_, n) => `$${n + 1}`).join(', ')})`, batch));
      for (const row of rows) found.add(row.id);
    }
    return found;
  }

  /**
   * Replaces the session's current token, if it is still `tokenId` (a compare-and-set: of two
   * renewals with the same token, one wins). Returns the new token id, or null.
   */
  async rotate(id: string, tokenId: string, expiresAt: number): Promise<string | null> {
    const next = newId();
    const { count } = await this.db.client.session.updateMany({ where: { id, tokenId }, data: { tokenId: next, expiresAt: new Date(expiresAt) } });
    return count === 1 ? next : null;
  }

  /** Deletes the session; true if it existed. */
  async delete(id: string): Promise<boolean> {
    const { count } = await this.db.client.session.deleteMany({ where: { id } });
    return count === 1;
  }

  /** Deletes sessions that expired before `now` (they can no longer authenticate anyway). */
  async pruneExpired(now = Date.now()): Promise<number> {
    const { count } = await this.db.client.session.deleteMany({ where: { expiresAt: { lt: new Date(now) } } });
    return count;
  }
}
