import { beforeEach, describe, expect, it } from 'vitest';
import type { BlogEntity, BlogUpdateEntity, StreamEntry, UserEntity } from '../domain/entities.js';
import type { BlogRepository } from '../repositories/blog.repository.js';
import type { Unit } from '../repositories/sql.js';
import { FakeDatabase, FakeNotifications, FakeRateLimit, NOW, RecordingBus, fakeConfig } from '../testing/fakes.js';
import { BlogService, SNAPSHOT_UPDATES } from './blog.service.js';

interface StoredBlog {
  blog: BlogEntity;
  updates: (BlogUpdateEntity & { deleted: boolean })[];
  followers: Set<number>;
  log: StreamEntry[];
}

/** Blogs, their updates and followers, and each blog's gapless `blog:<id>` log, in memory. */
class FakeBlogs implements Pick<
  BlogRepository,
  'create' | 'find' | 'latestUpdates' | 'findUpdate' | 'isFollowing' | 'follow' | 'unfollow' | 'followerIds' | 'appendFollowers' | 'appendEvent' | 'insertUpdate' | 'editUpdate' | 'deleteUpdate' | 'end'
> {
  readonly blogs = new Map<number, StoredBlog>();
  private updateIds = 0;

  private stored(id: number): StoredBlog {
    const blog = this.blogs.get(id);
    if (!blog) throw new Error(`blog ${id} does not exist`);
    return blog;
  }

  create(ownerId: number, title: string): Promise<BlogEntity> {
    const blog: BlogEntity = { id: this.blogs.size + 1, title, owner: { id: ownerId, username: `user${ownerId}` }, createdAt: NOW, endedAt: null, lastSeq: 0, followers: 0 };
    this.blogs.set(blog.id, { blog, updates: [], followers: new Set(), log: [] });
    return Promise.resolve({ ...blog });
  }

  find(id: number): Promise<BlogEntity | null> {
    const stored = this.blogs.get(id);
    return Promise.resolve(stored ? { ...stored.blog, followers: stored.followers.size } : null);
  }

  latestUpdates(blogId: number, limit: number): Promise<BlogUpdateEntity[]> {
    return Promise.resolve(
      this.stored(blogId)
        .updates.filter((u) => !u.deleted)
        .reverse()
        .slice(0, limit),
    );
  }

  findUpdate(blogId: number, updateId: number): Promise<BlogUpdateEntity | null> {
    return Promise.resolve(this.blogs.get(blogId)?.updates.find((u) => u.id === updateId && !u.deleted) ?? null);
  }

  isFollowing(blogId: number, userId: number): Promise<boolean> {
    return Promise.resolve(this.stored(blogId).followers.has(userId));
  }

  follow(blogId: number, userId: number): Promise<void> {
    this.stored(blogId).followers.add(userId);
    return Promise.resolve();
  }

  unfollow(blogId: number, userId: number): Promise<void> {
    this.stored(blogId).followers.delete(userId);
    return Promise.resolve();
  }

  *followerIds(blogId: number): Unit<number[]> {
    return [...this.stored(blogId).followers].sort((a, b) => a - b);
  }

  *appendFollowers(blogId: number): Unit<StreamEntry> {
    return yield* this.appendEvent(blogId, 'blog-followers', { followers: this.stored(blogId).followers.size });
  }

  *appendEvent(blogId: number, type: string, data: Record<string, unknown>): Unit<StreamEntry> {
    const stored = this.stored(blogId);
    const entry: StreamEntry = { stream: `blog:${blogId}`, seq: ++stored.blog.lastSeq, type, data, createdAt: NOW };
    stored.log.push(entry);
    return entry;
  }

  *insertUpdate(blogId: number, body: string): Unit<BlogUpdateEntity> {
    const update = { id: ++this.updateIds, blogId, body, createdAt: NOW, editedAt: null, deleted: false };
    this.stored(blogId).updates.push(update);
    const { deleted: _, ...entity } = update;
    return entity;
  }

  *editUpdate(updateId: number, body: string): Unit<BlogUpdateEntity> {
    const update = [...this.blogs.values()].flatMap((b) => b.updates).find((u) => u.id === updateId);
    if (!update) throw new Error(`blog update ${updateId} does not exist`);
    Object.assign(update, { body, editedAt: NOW });
    const { deleted: _, ...entity } = update;
    return entity;
  }

  *deleteUpdate(updateId: number): Unit<void> {
    const update = [...this.blogs.values()].flatMap((b) => b.updates).find((u) => u.id === updateId);
    if (update) Object.assign(update, { body: '', deleted: true });
  }

  *end(blogId: number): Unit<string> {
    this.stored(blogId).blog.endedAt = NOW;
    return NOW;
  }
}

const owner: UserEntity = { id: 1, username: 'user1' };
const reader: UserEntity = { id: 2, username: 'user2' };
const other: UserEntity = { id: 3, username: 'user3' };

describe('BlogService', () => {
  let blogs: FakeBlogs;
  let notifications: FakeNotifications;
  let rateLimit: FakeRateLimit;
  let bus: RecordingBus;
  let service: BlogService;
  let blogId: number;

  beforeEach(async () => {
    blogs = new FakeBlogs();
    notifications = new FakeNotifications();
    rateLimit = new FakeRateLimit();
    bus = new RecordingBus();
    service = new BlogService(new FakeDatabase().as(), blogs as unknown as BlogRepository, notifications.as(), bus, rateLimit.as(), fakeConfig());
    blogId = (await service.create(owner, 'Launch day')).id;
  });

  const appended = () => bus.of('stream.appended').map((e) => `${e.entry.stream}#${e.entry.seq} ${e.entry.type}`);

  it('counts a new blog against the create limit, and creates nothing when refused', async () => {
    expect(rateLimit.taken).toEqual([{ policy: 'create', key: '1' }]);
    rateLimit.deny('create');
    await expect(service.create(owner, 'Another')).rejects.toMatchObject({ code: 'rate_limited' });
    expect(blogs.blogs.size).toBe(1);
  });

  describe('post', () => {
    it('stores the update, appends `update` to the blog’s log and notifies every follower but the author, published in that order', async () => {
      await service.follow(other, blogId, true);
      await service.follow(reader, blogId, true);
      await service.follow(owner, blogId, true);
      bus.published.length = 0;
      const update = await service.post(owner, blogId, '  We are live  ');
      expect(update).toMatchObject({ blogId, body: 'We are live', editedAt: null });
      expect(appended()).toEqual(['blog:1#4 update', 'user:2#1 notification', 'user:3#1 notification']);
      expect(bus.of('stream.appended')[1]!.entry.data).toMatchObject({ kind: 'blog-update', title: 'New in “Launch day”', body: 'We are live' });
      expect(notifications.logs.has(owner.id)).toBe(false);
    });

    it('lets only the author post (forbidden), storing and publishing nothing', async () => {
      await expect(service.post(reader, blogId, 'hello')).rejects.toMatchObject({ code: 'forbidden' });
      expect(blogs.blogs.get(blogId)!.updates).toEqual([]);
      expect(bus.published).toEqual([]);
    });

    it('refuses an empty body (invalid), one over the limit (too_large), and an unknown blog (not_found)', async () => {
      await expect(service.post(owner, blogId, '   ')).rejects.toMatchObject({ code: 'invalid' });
      await expect(service.post(owner, blogId, 'x'.repeat(61))).rejects.toMatchObject({ code: 'too_large' });
      await expect(service.post(owner, blogId, 'x'.repeat(60))).resolves.toMatchObject({ body: 'x'.repeat(60) });
      await expect(service.post(owner, 99, 'hi')).rejects.toMatchObject({ code: 'not_found' });
    });

    it('is refused once the blog has ended (conflict)', async () => {
      const ended = await service.end(owner, blogId);
      expect(ended.endedAt).toBe(NOW);
      expect(appended()).toEqual(['blog:1#1 blog-ended']);
      await expect(service.post(owner, blogId, 'one more')).rejects.toMatchObject({ code: 'conflict' });
      await expect(service.end(owner, blogId)).rejects.toMatchObject({ code: 'conflict' });
    });

    it('is rate limited on the write policy', async () => {
      rateLimit.deny('write');
      await expect(service.post(owner, blogId, 'hi')).rejects.toMatchObject({ code: 'rate_limited' });
      expect(bus.published).toEqual([]);
    });
  });

  describe('edit and delete', () => {
    let updateId: number;
    beforeEach(async () => {
      updateId = (await service.post(owner, blogId, 'draft')).id;
      bus.published.length = 0;
    });

    it('edits an update and appends `update-edited`', async () => {
      expect(await service.edit(owner, blogId, updateId, 'final')).toMatchObject({ id: updateId, body: 'final', editedAt: NOW });
      expect(bus.of('stream.appended').map((e) => [e.entry.type, e.entry.data])).toEqual([['update-edited', { id: updateId, body: 'final', createdAt: NOW, editedAt: NOW }]]);
    });

    it('deletes an update and appends `update-deleted`; then it is not_found to edit or delete again', async () => {
      await service.deleteUpdate(owner, blogId, updateId);
      expect(bus.of('stream.appended').map((e) => [e.entry.type, e.entry.data])).toEqual([['update-deleted', { id: updateId }]]);
      await expect(service.deleteUpdate(owner, blogId, updateId)).rejects.toMatchObject({ code: 'not_found' });
      await expect(service.edit(owner, blogId, updateId, 'back')).rejects.toMatchObject({ code: 'not_found' });
      expect(bus.published).toHaveLength(1);
    });

    it('lets only the author edit or delete', async () => {
      await expect(service.edit(reader, blogId, updateId, 'vandal')).rejects.toMatchObject({ code: 'forbidden' });
      await expect(service.deleteUpdate(reader, blogId, updateId)).rejects.toMatchObject({ code: 'forbidden' });
      expect(bus.published).toEqual([]);
    });
  });

  describe('follow', () => {
    it('appends the new follower count, and a second identical click stores and publishes nothing', async () => {
      await service.follow(reader, blogId, true);
      await service.follow(reader, blogId, true);
      expect(await service.isFollowing(blogId, reader.id)).toBe(true);
      await service.follow(reader, blogId, false);
      await service.follow(reader, blogId, false);
      expect(bus.of('stream.appended').map((e) => e.entry.data)).toEqual([{ followers: 1 }, { followers: 0 }]);
    });

    it('still follows an ended blog but appends nothing after `blog-ended`', async () => {
      await service.end(owner, blogId);
      await service.follow(reader, blogId, true);
      expect(await service.isFollowing(blogId, reader.id)).toBe(true);
      expect(blogs.blogs.get(blogId)!.log.at(-1)!.type).toBe('blog-ended');
    });
  });

  it('snapshots the latest updates, newest first, with the log position they are consistent with', async () => {
    for (let i = 1; i <= SNAPSHOT_UPDATES + 2; i++) await service.post(owner, blogId, `u${i}`);
    const snapshot = await service.snapshot(blogId);
    expect(snapshot.updates).toHaveLength(SNAPSHOT_UPDATES);
    expect(snapshot.updates[0]!.body).toBe(`u${SNAPSHOT_UPDATES + 2}`);
    expect(snapshot.lastEventId).toBe(SNAPSHOT_UPDATES + 2);
    await expect(service.snapshot(99)).rejects.toMatchObject({ code: 'not_found' });
  });
});
