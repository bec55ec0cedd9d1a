import { Injectable } from '@nestjs/common';
import type { BlogEntity, BlogUpdateEntity, StreamEntry } from '../domain/entities.js';
import { DatabaseRepository, idempotent, type Tx } from './database.repository.js';
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

  async find(id: number): Promise<BlogEntity | null> {
    const row = await this.db.client.blog.findUnique({ where: { id }, select: blogSelect });
    return row ? toBlog(row) : null;
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

  /** Followers' ids, oldest follow first (read inside the posting transaction). */
  async followerIds(tx: Tx, blogId: number): Promise<number[]> {
    return (await tx.blogFollow.findMany({ where: { blogId }, select: { userId: true }, orderBy: { createdAt: 'asc' } })).map((f) => f.userId);
  }

  /** Appends to the blog's log at the next position (counter on the blog row, see NotificationRepository.nextSeq). */
  async appendEvent(tx: Tx, blogId: number, type: string, data: Record<string, unknown>): Promise<StreamEntry> {
    const { lastSeq } = await tx.blog.update({ where: { id: blogId }, data: { lastSeq: { increment: 1 } }, select: { lastSeq: true } });
    return this.log.append(tx, blogStream(blogId), lastSeq, type, data);
  }

  async insertUpdate(tx: Tx, blogId: number, body: string): Promise<BlogUpdateEntity> {
    return toUpdate(await tx.blogUpdate.create({ data: { blogId, body } }));
  }

  async editUpdate(tx: Tx, updateId: number, body: string): Promise<BlogUpdateEntity> {
    return toUpdate(await tx.blogUpdate.update({ where: { id: updateId }, data: { body, editedAt: new Date() } }));
  }

  async deleteUpdate(tx: Tx, updateId: number): Promise<void> {
    await tx.blogUpdate.update({ where: { id: updateId }, data: { deletedAt: new Date(), body: '' } });
  }

  async end(tx: Tx, blogId: number): Promise<Date> {
    const endedAt = new Date();
    await tx.blog.update({ where: { id: blogId }, data: { endedAt } });
    return endedAt;
  }
}
