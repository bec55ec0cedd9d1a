import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let alice: SignedIn;
let bob: SignedIn;
const sockets: WsClient[] = [];

beforeAll(async () => {
  server = await startServer({ chatRateBurst: 1000, chatRatePerSecond: 1000 });
  alice = await signUp(server.url, 'alice');
  bob = await signUp(server.url, 'bob');
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.close();
  server.cleanup();
});

interface Room {
  name: string;
  lastSeq: number;
  members: number;
  online: number;
  member: boolean;
  lastReadSeq: number;
  unread: number;
}

const get = async <T>(path: string, who: SignedIn) => {
  const res = await fetch(`${server.url}${path}`, { headers: { cookie: who.cookie } });
  return { status: res.status, body: (await res.json()) as T };
};
const rooms = async (who: SignedIn) => (await get<{ rooms: Room[] }>('/api/rooms', who)).body.rooms;
const room = async (who: SignedIn, name: string) => (await rooms(who)).find((r) => r.name === name)!;

async function connect(who: SignedIn) {
  const c = await WsClient.connect(server.wsUrl, who.cookie);
  sockets.push(c);
  return c;
}
let n = 0;
async function say(c: WsClient, room: string, text: string): Promise<number> {
  const clientId = `r-${++n}`;
  c.send('message', { room, text, clientId });
  return (await c.waitFor('ack', (d) => d.clientId === clientId)).seq as number;
}

describe('POST /api/rooms', () => {
  it('creates a room (201) that everyone sees in the list', async () => {
    const res = await postJson(server.url, '/api/rooms', { name: 'random' }, { cookie: alice.cookie });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      room: { name: 'random', createdAt: expect.any(String), lastSeq: 0, lastRev: 0, members: 0, online: 0, member: false, lastReadSeq: 0, unread: 0 },
    });
    expect((await rooms(bob)).map((r) => r.name)).toEqual(['general', 'random']);
  });

  it('refuses a duplicate name with 409', async () => {
    await postJson(server.url, '/api/rooms', { name: 'dupe' }, { cookie: alice.cookie });
    const res = await postJson(server.url, '/api/rooms', { name: 'dupe' }, { cookie: bob.cookie });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ statusCode: 409, error: 'Conflict', message: 'A room named "dupe" exists' });
  });

  it.each([['Upper'], [''], ['-dash-first'], ['x'.repeat(33)], ['../etc'], ['white space'], ['<b>']])('refuses the name %j with 400', async (name) => {
    const res = await postJson(server.url, '/api/rooms', { name }, { cookie: alice.cookie });
    expect(res.status).toBe(400);
  });

  it('needs a session, and a same-origin request', async () => {
    expect((await postJson(server.url, '/api/rooms', { name: 'anon' })).status).toBe(401);
    expect((await postJson(server.url, '/api/rooms', { name: 'csrf' }, { cookie: alice.cookie, origin: 'http://evil.example' })).status).toBe(403);
    expect((await fetch(`${server.url}/api/rooms`)).status).toBe(401);
  });
});

describe('membership, online and unread counts', () => {
  it('counts members, online users (once per user) and unread messages after the read position', async () => {
    await postJson(server.url, '/api/rooms', { name: 'counts' }, { cookie: alice.cookie });
    const a1 = await connect(alice);
    const a2 = await connect(alice);
    await a1.join('counts');
    await a2.join('counts');
    let summary = await room(bob, 'counts');
    expect(summary).toMatchObject({ members: 1, online: 1, member: false, unread: 0 });

    const b = await connect(bob);
    await b.join('counts');
    for (let i = 0; i < 3; i++) await say(a1, 'counts', `m${i}`);
    await say(b, 'counts', 'my own message is not unread for me');
    summary = await room(bob, 'counts');
    expect(summary).toMatchObject({ members: 2, online: 2, member: true, lastReadSeq: 0, unread: 3 });

    b.send('read', { room: 'counts', seq: 2 });
    await expect.poll(async () => (await room(bob, 'counts')).unread).toBe(1);
    b.send('read', { room: 'counts', seq: 1 }); // never moves back
    b.send('read', { room: 'counts', seq: 1_000_000 }); // never past the end
    await expect.poll(async () => (await room(bob, 'counts')).lastReadSeq).toBe(4);
    expect((await room(bob, 'counts')).unread).toBe(0);

    a1.close();
    a2.close();
    await expect.poll(async () => (await room(bob, 'counts')).online).toBe(1);
  });
});

describe('GET /api/rooms/:room/messages', () => {
  it('pages backwards through history, oldest first within a page', async () => {
    await postJson(server.url, '/api/rooms', { name: 'history' }, { cookie: alice.cookie });
    const a = await connect(alice);
    await a.join('history');
    for (let i = 1; i <= 7; i++) await say(a, 'history', `h${i}`);
    type Page = { messages: { seq: number; text: string }[]; hasMore: boolean };
    const first = (await get<Page>('/api/rooms/history/messages?limit=3', bob)).body;
    expect(first.messages.map((m) => m.seq)).toEqual([5, 6, 7]);
    expect(first.hasMore).toBe(true);
    const second = (await get<Page>('/api/rooms/history/messages?before=5&limit=3', bob)).body;
    expect(second.messages.map((m) => m.text)).toEqual(['h2', 'h3', 'h4']);
    const last = (await get<Page>('/api/rooms/history/messages?before=2&limit=3', bob)).body;
    expect(last).toMatchObject({ messages: [{ seq: 1, text: 'h1' }], hasMore: false });
  });

  it('answers 404 for an unknown room and 400 for bad paging', async () => {
    expect((await get('/api/rooms/nowhere/messages', bob)).status).toBe(404);
    expect((await get('/api/rooms/%2e%2e%2fetc/messages', bob)).status).toBe(404);
    for (const q of ['before=0', 'before=-1', 'before=abc', 'limit=0', 'limit=101', 'limit=1e3', 'before=99999999999999999999']) {
      expect((await get(`/api/rooms/general/messages?${q}`, bob)).status, q).toBe(400);
    }
  });
});
