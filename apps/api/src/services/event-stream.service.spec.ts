import { MAX_TOPICS, POLL_LIMIT } from '@rt/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BlogEntity, StreamEntry, UserEntity } from '../domain/entities.js';
import { parsePosition } from '../domain/stream-position.js';
import type { BlogRepository } from '../repositories/blog.repository.js';
import type { StreamEventRepository } from '../repositories/stream-event.repository.js';
import { FakeNotifications, NOW, runUnit } from '../testing/fakes.js';
import { EventStreamService, type TopicSpec } from './event-stream.service.js';

/** The durable logs in memory: entries 1..last of each, of which those at or below `pruned` are gone. */
class FakeLogs implements Pick<StreamEventRepository, 'after' | 'floor'> {
  readonly logs = new Map<string, { entries: StreamEntry[]; pruned: number }>();

  fill(stream: string, last: number, pruned = 0): void {
    const type = stream.startsWith('user:') ? 'notification-read' : 'update';
    const entries = Array.from({ length: last }, (_, i) => ({ stream, seq: i + 1, type, data: { ids: [i + 1], all: false, unread: 0 }, createdAt: NOW }));
    this.logs.set(stream, { entries: entries.filter((e) => e.seq > pruned), pruned });
  }

  after(stream: string, after: number, limit: number): Promise<StreamEntry[]> {
    return Promise.resolve((this.logs.get(stream)?.entries ?? []).filter((e) => e.seq > after).slice(0, limit));
  }

  floor(stream: string, last: number): Promise<number> {
    const oldest = this.logs.get(stream)?.entries[0];
    return Promise.resolve(oldest ? oldest.seq - 1 : last);
  }
}

class FakeBlogFinder implements Pick<BlogRepository, 'find'> {
  readonly blogs = new Map<number, BlogEntity>();

  add(id: number, lastSeq: number): void {
    this.blogs.set(id, { id, title: `blog ${id}`, owner: { id: 9, username: 'owner' }, createdAt: NOW, endedAt: null, lastSeq, followers: 0 });
  }

  find(id: number): Promise<BlogEntity | null> {
    return Promise.resolve(this.blogs.get(id) ?? null);
  }
}

const alice: UserEntity = { id: 1, username: 'alice' };

describe('EventStreamService', () => {
  let logs: FakeLogs;
  let blogs: FakeBlogFinder;
  let notifications: FakeNotifications;
  let service: EventStreamService;

  beforeEach(() => {
    logs = new FakeLogs();
    blogs = new FakeBlogFinder();
    notifications = new FakeNotifications();
    service = new EventStreamService(notifications.as(), blogs as unknown as BlogRepository, logs as unknown as StreamEventRepository, null as never);
  });

  /** Gives alice `count` notifications: her counter and her log. */
  const notify = (count: number) => {
    for (let i = 0; i < count; i++) runUnit(notifications.append({ userId: alice.id, kind: 'system', title: 't', body: 'b' }));
    logs.fill('user:1', count);
  };

  describe('resolveTopics', () => {
    it('resolves notifications to the user’s own log and a blog to its log with its last position, once each', async () => {
      blogs.add(3, 7);
      expect(await service.resolveTopics(' notifications, blog:3, user:1,blog:3', alice)).toEqual([
        { topic: 'notifications', stream: 'user:1', private: true },
        { topic: 'blog:3', stream: 'blog:3', private: false, last: 7 },
      ]);
    });

    it.each([
      ['', 'invalid'],
      [Array.from({ length: MAX_TOPICS + 1 }, (_, i) => `blog:${i + 1}`).join(','), 'invalid'],
      ['blog:0', 'invalid'],
      ['chat:general', 'invalid'],
      ['blog:4', 'not_found'],
      ['user:2', 'forbidden'],
    ])('%s: %s', async (raw, code) => {
      await expect(service.resolveTopics(raw, alice)).rejects.toMatchObject({ code });
    });

    it('needs a session for private topics, not for public ones', async () => {
      blogs.add(3, 0);
      await expect(service.resolveTopics('notifications', null)).rejects.toMatchObject({ code: 'unauthenticated' });
      await expect(service.resolveTopics('user:1', null)).rejects.toMatchObject({ code: 'unauthenticated' });
      expect(await service.resolveTopics('blog:3', null)).toHaveLength(1);
    });

    it('takes exactly MAX_TOPICS topics', async () => {
      for (let i = 1; i <= MAX_TOPICS; i++) blogs.add(i, 0);
      const raw = Array.from({ length: MAX_TOPICS }, (_, i) => `blog:${i + 1}`).join(',');
      expect(await service.resolveTopics(raw, null)).toHaveLength(MAX_TOPICS);
    });
  });

  describe('plan', () => {
    // blog:3 holds 1..20 with 1..5 pruned (floor 5); alice's log holds 1..4.
    let topics: TopicSpec[];
    beforeEach(async () => {
      blogs.add(3, 20);
      logs.fill('blog:3', 20, 5);
      notify(4);
      topics = await service.resolveTopics('blog:3,notifications', alice);
    });

    const plan = (lastEventId: string | undefined, composite = true) => service.plan(topics, parsePosition(lastEventId, composite));

    it('resumes every topic at its own position while the log still holds what follows', async () => {
      const p = await plan('blog:3=5,notifications=4');
      expect([...p.starts]).toEqual([['blog:3', 5], ['notifications', 4]]);
      expect(p.reset).toBeNull();
    });

    it('starts a topic the position does not mention at the end of its log, without a reset', async () => {
      const p = await plan('blog:3=12');
      expect([...p.starts]).toEqual([['blog:3', 12], ['notifications', 4]]);
      expect(p.reset).toBeNull();
    });

    it('resets a position older than retention (below the floor) to the end, naming every topic', async () => {
      const p = await plan('blog:3=4,notifications=2');
      expect([...p.starts]).toEqual([['blog:3', 20], ['notifications', 2]]);
      expect(p.reset).toEqual({ 'blog:3': { lastId: 20, reason: 'expired' }, notifications: { lastId: 2, reason: 'ok' } });
    });

    it('resets a position ahead of the log (unknown) to the end', async () => {
      const p = await plan('blog:3=21,notifications=4');
      expect(p.reset).toEqual({ 'blog:3': { lastId: 20, reason: 'unknown' }, notifications: { lastId: 4, reason: 'ok' } });
    });

    it('resets every topic of a malformed position', async () => {
      const p = await plan('blog:3=x');
      expect(p.reset).toEqual({ 'blog:3': { lastId: 20, reason: 'malformed' }, notifications: { lastId: 4, reason: 'malformed' } });
    });

    it('starts a new reader (no position) at the end of every log', async () => {
      const p = await plan(undefined);
      expect([...p.starts]).toEqual([['blog:3', 20], ['notifications', 4]]);
      expect(p.reset).toBeNull();
    });

    it('applies a plain position to a single-topic stream', async () => {
      topics = topics.slice(0, 1);
      expect([...(await plan('9', false)).starts]).toEqual([['blog:3', 9]]);
    });
  });

  describe('poll', () => {
    it('answers the reset first, then each topic’s events after its start, each with the composite id after it', async () => {
      blogs.add(3, 3);
      logs.fill('blog:3', 3);
      notify(2);
      const topics = await service.resolveTopics('blog:3,notifications', alice);
      const plan = await service.plan(topics, parsePosition('blog:3=1,notifications=9', true));
      const { events, lastEventId } = await service.poll(plan);
      expect(events.map((e) => [e.event, e.id])).toEqual([
        ['reset', 'blog:3=1,notifications=2'],
        ['update', 'blog:3=2,notifications=2'],
        ['update', 'blog:3=3,notifications=2'],
      ]);
      expect(events[0]!.data).toEqual({ topics: { 'blog:3': { lastId: 1, reason: 'ok' }, notifications: { lastId: 2, reason: 'unknown' } } });
      expect(lastEventId).toBe('blog:3=3,notifications=2');
    });

    it('stops at POLL_LIMIT events, and the id resumes after the last one sent', async () => {
      blogs.add(3, POLL_LIMIT + 10);
      logs.fill('blog:3', POLL_LIMIT + 10);
      const topics = await service.resolveTopics('blog:3', null);
      const first = await service.poll(await service.plan(topics, parsePosition('blog:3=0', true)));
      expect(first.events).toHaveLength(POLL_LIMIT);
      expect(first.lastEventId).toBe(`blog:3=${POLL_LIMIT}`);
      const rest = await service.poll(await service.plan(topics, parsePosition(first.lastEventId, true)));
      expect(rest.events.map((e) => e.id)).toEqual(Array.from({ length: 10 }, (_, i) => `blog:3=${POLL_LIMIT + i + 1}`));
    });
  });

  describe('source', () => {
    it('replays from the start position, saying where it got to and whether a full page left more', async () => {
      logs.fill('blog:3', 502);
      const spec: TopicSpec = { topic: 'blog:3', stream: 'blog:3', private: false };
      const full = await service.source(spec, 0).initial();
      expect(full.items).toHaveLength(500);
      expect(full).toMatchObject({ position: 500, more: true });
      expect(await service.source(spec, 502).initial()).toEqual({ items: [], position: 502, more: false });
      const tail = await service.source(spec, 500).initial();
      expect(tail.items.map((e) => e.seq)).toEqual([501, 502]);
      expect(tail).toMatchObject({ position: 502, more: false });
    });
  });
});
