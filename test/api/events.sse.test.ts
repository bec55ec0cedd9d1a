import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseRepository } from '../../apps/api/src/repositories/sse.repository.js';
import { RetentionService } from '../../apps/api/src/services/retention.service.js';
import { eventually, postJson, readStream, SseClient, signUp, type SignedIn } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let owner: SignedIn;
const clients: SseClient[] = [];

beforeAll(async () => {
  server = await startServer({ sseRetryMs: 200, eventRetentionCount: 5 });
  owner = await signUp(server.url, 'owner');
});
afterAll(async () => {
  for (const c of clients) c.close();
  await server.close();
  server.cleanup();
});

let users = 0;
const newUser = () => signUp(server.url, `reader${++users}`);
const notify = async (who: SignedIn, title = 'n') => {
  const res = await postJson(server.url, '/api/notifications/test', { title }, { cookie: who.cookie });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: number }).id;
};
const newBlog = async (title = 'Live') => {
  const res = await postJson(server.url, '/api/blogs', { title }, { cookie: owner.cookie });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: number }).id;
};
const postUpdate = async (blog: number, body: string) => {
  const res = await postJson(server.url, `/api/blogs/${blog}/updates`, { body }, { cookie: owner.cookie });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: number }).id;
};
const open = (path: string, who?: SignedIn, types = ['notification', 'notification-read', 'update', 'update-edited', 'update-deleted', 'blog-ended', 'reset', 'auth-expired']) => {
  const c = new SseClient(`${server.url}${path}`, who?.cookie, types);
  clients.push(c);
  return c;
};

describe('GET /api/events (one stream, many topics)', () => {
  it('carries several logs with composite ids, and resumes all of them after a drop with no gap or duplicate', async () => {
    const user = await newUser();
    const blog = await newBlog();
    await notify(user, 'n1');
    await postUpdate(blog, 'u1');
    const stream = open(`/api/events?topics=notifications,blog:${blog}&lastEventId=${encodeURIComponent(`notifications=0,blog:${blog}=0`)}`, user);
    await stream.waitForCount(2);
    expect(stream.events.map((e) => [e.type, e.id])).toEqual([
      ['notification', `notifications=1,blog:${blog}=0`],
      ['update', `notifications=1,blog:${blog}=1`],
    ]);
    expect(stream.events[1]!.data).toMatchObject({ topic: `blog:${blog}`, body: 'u1', t: expect.any(Number) });

    server.app.get(SseRepository).closeAll();
    await notify(user, 'n2');
    await postUpdate(blog, 'u2');
    await notify(user, 'n3');
    await stream.waitForOpen(2);
    await stream.waitForCount(5);
    await postUpdate(blog, 'u3');
    await stream.waitForCount(6);
    await new Promise((r) => setTimeout(r, 100));
    const titles = stream.events.map((e) => (e.data.title ?? e.data.body) as string);
    expect(titles).toEqual(['n1', 'u1', 'n2', 'n3', 'u2', 'u3']);
    expect(stream.events.at(-1)!.id).toBe(`notifications=3,blog:${blog}=3`);
  });

  it('answers bad topic requests before any stream, as JSON', async () => {
    const user = await newUser();
    const other = await newUser();
    const status = async (query: string, who?: SignedIn) => {
      const res = await fetch(`${server.url}/api/events?${query}`, { headers: who ? { cookie: who.cookie } : {} });
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      return res.status;
    };
    expect(await status('')).toBe(400);
    expect(await status('topics=rooms')).toBe(400);
    expect(await status('topics=blog:abc')).toBe(400);
    expect(await status(`topics=${Array.from({ length: 11 }, (_, i) => `blog:${i + 1}`).join(',')}`, user)).toBe(400);
    expect(await status('topics=notifications')).toBe(401);
    expect(await status(`topics=user:${other.user.id}`, user)).toBe(403);
    expect(await status('topics=blog:999999')).toBe(404);
  });

  it('answers the stream paths below Express as Express routed them, and leaves the rest to it', async () => {
    const blog = await newBlog();
    const head = async (path: string, init: RequestInit = {}) => {
      const controller = new AbortController();
      const res = await fetch(`${server.url}${path}`, { ...init, signal: controller.signal });
      const answer = { status: res.status, type: res.headers.get('content-type'), body: res.status === 200 ? null : ((await res.json()) as unknown) };
      controller.abort();
      return answer;
    };
    const stream = { status: 200, type: 'text/event-stream; charset=utf-8', body: null };
    // The security headers every Express response has, on a stream served below it too.
    const secured = await fetch(`${server.url}/api/blogs/${blog}/stream`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    expect(secured?.headers.get('x-content-type-options')).toBe('nosniff');
    expect(secured?.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    // ...and on a refusal written there (a JSON error before any stream starts), with the refusal's own headers.
    const refused = await fetch(`${server.url}/api/blogs/2147483647/stream`, { signal: AbortSignal.timeout(2000) });
    expect(refused.status).toBe(404);
    expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(refused.headers.get('x-content-type-options')).toBe('nosniff');
    expect(refused.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    await secured?.body?.cancel();
    // Express matches case-insensitively, with or without a trailing slash.
    expect(await head(`/api/blogs/${blog}/stream/`)).toEqual(stream);
    expect(await head(`/API/Blogs/${blog}/Stream`)).toEqual(stream);
    expect(await head(`/api/events/?topics=blog:${blog}`)).toEqual(stream);
    expect(await head('/api/blogs/%31/stream')).toEqual(stream); // `:id` is decoded (blog 1 exists by now)
    // Nest's ParseIntPipe said this for `:id`, with a 404; a huge number is no topic (400), a
    // broken escape cannot be decoded (400).
    const notFound = { statusCode: 404, error: 'Not Found', message: 'Validation failed (numeric string is expected)' };
    expect(await head('/api/blogs/abc/stream')).toEqual({ status: 404, type: 'application/json; charset=utf-8', body: notFound });
    expect(await head('/api/blogs/1.5/stream')).toEqual({ status: 404, type: 'application/json; charset=utf-8', body: notFound });
    expect(await head(`/api/blogs/${'9'.repeat(400)}/stream`)).toMatchObject({ status: 400, body: { error: 'Bad Request' } });
    expect(await head('/api/blogs/%E0%A4%A/stream')).toMatchObject({ status: 400, body: { message: "Failed to decode param '%E0%A4%A'" } });
    // A query parameter given twice is refused, as Express's parser made it an array.
    expect(await head(`/api/events?topics=blog:${blog}&topics=blog:${blog}`)).toEqual({
      status: 400,
      type: 'application/json; charset=utf-8',
      body: { statusCode: 400, error: 'Bad Request', message: 'topics is required, for example topics=notifications,blog:3' },
    });
    expect(await head('/api/notifications/stream')).toMatchObject({ status: 401, body: { statusCode: 401, error: 'Unauthorized', message: 'Sign in required' } });
    // Other methods and paths are Express's, as before.
    expect((await head(`/api/events?topics=blog:${blog}`, { method: 'POST' })).status).toBe(404);
    expect((await head(`/api/events/poll?topics=blog:${blog}`)).status).toBe(200);
    expect((await head(`/api/blogs/${blog}/streams`)).status).toBe(404);
  });

  it('serves public topics without a session', async () => {
    const blog = await newBlog();
    const stream = open(`/api/blogs/${blog}/stream`);
    await stream.waitForOpen();
    await postUpdate(blog, 'hello readers');
    const [event] = await stream.waitForCount(1);
    expect(event).toMatchObject({ id: '1', type: 'update', data: { body: 'hello readers' } });
  });

  it('answers a resume position older than retention with reset (expired) and the current position', async () => {
    const user = await newUser();
    for (let i = 0; i < 8; i++) await notify(user);
    await server.app.get(RetentionService).prune(); // keeps the newest 5: 4..8
    const res = await fetch(`${server.url}/api/notifications/stream`, { headers: { cookie: user.cookie, 'last-event-id': '2' } });
    const text = await readStream(res, (t) => t.includes('event: reset'));
    expect(text).toContain('id: 8\nevent: reset\ndata: {"topics":{"notifications":{"lastId":8,"reason":"expired"}}}');
    // The edge of the window still resumes: 3 is the oldest position whose successors are all kept.
    const edge = await fetch(`${server.url}/api/notifications/stream`, { headers: { cookie: user.cookie, 'last-event-id': '3' } });
    const replay = await readStream(edge, (t) => t.includes('id: 8\n'));
    expect([...replay.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([4, 5, 6, 7, 8]);
  });

  it('sends a topic’s main event unnamed on its single-topic stream, and names every event on /api/events', async () => {
    const user = await newUser();
    const blog = await newBlog();
    await postUpdate(blog, 'plain');
    await notify(user, 'n');
    const single = await readStream(await fetch(`${server.url}/api/blogs/${blog}/stream?lastEventId=0`), (t) => t.includes('id: 1\n'));
    // The compact main events (docs/protocol.md): `[id, t, body]` and `[kind, t, title, body]`,
    // without the topic on a single-topic stream, with it first on /api/events.
    expect(single).toMatch(/\nid: 1\ndata: \[\d+,\d{13},"plain"\]\n\n/);
    const mine = await readStream(await fetch(`${server.url}/api/notifications/stream?lastEventId=0`, { headers: { cookie: user.cookie } }), (t) => t.includes('id: 1\n'));
    expect(mine).toMatch(/\nid: 1\ndata: \["system",\d{13},"n",/);
    const both = await readStream(
      await fetch(`${server.url}/api/events?topics=notifications,blog:${blog}&lastEventId=${encodeURIComponent(`notifications=0,blog:${blog}=0`)}`, { headers: { cookie: user.cookie } }),
      (t) => t.includes(`blog:${blog}=1\n`),
    );
    expect(both).toMatch(new RegExp(`id: notifications=1,blog:${blog}=0\nevent: notification\ndata: \\["notifications","system",\\d{13},"n",`));
    expect(both).toMatch(new RegExp(`id: notifications=1,blog:${blog}=1\nevent: update\ndata: \\["blog:${blog}",\\d+,\\d{13},"plain"\\]\n\n`));
  });

  it('resets only the topics that need it on a multiplexed stream', async () => {
    const user = await newUser();
    const blog = await newBlog();
    await postUpdate(blog, 'a');
    await notify(user);
    const res = await fetch(`${server.url}/api/events?topics=notifications,blog:${blog}`, {
      headers: { cookie: user.cookie, 'last-event-id': `notifications=0,blog:${blog}=99` },
    });
    const text = await readStream(res, (t) => t.includes('event: notification'));
    expect(text).toContain(
      `id: notifications=0,blog:${blog}=1\nevent: reset\ndata: {"topics":{"notifications":{"lastId":0,"reason":"ok"},"blog:${blog}":{"lastId":1,"reason":"unknown"}}}`,
    );
    expect(text).toContain(`id: notifications=1,blog:${blog}=1\nevent: notification`);
  });

  it('releases every subscription and timer when clients leave', async () => {
    const own = await startServer();
    try {
      const sse = own.app.get(SseRepository);
      const user = await signUp(own.url, 'leaver');
      const blogRes = await postJson(own.url, '/api/blogs', { title: 'b' }, { cookie: user.cookie });
      const blog = ((await blogRes.json()) as { id: number }).id;
      expect(sse.stats()).toEqual({ connections: 0, subscriptions: 0, timers: 0 });
      const a = new SseClient(`${own.url}/api/events?topics=notifications,blog:${blog}`, user.cookie);
      const b = new SseClient(`${own.url}/api/blogs/${blog}/stream`);
      await a.waitForOpen();
      await b.waitForOpen();
      // Two streams, three log subscriptions, the shared heartbeat and one session expiry.
      expect(sse.stats()).toEqual({ connections: 2, subscriptions: 3, timers: 2 });
      a.close();
      b.close();
      await eventually(() => (sse.stats().connections === 0 ? true : undefined));
      expect(sse.stats()).toEqual({ connections: 0, subscriptions: 0, timers: 0 });
    } finally {
      await own.close();
      own.cleanup();
    }
  });
});

describe('notification read events', () => {
  it('tells every stream of the user when notifications are read, with the unread count', async () => {
    const user = await newUser();
    const other = await newUser();
    const [n1, n2] = [await notify(user), await notify(user)];
    const tab1 = open('/api/notifications/stream', user);
    const tab2 = open('/api/events?topics=notifications', user);
    await tab1.waitForOpen();
    await tab2.waitForOpen();
    expect((await postJson(server.url, `/api/notifications/${n1}/read`, undefined, { cookie: user.cookie })).status).toBe(204);
    const [read] = await tab1.waitForCount(1);
    expect(read).toMatchObject({ type: 'notification-read', id: '3', data: { topic: 'notifications', ids: [n1], all: false, unread: 1 } });
    expect((await tab2.waitForCount(1))[0]).toMatchObject({ type: 'notification-read', id: 'notifications=3' });
    expect((await postJson(server.url, '/api/notifications/read-all', undefined, { cookie: user.cookie })).status).toBe(204);
    expect((await tab1.waitForCount(2))[1]).toMatchObject({ data: { ids: [n2], all: true, unread: 0 } });
    // Not yours, or no such id: 404, and nothing is appended.
    expect((await postJson(server.url, `/api/notifications/${n1}/read`, undefined, { cookie: other.cookie })).status).toBe(404);
    expect((await postJson(server.url, '/api/notifications/abc/read', undefined, { cookie: user.cookie })).status).toBe(404);
    const list = (await (await fetch(`${server.url}/api/notifications?after=0`, { headers: { cookie: user.cookie } })).json()) as {
      items: { id: number; read: boolean }[];
      unread: number;
      lastId: number;
    };
    expect(list).toEqual({ items: [expect.objectContaining({ id: n1, read: true }), expect.objectContaining({ id: n2, read: true })], unread: 0, lastId: 4 });
  });
});

describe('session expiry on a private stream', () => {
  it('sends auth-expired and ends; a public stream stays', async () => {
    const short = await startServer({ sessionTtlSeconds: 2, sseHeartbeatMs: 200 });
    try {
      const user = await signUp(short.url, 'brief');
      const res = await postJson(short.url, '/api/blogs', { title: 't' }, { cookie: user.cookie });
      const blog = ((await res.json()) as { id: number }).id;
      const started = Date.now();
      const priv = await fetch(`${short.url}/api/events?topics=notifications,blog:${blog}`, { headers: { cookie: user.cookie } });
      const pub = await fetch(`${short.url}/api/blogs/${blog}/stream`);
      const text = await readStream(priv, () => false, 5000);
      expect(text.endsWith(': heartbeat\n\nevent: auth-expired\ndata: {}\n\n') || text.endsWith('retry: 1000\n\nevent: auth-expired\ndata: {}\n\n')).toBe(true);
      expect(Date.now() - started).toBeGreaterThan(900);
      const pubText = await readStream(pub, () => Date.now() - started > 2500, 4000);
      expect(pubText).toContain(': heartbeat');
      expect(pubText).not.toContain('auth-expired');
    } finally {
      await short.close();
      short.cleanup();
    }
  });
});

describe('GET /api/events/poll', () => {
  it('returns what the stream would, with the composite position, in pages of 100', async () => {
    const user = await newUser();
    const blog = await newBlog();
    await notify(user, 'p1');
    await postUpdate(blog, 'p2');
    const poll = async (lastEventId?: string) => {
      const q = `topics=notifications,blog:${blog}${lastEventId ? `&lastEventId=${encodeURIComponent(lastEventId)}` : ''}`;
      const res = await fetch(`${server.url}/api/events/poll?${q}`, { headers: { cookie: user.cookie } });
      expect(res.status).toBe(200);
      return (await res.json()) as { events: { id: string; event: string; data: Record<string, unknown> }[]; lastEventId: string };
    };
    const first = await poll(`notifications=0,blog:${blog}=0`);
    expect(first.events.map((e) => [e.id, e.event])).toEqual([
      [`notifications=1,blog:${blog}=0`, 'notification'],
      [`notifications=1,blog:${blog}=1`, 'update'],
    ]);
    expect(first.lastEventId).toBe(`notifications=1,blog:${blog}=1`);
    expect((await poll(first.lastEventId)).events).toEqual([]);
    const bad = await poll('garbage');
    expect(bad.events[0]).toMatchObject({ event: 'reset', data: { topics: { notifications: { reason: 'malformed' } } } });
    expect((await fetch(`${server.url}/api/events/poll?topics=notifications`)).status).toBe(401);
  });
});
