import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketRepository } from '../../apps/api/src/repositories/websocket.repository.js';
import { eventually, postJson, sessionCookie, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startServer, TEST_SECRET, type TestServer } from '../support/server.js';

let server: TestServer;
let alice: SignedIn;
let bob: SignedIn;
const sockets: WsClient[] = [];

beforeAll(async () => {
  server = await startServer({ chatRateBurst: 5, chatRatePerSecond: 2, wsPingIntervalMs: 150 });
  alice = await signUp(server.url, 'alice');
  bob = await signUp(server.url, 'bob');
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.close();
  server.cleanup();
});

async function connect(who: SignedIn | string) {
  const c = await WsClient.connect(server.wsUrl, typeof who === 'string' ? who : who.cookie);
  sockets.push(c);
  return c;
}
let n = 0;
const cid = () => `f-${++n}`;
async function say(c: WsClient, room: string, text: string): Promise<number> {
  const clientId = cid();
  c.send('message', { room, text, clientId });
  return (await c.waitFor('ack', (d) => d.clientId === clientId)).seq as number;
}
async function newRoom(name: string) {
  expect((await postJson(server.url, '/api/rooms', { name }, { cookie: alice.cookie })).status).toBe(201);
}
// Each user's messages count against their own rate, so tests pace themselves by user.
const freshUser = (() => {
  let i = 0;
  return () => signUp(server.url, `user${++i}`);
})();

describe('edit and delete', () => {
  it('lets the author edit and delete; everyone gets the change with the next rev', async () => {
    await newRoom('edits');
    const author = await freshUser();
    const a = await connect(author);
    const b = await connect(bob);
    await a.join('edits');
    const joined = await b.join('edits');
    expect(joined).toEqual({ room: 'edits', lastSeq: 0, lastRev: 0 });
    const seq = await say(a, 'edits', 'frist');
    a.send('edit', { room: 'edits', seq, text: ' first ' });
    const edited = await b.waitFor('message-edited');
    expect(edited).toEqual({ room: 'edits', seq, rev: 1, text: 'first', editedAt: expect.any(String) });
    expect(await a.waitFor('message-edited')).toEqual(edited);
    a.send('delete', { room: 'edits', seq });
    expect(await b.waitFor('message-deleted')).toEqual({ room: 'edits', seq, rev: 2 });

    // History carries the latest state; the seq stays, so the log stays gapless.
    const history = (await (await fetch(`${server.url}/api/rooms/edits/messages`, { headers: { cookie: bob.cookie } })).json()) as {
      messages: { seq: number; text: string; deleted: boolean; editedAt: string | null }[];
    };
    expect(history.messages).toEqual([expect.objectContaining({ seq, text: '', deleted: true, editedAt: expect.any(String) })]);
  });

  it("refuses to change someone else's message (forbidden) or an unknown one, and changes nothing", async () => {
    await newRoom('guarded');
    const author = await freshUser();
    const a = await connect(author);
    const b = await connect(bob);
    await a.join('guarded');
    await b.join('guarded');
    const seq = await say(a, 'guarded', 'mine');
    for (const [event, data] of [
      ['edit', { room: 'guarded', seq, text: 'hijacked' }],
      ['delete', { room: 'guarded', seq }],
    ] as const) {
      const from = b.frames.length;
      b.send(event, data, { ref: event });
      expect(await b.waitFor('error', () => true, 5000, from)).toEqual({ code: 'forbidden', message: expect.any(String), ref: event });
    }
    const from = b.frames.length;
    a.send('edit', { room: 'guarded', seq: 999, text: 'x' });
    expect((await a.waitFor('error')).code).toBe('message_not_found');
    a.send('edit', { room: 'guarded', seq, text: '' });
    expect((await a.waitFor('error', (d) => d.code === 'invalid')).message).toMatch(/text must be/);
    await say(a, 'guarded', 'sync');
    expect(b.frames.slice(from).filter((f) => f.event.startsWith('message-'))).toEqual([]);
  });

  it('replays missed edits and deletes after afterRev on a re-join, latest state once per message', async () => {
    await newRoom('resume-edits');
    const author = await freshUser();
    const a = await connect(author);
    await a.join('resume-edits');
    const s1 = await say(a, 'resume-edits', 'one');
    const s2 = await say(a, 'resume-edits', 'two');
    const b = await connect(bob);
    const joined = await b.join('resume-edits');
    b.close();
    a.send('edit', { room: 'resume-edits', seq: s1, text: 'one, edited' });
    await a.waitFor('message-edited');
    a.send('edit', { room: 'resume-edits', seq: s1, text: 'one, edited twice' });
    await a.waitFor('message-edited', (d) => d.text === 'one, edited twice');
    a.send('delete', { room: 'resume-edits', seq: s2 });
    await a.waitFor('message-deleted');

    const back = await connect(bob);
    const rejoined = await back.join('resume-edits', joined.lastSeq as number, joined.lastRev as number);
    expect(back.frames.filter((f) => f.event.startsWith('message')).map((f) => [f.event, f.data.seq, f.data.rev, f.data.text])).toEqual([
      ['message-edited', s1, 2, 'one, edited twice'],
      ['message-deleted', s2, 3, undefined],
    ]);
    expect(rejoined).toEqual({ room: 'resume-edits', lastSeq: s2, lastRev: 3 });
  });
});

describe('presence and typing', () => {
  it('lists each user once across tabs, and drops them when their last tab leaves', async () => {
    await newRoom('lobby');
    const watcher = await connect(bob);
    await watcher.join('lobby');
    const names = () => (watcher.of('presence').at(-1)!.users as { username: string }[]).map((u) => u.username);
    const tab1 = await connect(alice);
    const tab2 = await connect(alice);
    await tab1.join('lobby');
    await eventually(() => (names().includes('alice') ? true : undefined));
    const count = watcher.of('presence').length;
    await tab2.join('lobby');
    // The second tab changes nothing for others, but gets the list itself.
    expect((await tab2.waitFor('presence')).users).toEqual([
      { id: alice.user.id, username: 'alice' },
      { id: bob.user.id, username: 'bob' },
    ]);
    tab1.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.of('presence')).toHaveLength(count);
    tab2.send('leave', { room: 'lobby' });
    expect(await tab2.waitFor('left')).toEqual({ room: 'lobby' });
    await eventually(() => (names().join() === 'bob' ? true : undefined));
  });

  it('relays typing to the others in the room, not to the typist, at most once a second', async () => {
    await newRoom('typing');
    const a = await connect(alice);
    const b = await connect(bob);
    await a.join('typing');
    await b.join('typing');
    a.send('typing', { room: 'typing' });
    a.send('typing', { room: 'typing' });
    expect(await b.waitFor('typing')).toEqual({ room: 'typing', user: { id: alice.user.id, username: 'alice' } });
    await new Promise((r) => setTimeout(r, 200));
    expect(b.of('typing')).toHaveLength(1);
    expect(a.of('typing')).toHaveLength(0);
  });
});

describe('connection health', () => {
  it('answers ping with pong and the server clock', async () => {
    const a = await connect(alice);
    const t = performance.timeOrigin + performance.now();
    a.send('ping', { id: 7, t });
    const pong = await a.waitFor('pong');
    expect(pong).toEqual({ id: 7, t, serverTime: expect.any(Number) });
    expect(Math.abs((pong.serverTime as number) - t)).toBeLessThan(1000);
  });

  it('terminates a peer that stops answering protocol pings', async () => {
    const socket = new WebSocket(server.wsUrl, { headers: { cookie: alice.cookie }, autoPong: false });
    const closed = new Promise<number>((resolve) => socket.on('close', resolve));
    await new Promise((r) => socket.once('open', r));
    const registry = server.app.get(WebSocketRepository);
    const before = registry.connectionCount;
    expect(await closed).toBe(1006); // terminated, no closing handshake
    await eventually(() => (registry.connectionCount === before - 1 ? true : undefined));
  });

  it('keeps a peer that answers pings', async () => {
    const a = await connect(alice);
    await new Promise((r) => setTimeout(r, 600)); // four ping intervals
    expect(a.socket.readyState).toBe(WebSocket.OPEN);
  });
});

describe('rate limit', () => {
  it('allows a burst, then answers rate_limited with retryAfterMs and stores nothing; a resend is free', async () => {
    await newRoom('flood');
    const user = await freshUser();
    const a = await connect(user);
    await a.join('flood');
    const ids = Array.from({ length: 7 }, cid);
    for (const clientId of ids) a.send('message', { room: 'flood', text: 'spam', clientId });
    const errors = await eventually(() => (a.of('error').length === 2 ? a.of('error') : undefined));
    // The one after the refused one is held back rather than refused by the rate (docs/protocol.md, out_of_order).
    expect(errors).toEqual([
      { code: 'rate_limited', message: expect.stringMatching(/Too many messages/), ref: ids[5], retryAfterMs: expect.any(Number) },
      { code: 'out_of_order', message: expect.stringContaining(ids[5]!), ref: ids[6], expected: ids[5] },
    ]);
    expect(errors[0]!.retryAfterMs as number).toBeGreaterThan(0);
    expect(errors[0]!.retryAfterMs as number).toBeLessThanOrEqual(500);
    await eventually(() => (a.of('ack').length === 5 ? true : undefined));
    // After the advertised wait, the refused one goes through; that takes the one token there is.
    await new Promise((r) => setTimeout(r, errors[0]!.retryAfterMs as number));
    a.send('message', { room: 'flood', text: 'spam', clientId: ids[5]! });
    expect((await a.waitFor('ack', (d) => d.clientId === ids[5])).seq).toBe(6);
    // Resending an acked message does not use the allowance: acked again with its seq, though none is left.
    const from = a.frames.length;
    a.send('message', { room: 'flood', text: 'spam', clientId: ids[0]! });
    expect((await a.waitFor('ack', (d) => d.clientId === ids[0], 5000, from)).seq).toBe(1);
  });
});

describe('session expiry', () => {
  it('closes the socket with 4001 when its token expires; the renewed session resumes without loss', async () => {
    const short = await startServer({ sessionTtlSeconds: 4 });
    try {
      const user = await signUp(short.url, 'shortlived');
      const ws = await WsClient.connect(short.wsUrl, user.cookie);
      const joined = await ws.join('general');
      // Renew while the session is still valid, late in its life (the web app renews at 80%).
      await new Promise((r) => setTimeout(r, 2000));
      const renewed = await postJson(short.url, '/api/auth/refresh', undefined, { cookie: user.cookie });
      expect(renewed.status).toBe(200);
      const cookie = sessionCookie(renewed);
      expect(await ws.waitClosed(5000)).toBe(4001);
      // Someone else writes while the user is away (with a session of their own, fresh).
      const other = await signUp(short.url, 'steady');
      const writer = await WsClient.connect(short.wsUrl, other.cookie);
      await writer.join('general');
      for (let i = 0; i < 3; i++) writer.send('message', { room: 'general', text: `while away ${i}`, clientId: `w${i}` });
      await writer.waitFor('ack', (d) => d.clientId === 'w2');
      const back = await WsClient.connect(short.wsUrl, cookie);
      await back.join('general', joined.lastSeq as number);
      expect(back.of('message').map((m) => m.text)).toEqual(['while away 0', 'while away 1', 'while away 2']);
      back.close();
      writer.close();
    } finally {
      await short.close();
      short.cleanup();
    }
  });

  it('refuses the upgrade once the token has expired', async () => {
    const expired = jwt.sign({ exp: Math.floor(Date.now() / 1000) - 1 }, TEST_SECRET, { subject: String(alice.user.id) });
    await expect(WsClient.connect(server.wsUrl, `session=${expired}`)).rejects.toMatchObject({ status: 401 });
  });
});

describe('resume after a forced disconnect', () => {
  it('gets every message sent meanwhile, once, in order', async () => {
    await newRoom('drop');
    const writers = [await freshUser(), await freshUser()];
    const w = await Promise.all(writers.map((u) => connect(u)));
    for (const c of w) await c.join('drop');
    const reader = await connect(bob);
    await reader.join('drop');
    await say(w[0]!, 'drop', 'before');
    await reader.waitFor('message', (d) => d.text === 'before');
    const last = Math.max(...reader.of('message').map((m) => m.seq as number));
    reader.socket.terminate();
    for (let i = 0; i < 4; i++) await say(w[i % 2]!, 'drop', `gap ${i}`);
    const back = await connect(bob);
    back.send('join', { room: 'drop', afterSeq: last });
    const seq = await say(w[0]!, 'drop', 'after');
    await back.waitFor('message', (d) => d.seq === seq);
    expect(back.of('message').map((m) => m.text)).toEqual(['gap 0', 'gap 1', 'gap 2', 'gap 3', 'after']);
    expect(back.of('message').map((m) => m.seq)).toEqual([last + 1, last + 2, last + 3, last + 4, last + 5]);
  });
});

describe('permessage-deflate', () => {
  it('is off by default and negotiated when WS_PERMESSAGE_DEFLATE is on', async () => {
    const plain = await connect(alice);
    expect(plain.socket.extensions).toBe('');
    const deflating = await startServer({ wsPerMessageDeflate: true });
    try {
      const user = await signUp(deflating.url, 'squeezed');
      const c = await WsClient.connect(deflating.wsUrl, user.cookie);
      expect(c.socket.extensions).toMatch(/^permessage-deflate/);
      const joined = await c.join('general');
      expect(joined.room).toBe('general');
      c.close();
    } finally {
      await deflating.close();
      deflating.cleanup();
    }
  });
});
