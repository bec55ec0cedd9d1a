import { Injectable } from '@nestjs/common';
import type { BlogEntity, BlogUpdateEntity, StreamEntry } from '../domain/entities.js';
import { DatabaseRepository, idempotent } from './database.repository.js';
import { exec, isoTime, isoTimeOrNull, many, one, sqlNow, type Unit } from './sql.js';
import { StreamEventRepository } from './stream-event.repository.js';

const blogSelect = {
  id: true,
  title: true,
  createdAt: true,
  endedAt: true,
  lastSeq: true,
  owner: { select: { id: true, username: true } },
  _count: { select: { followers: true } },
} as const;

interface BlogRow {
  id: number;
  title: string;
  createdAt: Date;
  endedAt: Date | null;
  lastSeq: number;
  owner: { id: number; username: string };
  _count: { followers: number };
}

interface UpdateRow {
  id: number;
  blogId: number;
  body: string;
  createdAt: Date;
  editedAt: Date | null;
}

function toBlog(row: BlogRow): BlogEntity {
  return {
    id: row.id,
    title: row.title,
    owner: row.owner,
    createdAt: row.createdAt.toISOString(),
    endedAt: row.endedAt?.toISOString() ?? null,
    lastSeq: row.lastSeq,
    followers: row._count.followers,
  };
}

export function toUpdate(row: UpdateRow): BlogUpdateEntity {
  return { id: row.id, blogId: row.blogId, body: row.body, createdAt: row.createdAt.toISOString(), editedAt: row.editedAt?.toISOString() ?? null };
}

/** The payload of `update` / `update-edited` events. */
export function updatePayload(u: BlogUpdateEntity): Record<string, unknown> {
  return { id: u.id, body: u.body, createdAt: u.createdAt, editedAt: u.editedAt };
}

export const blogStream = (blogId: number) => `blog:${blogId}`;

/** Live blogs, their updates and followers, and each blog's event log (`blog:<id>`). */
@Injectable()
export class BlogRepository {
  constructor(
    private readonly db: DatabaseRepository,
    private readonly log: StreamEventRepository,
  ) {}

  async create(ownerId: number, title: string): Promise<BlogEntity> {
    return toBlog(await this.db.client.blog.create({ data: { ownerId, title }, select: blogSelect }));
  }

  /** A blog by id: asked by every blog stream as it opens, so a prepared statement rather than an ORM query. */
  async find(id: number): Promise<BlogEntity | null> {
    if (!Number.isSafeInteger(id) || id < 1 || id > 2_147_483_647) return null; // not an id a row can have
    const row = await this.db.read(
      one<{ id: number; title: string; createdAt: unknown; endedAt: unknown; lastSeq: number; ownerId: number; username: string; followers: number }>(
        `SELECT b."id", b."title", b."createdAt", b."endedAt", b."lastSeq", u."id" AS "ownerId", u."username", CAST((SELECT COUNT(*) FROM "BlogFollow" f WHERE f."blogId" = b."id") AS INTEGER) AS "followers" FROM "Blog" b JOIN "User" u ON u."id" = b."ownerId" WHERE b."id" = $1`,
        [id],
      ),
    );
    if (!row) return null;
    return { id: row.id, title: row.title, owner: { id: row.ownerId, username: row.username }, createdAt: isoTime(row.createdAt), endedAt: isoTimeOrNull(row.endedAt), lastSeq: row.lastSeq, followers: row.followers };
  }

  async list(limit: number): Promise<BlogEntity[]> {
    return (await this.db.client.blog.findMany({ orderBy: { id: 'desc' }, take: limit, select: blogSelect })).map(toBlog);
  }

  /** The latest updates (not deleted), newest first. */
  async latestUpdates(blogId: number, limit: number): Promise<BlogUpdateEntity[]> {
    const rows = await this.db.client.blogUpdate.findMany({ where: { blogId, deletedAt: null }, orderBy: { id: 'desc' }, take: limit });
    return rows.map(toUpdate);
  }

  async findUpdate(blogId: number, updateId: number): Promise<BlogUpdateEntity | null> {
    const row = await this.db.client.blogUpdate.findFirst({ where: { id: updateId, blogId, deletedAt: null } });
    return row ? toUpdate(row) : null;
  }

  async isFollowing(blogId: number, userId: number): Promise<boolean> {
    return (await this.db.client.blogFollow.count({ where: { blogId, userId } })) > 0;
  }

  async follow(blogId: number, userId: number): Promise<void> {
    await idempotent(() => this.db.client.blogFollow.upsert({ where: { blogId_userId: { blogId, userId } }, create: { blogId, userId }, update: {} }));
  }

  async unfollow(blogId: number, userId: number): Promise<void> {
    await this.db.client.blogFollow.deleteMany({ where: { blogId, userId } });
  }

  /**
   * Followers' ids, ascending (read inside the posting transaction). Ascending because each
   * follower's notification locks their user row: every unit takes user rows in id order, so two
   * instances' transactions queue rather than deadlock.
   */
  *followerIds(blogId: number): Unit<number[]> {
    const rows = yield* many<{ userId: number }>(`SELECT "userId" FROM "BlogFollow" WHERE "blogId" = $1 ORDER BY "userId" ASC`, [blogId]);
    return rows.map((row) => row.userId);
  }

  /**
   * Appends `blog-followers` with the count as it stands: the blog row is locked first (its
   * counter bump), so a concurrent follow's count is read after it commits and the last event in
   * the log carries the latest count.
   */
  *appendFollowers(blogId: number): Unit<StreamEntry> {
    const row = yield* one<{ lastSeq: number }>(`UPDATE "Blog" SET "lastSeq" = "lastSeq" + 1 WHERE "id" = $1 RETURNING "lastSeq"`, [blogId]);
    if (!row) throw new Error(`blog ${blogId} does not exist`);
    const counted = yield* one<{ followers: number }>(`SELECT CAST(COUNT(*) AS INTEGER) AS "followers" FROM "BlogFollow" WHERE "blogId" = $1`, [blogId]);
    return yield* this.log.append(blogStream(blogId), row.lastSeq, 'blog-followers', { followers: counted?.followers ?? 0 });
  }

  /** Appends to the blog's log at the next position (counter on the blog row, see NotificationRepository.nextSeq). */
  *appendEvent(blogId: number, type: string, data: Record<string, unknown>): Unit<StreamEntry> {
    const row = yield* one<{ lastSeq: number }>(`UPDATE "Blog" SET "lastSeq" = "lastSeq" + 1 WHERE "id" = $1 RETURNING "lastSeq"`, [blogId]);
    if (!row) throw new Error(`blog ${blogId} does not exist`);
    return yield* this.log.append(blogStream(blogId), row.lastSeq, type, data);
  }

  *insertUpdate(blogId: number, body: string): Unit<BlogUpdateEntity> {
    const createdAt = sqlNow();
    const row = yield* one<{ id: number }>(`INSERT INTO "BlogUpdate" ("blogId", "body", "createdAt") VALUES ($1, $2, $3) RETURNING "id"`, [blogId, body, createdAt]);
    return { id: row!.id, blogId, body, createdAt: isoTime(createdAt), editedAt: null };
  }

  *editUpdate(updateId: number, body: string): Unit<BlogUpdateEntity> {
    const row = yield* one<{ id: number; blogId: number; body: string; createdAt: unknown; editedAt: unknown }>(
      `UPDATE "BlogUpdate" SET "body" = $2, "editedAt" = $3 WHERE "id" = $1 RETURNING "id", "blogId", "body", "createdAt", "editedAt"`,
      [updateId, body, sqlNow()],
    );
    if (!row) throw new Error(`blog update ${updateId} does not exist`);
    return { id: row.id, blogId: row.blogId, body: row.body, createdAt: isoTime(row.createdAt), editedAt: isoTimeOrNull(row.editedAt) };
  }

  *deleteUpdate(updateId: number): Unit<void> {
    yield* exec(`UPDATE "BlogUpdate" SET "deletedAt" = $2, "body" = '' WHERE "id" = $1`, [updateId, sqlNow()]);
  }

  /** Ends the blog; returns when, as ISO-8601. */
  *end(blogId: number): Unit<string> {
    const endedAt = sqlNow();
    yield* exec(`UPDATE "Blog" SET "endedAt" = $2 WHERE "id" = $1`, [blogId, endedAt]);
    return isoTime(endedAt);
  }
}
