import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/tokens.js';
import type { BlogEntity, BlogUpdateEntity, StreamEntry, UserEntity } from '../domain/entities.js';
import { DomainError } from '../domain/errors.js';
import { BlogRepository, updatePayload } from '../repositories/blog.repository.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { EventBus } from '../repositories/event-bus.repository.js';
import { NotificationRepository } from '../repositories/notification.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';

export const SNAPSHOT_UPDATES = 50;

export interface BlogSnapshot {
  blog: BlogEntity;
  updates: BlogUpdateEntity[];
  /** The log position this snapshot is consistent with. */
  lastEventId: number;
}

/** Live blogs: the owner writes, anyone reads, followers are notified. */
@Injectable()
export class BlogService {
  constructor(
    private readonly db: DatabaseRepository,
    private readonly blogs: BlogRepository,
    private readonly notifications: NotificationRepository,
    private readonly bus: EventBus,
    private readonly rateLimit: RateLimitRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(owner: UserEntity, title: string): Promise<BlogEntity> {
    await this.rateLimit.enforce('create', owner.id, 'new rooms and blogs');
    return this.blogs.create(owner.id, title);
  }

  list(): Promise<BlogEntity[]> {
    return this.blogs.list(100);
  }

  async get(id: number): Promise<BlogEntity> {
    const blog = await this.blogs.find(id);
    if (!blog) throw new DomainError('not_found', `No blog ${id}`);
    return blog;
  }

  /** The latest updates and the log position they are consistent with (read first). */
  async snapshot(id: number): Promise<BlogSnapshot> {
    const blog = await this.get(id);
    const updates = await this.blogs.latestUpdates(id, SNAPSHOT_UPDATES);
    return { blog, updates, lastEventId: blog.lastSeq };
  }

  isFollowing(blogId: number, userId: number): Promise<boolean> {
    return this.blogs.isFollowing(blogId, userId);
  }

  /** Follows or unfollows; while the blog is live, its readers learn the new count (`blog-followers`). */
  async follow(user: UserEntity, blogId: number, on: boolean): Promise<void> {
    const blog = await this.get(blogId);
    // Already so: nothing to store or tell (a second click, a second tab).
    if ((await this.blogs.isFollowing(blogId, user.id)) === on) return;
    if (on) await this.blogs.follow(blogId, user.id);
    else await this.blogs.unfollow(blogId, user.id);
    // Nothing follows `blog-ended` on a blog's topic.
    if (blog.endedAt) return;
    const { blogs } = this;
    const entry = await this.db.write(function* () {
      return yield* blogs.appendFollowers(blogId);
    });
    await this.publish([entry]);
  }

  /** Posts an update: one transaction stores it, appends `update`, and notifies every follower. */
  async post(user: UserEntity, blogId: number, body: string): Promise<BlogUpdateEntity> {
    await this.rateLimit.enforce('write', user.id, 'blog writes');
    const blog = await this.ownedOpenBlog(user, blogId);
    const text = this.checkBody(body);
    const { blogs, notifications } = this;
    const { update, entries } = await this.db.write(function* () {
      const update = yield* blogs.insertUpdate(blog.id, text);
      const entries: StreamEntry[] = [yield* blogs.appendEvent(blog.id, 'update', updatePayload(update))];
      for (const userId of yield* blogs.followerIds(blog.id)) {
        if (userId === user.id) continue;
        const { entry } = yield* notifications.append({
          userId,
          kind: 'blog-update',
          title: `New in “${blog.title}”`,
          body: text.length > 280 ? `${text.slice(0, 279)}…` : text,
        });
        entries.push(entry);
      }
      return { update, entries };
    });
    await this.publish(entries);
    return update;
  }

  async edit(user: UserEntity, blogId: number, updateId: number, body: string): Promise<BlogUpdateEntity> {
    await this.rateLimit.enforce('write', user.id, 'blog writes');
    const blog = await this.ownedBlog(user, blogId);
    const text = this.checkBody(body);
    if (!(await this.blogs.findUpdate(blog.id, updateId))) throw new DomainError('not_found', `No update ${updateId} in blog ${blogId}`);
    const { blogs } = this;
    const { update, entry } = await this.db.write(function* () {
      const update = yield* blogs.editUpdate(updateId, text);
      return { update, entry: yield* blogs.appendEvent(blog.id, 'update-edited', updatePayload(update)) };
    });
    await this.publish([entry]);
    return update;
  }

  async deleteUpdate(user: UserEntity, blogId: number, updateId: number): Promise<void> {
    await this.rateLimit.enforce('write', user.id, 'blog writes');
    const blog = await this.ownedBlog(user, blogId);
    if (!(await this.blogs.findUpdate(blog.id, updateId))) throw new DomainError('not_found', `No update ${updateId} in blog ${blogId}`);
    const { blogs } = this;
    const entry = await this.db.write(function* () {
      yield* blogs.deleteUpdate(updateId);
      return yield* blogs.appendEvent(blog.id, 'update-deleted', { id: updateId });
    });
    await this.publish([entry]);
  }

  async end(user: UserEntity, blogId: number): Promise<BlogEntity> {
    await this.rateLimit.enforce('write', user.id, 'blog writes');
    const blog = await this.ownedOpenBlog(user, blogId);
    const { blogs } = this;
    const entry = await this.db.write(function* () {
      const endedAt = yield* blogs.end(blog.id);
      return yield* blogs.appendEvent(blog.id, 'blog-ended', { endedAt });
    });
    await this.publish([entry]);
    return this.get(blogId);
  }

  private async publish(entries: StreamEntry[]): Promise<void> {
    for (const entry of entries) await this.bus.publish({ type: 'stream.appended', entry });
  }

  private checkBody(body: string): string {
    const text = body.trim();
    if (text.length === 0) throw new DomainError('invalid', 'body must not be empty');
    const max = this.config.blogMaxUpdateChars;
    if (text.length > max) throw new DomainError('too_large', `body must be at most ${max} characters`);
    return text;
  }

  private async ownedBlog(user: UserEntity, blogId: number): Promise<BlogEntity> {
    const blog = await this.get(blogId);
    if (blog.owner.id !== user.id) throw new DomainError('forbidden', 'Only the author can change this blog');
    return blog;
  }

  private async ownedOpenBlog(user: UserEntity, blogId: number): Promise<BlogEntity> {
    const blog = await this.ownedBlog(user, blogId);
    if (blog.endedAt) throw new DomainError('conflict', 'This blog has ended');
    return blog;
  }
}
