import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseRepository } from '../../apps/api/src/repositories/sse.repository.js';
import { StreamEventRepository } from '../../apps/api/src/repositories/stream-event.repository.js';
import { eventually, postJson, readStream, SseClient, signUp, type SignedIn } from '../support/clients.js';
import { holdNextCall } from '../support/hold.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
const streams: SseClient[] = [];

beforeAll(async () => {
  server = await startServer({ sseRetryMs: 200, sseHeartbeatMs: 150 });
});
afterAll(async () => {
  for (const s of streams) s.close();
  await server.close();
  server.cleanup();
});

let users = 0;
const newUser = () => signUp(server.url, `user${++users}`);
const streamUrl = (query = '') => `${server.url}/api/notifications/stream${query}`;
const notify = async (who: SignedIn, title = 'hi') => {
  const res = await postJson(server.url, '/api/notifications/test', { title, body: 'b' }, { cookie: who.cookie });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: number };
};
const open = (url: string, who: SignedIn) => {
  const client = new SseClient(url, who.cookie);
  streams.push(client);
  return client;
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('GET /api/notifications/stream', () => {
  it('answers 401 with a JSON body, before any stream starts, without a valid session', async () => {
    for (const cookie of [undefined, 'session=forged.token.here']) {
      const res = await fetch(streamUrl(), { headers: cookie ? { cookie } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Sign in required' });
    }
  });

  it('sends the SSE headers, retry: first, and a heartbeat comment on schedule', async () => {
    const user = await newUser();
    const started = Date.now();
    const res = await fetch(streamUrl(), { headers: { cookie: user.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(res.headers.get('content-encoding')).toBeNull();
    const text = await readStream(res, (t) => t.split(': heartbeat\n\n').length > 2);
    expect(text.startsWith('retry: 200\n\n')).toBe(true);
    // One heartbeat timer serves every stream, so the first beat may come at once; the second
    // comes a full interval (150 ms) after it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
  });

  it('carries notifications with the per-user id, event type and JSON data', async () => {
    const user = await newUser();
    const client = open(streamUrl(), user);
    await client.waitForOpen();
    const sent = await notify(user, 'first');
    const [event] = await client.waitForCount(1);
    expect(event).toEqual({
      id: '1',
      type: 'notification',
      data: { topic: 'notifications', id: 1, kind: 'system', title: 'first', body: 'b', createdAt: expect.any(String), t: expect.any(Number), read: false, link: null },
    });
    expect(sent.id).toBe(1);
  });

  it('never lets text end an event early or inject a field', async () => {
    const user = await newUser();
    const client = open(streamUrl(), user);
    await client.waitForOpen();
    const res = await postJson(server.url, '/api/notifications/test', { title: 'a\n\nid: 999\nevent: evil\ndata: x', body: 'l1\r\nl2\rl3' }, { cookie: user.cookie });
    expect(res.status).toBe(201);
    const [event] = await client.waitForCount(1);
    expect(event!.id).toBe('1');
    expect(event!.data.title).toBe('a\n\nid: 999\nevent: evil\ndata: x');
    expect(event!.data.body).toBe('l1\r\nl2\rl3');
  });

  it('replays what was published while the client was away, then continues live: no gap, no duplicate', async () => {
    const user = await newUser();
    for (let i = 0; i < 3; i++) await notify(user);
    const client = open(streamUrl('?lastEventId=0'), user);
    await client.waitForCount(3);
    // The server drops every stream; five events land before the client is back.
    server.app.get(SseRepository).closeAll();
    for (let i = 0; i < 5; i++) await notify(user, `gap ${i}`);
    await client.waitForOpen(2);
    await client.waitForCount(8);
    await notify(user, 'live');
    await client.waitForCount(9);
    expect(client.ids()).toEqual(range(1, 9));
    expect(client.events.slice(3, 8).map((e) => e.data.title)).toEqual(['gap 0', 'gap 1', 'gap 2', 'gap 3', 'gap 4']);
  });

  // Live events published while the replay is in flight, either before the replay reads the
  // database (so the replay sees them too) or after it read (so only the live path has them).
  it.each(['before', 'after'] as const)(
    'has no gap or duplicate at the seam when events are published while the replay runs (%s its read)',
    async (when) => {
      const user = await newUser();
      for (let i = 0; i < 5; i++) await notify(user);
      const log = server.app.get(StreamEventRepository);
      const hold = holdNextCall(log, 'after', when);
      try {
        const client = open(streamUrl('?lastEventId=0'), user);
        await hold.entered;
        for (let i = 0; i < 3; i++) await notify(user, `during ${i}`);
        hold.release();
        await client.waitForCount(8);
        await notify(user, 'after');
        await client.waitForCount(9);
        await new Promise((r) => setTimeout(r, 100));
        expect(client.ids()).toEqual(range(1, 9));
      } finally {
        hold.restore();
      }
    },
  );

  it('stays gapless under a burst of concurrent publishes during connect', async () => {
    const user = await newUser();
    for (let i = 0; i < 50; i++) await notify(user);
    const client = open(streamUrl('?lastEventId=0'), user);
    await Promise.all(Array.from({ length: 40 }, () => notify(user)));
    await client.waitForCount(90, 10_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(client.ids()).toEqual(range(1, 90));
  });

  it('resumes from ?lastEventId= on a manual reconnect; the Last-Event-ID header wins over it', async () => {
    const user = await newUser();
    for (let i = 0; i < 4; i++) await notify(user);
    const byQuery = open(streamUrl('?lastEventId=2'), user);
    await byQuery.waitForCount(2);
    expect(byQuery.ids()).toEqual([3, 4]);

    const res = await fetch(streamUrl('?lastEventId=0'), { headers: { cookie: user.cookie, 'last-event-id': '3' } });
    const text = await readStream(res, (t) => t.includes('id: 4\n'));
    expect(text).not.toMatch(/^id: [123]$/m);
  });

  it.each([
    ['malformed', 'abc', 'malformed'],
    ['negative', '-5', 'malformed'],
    ['fractional', '1.5', 'malformed'],
    ['enormous', '9'.repeat(400), 'malformed'],
    ['from the future', '1000', 'unknown'],
  ])('answers a %s Last-Event-ID with reset (%s), then continues live from the end of the log', async (_, lastEventId, reason) => {
    const user = await newUser();
    await notify(user, 'old');
    const res = await fetch(streamUrl(), { headers: { cookie: user.cookie, 'last-event-id': lastEventId } });
    expect(res.status).toBe(200);
    const reading = readStream(res, (t) => t.includes('id: 2\n'));
    await new Promise((r) => setTimeout(r, 100));
    await notify(user, 'new');
    const text = await reading;
    expect(text).toContain(`id: 1\nevent: reset\ndata: {"topics":{"notifications":{"lastId":1,"reason":"${reason}"}}}\n\n`);
    expect(text).not.toMatch(/"old"/);
    expect(text).toMatch(/id: 2\ndata: \["system",\d{13},"new",/); // the main event, unnamed on a single-topic stream
  });

  it('releases the stream when the client goes away', async () => {
    const user = await newUser();
    const sse = server.app.get(SseRepository);
    const before = sse.connectionCount;
    const client = new SseClient(streamUrl(), user.cookie);
    await client.waitForOpen();
    expect(sse.connectionCount).toBe(before + 1);
    client.close();
    await eventually(() => (sse.connectionCount === before ? true : undefined));
  });

  it("never sends one user's notifications to another", async () => {
    const a = await newUser();
    const b = await newUser();
    const streamB = open(streamUrl(), b);
    await streamB.waitForOpen();
    await notify(a, 'for a');
    await notify(b, 'for b');
    await streamB.waitForCount(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(streamB.events.map((e) => e.data.title)).toEqual(['for b']);
  });
});

describe('notification REST', () => {
  it('lists the latest, newest first, with the unread count and the stream position; read-all clears it', async () => {
    const user = await newUser();
    for (let i = 1; i <= 3; i++) await notify(user, `n${i}`);
    const list = async (query = '') => {
      const res = await fetch(`${server.url}/api/notifications${query}`, { headers: { cookie: user.cookie } });
      expect(res.status).toBe(200);
      return (await res.json()) as { items: { id: number; title: string; read: boolean }[]; unread: number; lastId: number };
    };
    const page = await list('?limit=2');
    expect(page.items.map((n) => [n.id, n.title])).toEqual([
      [3, 'n3'],
      [2, 'n2'],
    ]);
    expect(page.unread).toBe(3);
    expect(page.lastId).toBe(3);
    const read = await postJson(server.url, '/api/notifications/read-all', undefined, { cookie: user.cookie });
    expect(read.status).toBe(204);
    const after = await list();
    expect(after.unread).toBe(0);
    expect(after.items.every((n) => n.read)).toBe(true);
  });

  it.each(['0', '101', 'abc', '-1'])('refuses limit=%s with 400', async (limit) => {
    const user = await newUser();
    const res = await fetch(`${server.url}/api/notifications?limit=${limit}`, { headers: { cookie: user.cookie } });
    expect(res.status).toBe(400);
  });

  it('refuses an oversized test notification with 400 and stores nothing', async () => {
    const user = await newUser();
    const res = await postJson(server.url, '/api/notifications/test', { title: 'x'.repeat(201) }, { cookie: user.cookie });
    expect(res.status).toBe(400);
    const list = (await (await fetch(`${server.url}/api/notifications`, { headers: { cookie: user.cookie } })).json()) as { lastId: number };
    expect(list.lastId).toBe(0);
  });

  it('requires a session for every notification endpoint', async () => {
    expect((await fetch(`${server.url}/api/notifications`)).status).toBe(401);
    expect((await postJson(server.url, '/api/notifications/test', {})).status).toBe(401);
    expect((await postJson(server.url, '/api/notifications/read-all', undefined)).status).toBe(401);
  });
});

describe('durability', () => {
  it('replays from the database after a server restart', async () => {
    const first = await startServer({ sseRetryMs: 200 });
    const user = await signUp(first.url, 'restart');
    for (let i = 0; i < 3; i++) {
      const res = await postJson(first.url, '/api/notifications/test', { title: `n${i}` }, { cookie: user.cookie });
      expect(res.status).toBe(201);
    }
    await first.close();
    const second = await startServer({ sseRetryMs: 200 }, first.config.dataDir);
    try {
      // What a browser sends after the restart: the last id it saw.
      const res = await fetch(`${second.url}/api/notifications/stream`, { headers: { cookie: user.cookie, 'last-event-id': '1' } });
      const text = await readStream(res, (t) => t.includes('id: 3\n'));
      expect([...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([2, 3]);
    } finally {
      await second.close();
      second.cleanup();
    }
  });
});

