import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, SseClient, signUp, type SignedIn } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let author: SignedIn;
let reader: SignedIn;

beforeAll(async () => {
  server = await startServer();
  author = await signUp(server.url, 'author');
  reader = await signUp(server.url, 'reader');
});
afterAll(async () => {
  await server.close();
  server.cleanup();
});

const call = (method: string, path: string, who?: SignedIn, body?: unknown) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: { ...(who ? { cookie: who.cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const json = async <T>(res: Response) => (await res.json()) as T;

describe('live blogs', () => {
  it('lets the owner create, post, edit, delete and end; anyone reads the snapshot and the stream', async () => {
    const created = await call('POST', '/api/blogs', author, { title: 'Launch day' });
    expect(created.status).toBe(201);
    const blog = await json<{ id: number; title: string; owner: { username: string }; endedAt: null; followers: number; following: boolean }>(created);
    expect(blog).toEqual({ id: expect.any(Number), title: 'Launch day', owner: { id: author.user.id, username: 'author' }, createdAt: expect.any(String), endedAt: null, followers: 0, following: false });

    const stream = new SseClient(`${server.url}/api/blogs/${blog.id}/stream?lastEventId=0`, undefined, ['update', 'update-edited', 'update-deleted', 'blog-ended']);
    try {
      const first = await json<{ id: number }>(await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'We are live' }));
      await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'Second' });
      expect((await call('PATCH', `/api/blogs/${blog.id}/updates/${first.id}`, author, { body: 'We are LIVE' })).status).toBe(200);
      expect((await call('DELETE', `/api/blogs/${blog.id}/updates/${first.id}`, author)).status).toBe(204);
      const ended = await call('POST', `/api/blogs/${blog.id}/end`, author);
      expect(ended.status).toBe(200);
      expect((await json<{ endedAt: string }>(ended)).endedAt).toEqual(expect.any(String));

      await stream.waitForCount(5);
      expect(stream.events.map((e) => [e.id, e.type])).toEqual([
        ['1', 'update'],
        ['2', 'update'],
        ['3', 'update-edited'],
        ['4', 'update-deleted'],
        ['5', 'blog-ended'],
      ]);
      expect(stream.events[2]!.data).toMatchObject({ topic: `blog:${blog.id}`, id: first.id, body: 'We are LIVE', editedAt: expect.any(String) });
      expect(stream.events[3]!.data).toMatchObject({ id: first.id });

      const snapshot = await json<{ blog: { endedAt: string | null }; updates: { body: string }[]; lastEventId: number }>(await call('GET', `/api/blogs/${blog.id}`));
      expect(snapshot.updates.map((u) => u.body)).toEqual(['Second']);
      expect(snapshot.lastEventId).toBe(5);
      expect(snapshot.blog.endedAt).not.toBeNull();
      expect((await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'after the end' })).status).toBe(409);
      const list = await json<{ blogs: { id: number }[] }>(await call('GET', '/api/blogs'));
      expect(list.blogs.map((b) => b.id)).toContain(blog.id);
    } finally {
      stream.close();
    }
  });

  it('refuses writes by others (403), oversized bodies (413), empty or malformed ones (400), unknown ids (404); stores nothing', async () => {
    const blog = await json<{ id: number }>(await call('POST', '/api/blogs', author, { title: 'Guarded' }));
    const update = await json<{ id: number }>(await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'mine' }));
    expect((await call('POST', `/api/blogs/${blog.id}/updates`, reader, { body: 'hijack' })).status).toBe(403);
    expect((await call('PATCH', `/api/blogs/${blog.id}/updates/${update.id}`, reader, { body: 'hijack' })).status).toBe(403);
    expect((await call('DELETE', `/api/blogs/${blog.id}/updates/${update.id}`, reader)).status).toBe(403);
    expect((await call('POST', `/api/blogs/${blog.id}/end`, reader)).status).toBe(403);
    expect((await call('POST', `/api/blogs/${blog.id}/updates`, undefined, { body: 'anon' })).status).toBe(401);
    const big = await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'x'.repeat(10_001) });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ statusCode: 413, error: 'Payload Too Large', message: 'body must be at most 10000 characters' });
    expect((await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'x'.repeat(70_000) })).status).toBe(413);
    expect((await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: '   ' })).status).toBe(400);
    expect((await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 42 })).status).toBe(400);
    expect((await call('POST', '/api/blogs', author, { title: '' })).status).toBe(400);
    expect((await call('POST', '/api/blogs', author, { title: 'x'.repeat(201) })).status).toBe(400);
    expect((await call('GET', '/api/blogs/999999')).status).toBe(404);
    expect((await call('GET', '/api/blogs/abc')).status).toBe(404);
    expect((await call('PATCH', `/api/blogs/${blog.id}/updates/999999`, author, { body: 'x' })).status).toBe(404);
    expect((await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'ok' }, )).status).toBe(201);
    const snapshot = await json<{ updates: { body: string }[]; lastEventId: number }>(await call('GET', `/api/blogs/${blog.id}`));
    expect(snapshot.updates.map((u) => u.body)).toEqual(['ok', 'mine']);
    expect(snapshot.lastEventId).toBe(2);
  });

  it('tells the blog’s readers the follower count as it changes, once per change, and not after the end', async () => {
    const blog = await json<{ id: number }>(await call('POST', '/api/blogs', author, { title: 'Counted' }));
    const stream = new SseClient(`${server.url}/api/blogs/${blog.id}/stream?lastEventId=0`, undefined, ['update', 'blog-followers', 'blog-ended']);
    try {
      expect((await call('POST', `/api/blogs/${blog.id}/follow`, reader)).status).toBe(204);
      expect((await call('POST', `/api/blogs/${blog.id}/follow`, reader)).status).toBe(204); // no change: no event
      expect((await call('POST', `/api/blogs/${blog.id}/follow`, author)).status).toBe(204);
      expect((await call('DELETE', `/api/blogs/${blog.id}/follow`, reader)).status).toBe(204);
      expect((await call('DELETE', `/api/blogs/${blog.id}/follow`, reader)).status).toBe(204); // no change
      expect((await call('POST', `/api/blogs/${blog.id}/end`, author)).status).toBe(200);
      expect((await call('POST', `/api/blogs/${blog.id}/follow`, reader)).status).toBe(204); // ended: nothing follows
      expect((await call('POST', `/api/blogs/99999/follow`, reader)).status).toBe(404);
      await stream.waitForCount(4);
      await new Promise((r) => setTimeout(r, 200));
      expect(stream.events.map((e) => [e.type, (e.data as { followers?: number }).followers])).toEqual([
        ['blog-followers', 1],
        ['blog-followers', 2],
        ['blog-followers', 1],
        ['blog-ended', undefined],
      ]);
    } finally {
      stream.close();
    }
  });

  it('notifies followers of new updates, and stops after unfollow', async () => {
    const blog = await json<{ id: number }>(await call('POST', '/api/blogs', author, { title: 'Followed' }));
    expect((await call('POST', `/api/blogs/${blog.id}/follow`, reader)).status).toBe(204);
    expect((await call('POST', `/api/blogs/${blog.id}/follow`, reader)).status).toBe(204); // idempotent
    expect((await call('POST', `/api/blogs/${blog.id}/follow`)).status).toBe(401);
    const snap = await json<{ blog: { followers: number; following: boolean } }>(await call('GET', `/api/blogs/${blog.id}`, reader));
    expect(snap.blog).toMatchObject({ followers: 1, following: true });
    const before = await json<{ lastId: number }>(await call('GET', '/api/notifications', reader));
    const stream = new SseClient(`${server.url}/api/notifications/stream?lastEventId=${before.lastId}`, reader.cookie);
    try {
      await stream.waitForOpen();
      await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'news for followers' });
      const [n] = await stream.waitForCount(1);
      expect(n!.data).toMatchObject({ kind: 'blog-update', title: 'New in “Followed”', body: 'news for followers' });
      expect((await call('DELETE', `/api/blogs/${blog.id}/follow`, reader)).status).toBe(204);
      await call('POST', `/api/blogs/${blog.id}/updates`, author, { body: 'not for you' });
      await new Promise((r) => setTimeout(r, 200));
      expect(stream.events).toHaveLength(1);
    } finally {
      stream.close();
    }
  });

  it('refuses foreign-origin writes', async () => {
    expect((await postJson(server.url, '/api/blogs', { title: 'csrf' }, { cookie: author.cookie, origin: 'http://evil.example' })).status).toBe(403);
  });
});
