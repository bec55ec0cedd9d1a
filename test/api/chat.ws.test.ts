import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatService } from '../../apps/api/src/services/chat.service.js';
import { eventually, SseClient, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { holdNextCall } from '../support/hold.js';
import { startServer, TEST_SECRET, type TestServer } from '../support/server.js';

let server: TestServer;
let alice: SignedIn;
let bob: SignedIn;
const open: WsClient[] = [];

beforeAll(async () => {
  server = await startServer({ wsMaxFrameBytes: 4096, chatRateBurst: 1000, chatRatePerSecond: 1000 });
  alice = await signUp(server.url, 'alice');
  bob = await signUp(server.url, 'bob');
});
afterAll(async () => {
  for (const c of open) c.close();
  await server.close();
  server.cleanup();
});

async function connect(who: SignedIn, headers: Record<string, string> = {}): Promise<WsClient> {
  const client = await WsClient.connect(server.wsUrl, who.cookie, headers);
  open.push(client);
  return client;
}

let n = 0;
const clientId = () => `c-${++n}-${Math.random().toString(36).slice(2)}`;

describe('upgrade', () => {
  it('refuses an upgrade without a cookie with HTTP 401 before any socket opens', async () => {
    await expect(WsClient.connect(server.wsUrl)).rejects.toMatchObject({ status: 401 });
  });

  it('refuses an invalid or expired token with 401', async () => {
    await expect(WsClient.connect(server.wsUrl, 'session=garbage')).rejects.toMatchObject({ status: 401 });
    const expired = jwt.sign({ exp: Math.floor(Date.now() / 1000) - 1 }, TEST_SECRET, { subject: String(alice.user.id) });
    await expect(WsClient.connect(server.wsUrl, `session=${expired}`)).rejects.toMatchObject({ status: 401 });
    const none = jwt.sign({ exp: Math.floor(Date.now() / 1000) + 60 }, '', { algorithm: 'none', subject: String(alice.user.id) });
    await expect(WsClient.connect(server.wsUrl, `session=${none}`)).rejects.toMatchObject({ status: 401 });
  });

  it('refuses a foreign Origin with 403, even with a valid cookie', async () => {
    await expect(WsClient.connect(server.wsUrl, alice.cookie, { origin: 'http://evil.example' })).rejects.toMatchObject({ status: 403 });
  });

  it("accepts the app's own Origin", async () => {
    const client = await connect(alice, { origin: server.url });
    expect(client.socket.readyState).toBe(1);
  });
});

describe('chat', () => {
  it('round-trips a message between two users with a database-assigned seq', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    const joinedA = await a.join('general');
    await b.join('general');
    const id = clientId();
    const before = Date.now();
    a.send('message', { room: 'general', text: '  hello bob  ', clientId: id });

    const ack = await a.waitFor('ack', (d) => d.clientId === id);
    expect(ack).toEqual({ clientId: id, seq: (joinedA.lastSeq as number) + 1, room: 'general' });
    const atB = await b.waitFor('message', (d) => d.seq === ack.seq);
    const atA = await a.waitFor('message', (d) => d.seq === ack.seq);
    expect(atB).toEqual({
      room: 'general',
      seq: ack.seq,
      author: { id: alice.user.id, username: 'alice' },
      text: 'hello bob',
      t: expect.any(Number),
      editedAt: null,
      deleted: false,
    });
    expect(atA).toEqual(atB);
    // One frame, built once, for every member: the same text, with the room as its id (from
    // `joining`), and nothing of the sender's own (its clientId goes in the ack only).
    const roomId = (a.of('joining').find((d) => d.room === 'general')!.id as number);
    const raw = `[${roomId},${ack.seq as number},${alice.user.id},"alice",${atB.t as number},"hello bob"]`;
    expect(b.raw).toContain(raw);
    expect(a.raw).toContain(raw);
    expect(raw).not.toContain(id);
    expect(atB.t as number).toBeGreaterThanOrEqual(before - 1);
    expect(atB.t as number).toBeLessThanOrEqual(Date.now());
  });

  it('sends history on join: the latest messages, or exactly those after afterSeq', async () => {
    const a = await connect(alice);
    await a.join('general');
    const sent: number[] = [];
    for (let i = 0; i < 5; i++) {
      const id = clientId();
      a.send('message', { room: 'general', text: `history ${i}`, clientId: id });
      sent.push((await a.waitFor('ack', (d) => d.clientId === id)).seq as number);
    }
    const b = await connect(bob);
    const joined = await b.join('general', sent[1]);
    expect(joined.lastSeq).toBe(sent[4]);
    expect(b.of('message').map((m) => m.seq)).toEqual(sent.slice(2));

    const c = await connect(bob);
    await c.join('general');
    const seqs = c.of('message').map((m) => m.seq as number);
    expect(seqs.length).toBeLessThanOrEqual(50);
    expect(seqs.at(-1)).toBe(sent[4]);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  });

  it.each(['before', 'after'] as const)(
    'resumes with afterSeq with no gap or duplicate when messages are sent while the replay runs (%s its read)',
    async (when) => {
      const writer = await connect(alice);
      const start = (await writer.join('general')).lastSeq as number;
      const send = async (text: string) => {
        const id = clientId();
        writer.send('message', { room: 'general', text, clientId: id });
        return (await writer.waitFor('ack', (d) => d.clientId === id)).seq as number;
      };
      for (let i = 0; i < 3; i++) await send(`before ${i}`);

      const chat = server.app.get(ChatService);
      const hold = holdNextCall(chat, 'history', when);
      try {
        const reader = await connect(bob);
        reader.send('join', { room: 'general', afterSeq: start });
        await hold.entered;
        for (let i = 0; i < 3; i++) await send(`during ${i}`);
        hold.release();
        await reader.waitFor('joined');
        const last = await send('after');
        await reader.waitFor('message', (d) => d.seq === last);
        await new Promise((r) => setTimeout(r, 50));
        expect(reader.of('message').map((m) => m.seq)).toEqual(Array.from({ length: 7 }, (_, i) => start + 1 + i));
        // `joined` comes after the replay and before anything live that the replay did not hold.
        const events = reader.frames.map((f) => f.event);
        expect(events.indexOf('joined')).toBeGreaterThanOrEqual(3);
      } finally {
        hold.restore();
      }
    },
  );

  it('stores a resend with the same clientId once and acks it with the same seq', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    await a.join('general');
    await b.join('general');
    const id = clientId();
    a.send('message', { room: 'general', text: 'once', clientId: id });
    const first = await a.waitFor('ack', (d) => d.clientId === id);
    a.send('message', { room: 'general', text: 'once', clientId: id });
    await eventually(() => (a.of('ack').filter((d) => d.clientId === id).length === 2 ? true : undefined));
    expect(a.of('ack').filter((d) => d.clientId === id)).toEqual([first, first]);
    // Let anything in flight arrive, then check bob saw it once.
    const marker = clientId();
    a.send('message', { room: 'general', text: 'marker', clientId: marker });
    const markerAck = await a.waitFor('ack', (d) => d.clientId === marker);
    await b.waitFor('message', (d) => d.seq === markerAck.seq);
    expect(b.of('message').filter((d) => d.seq === first.seq)).toEqual([expect.objectContaining({ text: 'once' })]);
    expect(markerAck.seq).toBe((first.seq as number) + 1);
  });

  it('keeps one gapless order under concurrent senders, the same for every reader', async () => {
    const senders = [await connect(alice), await connect(bob), await connect(alice)];
    const readers = [await connect(bob), await connect(alice)];
    const start = (await readers[0]!.join('general')).lastSeq as number;
    await readers[1]!.join('general');
    for (const s of senders) await s.join('general');
    const perSender = 15;
    for (let i = 0; i < perSender; i++) for (const s of senders) s.send('message', { room: 'general', text: `burst ${i}`, clientId: clientId() });
    const total = perSender * senders.length;
    for (const r of readers) {
      await eventually(() => (r.of('message').filter((m) => (m.seq as number) > start).length >= total ? true : undefined), 10_000);
      const seqs = r.of('message').map((m) => m.seq as number).filter((s) => s > start);
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => start + 1 + i));
    }
    expect(readers[0]!.of('message').filter((m) => (m.seq as number) > start)).toEqual(
      readers[1]!.of('message').filter((m) => (m.seq as number) > start),
    );
  });

  it('notifies a mentioned user over SSE, once, and not the author', async () => {
    const bobStream = new SseClient(`${server.url}/api/notifications/stream?lastEventId=0`, bob.cookie);
    const aliceStream = new SseClient(`${server.url}/api/notifications/stream?lastEventId=0`, alice.cookie);
    try {
      await bobStream.waitForOpen();
      await aliceStream.waitForOpen();
      const a = await connect(alice);
      await a.join('general');
      const id = clientId();
      a.send('message', { room: 'general', text: 'look @bob and @Bob and @alice and @nobody-here', clientId: id });
      const [event] = await bobStream.waitForCount(1);
      expect(event!.type).toBe('notification');
      expect(event!.data).toEqual({
        topic: 'notifications',
        id: Number(event!.id),
        kind: 'mention',
        title: 'alice mentioned you in #general',
        body: 'look @bob and @Bob and @alice and @nobody-here',
        createdAt: expect.any(String),
        t: expect.any(Number),
        read: false,
        link: { room: 'general', seq: expect.any(Number) },
      });
      const ack = await a.waitFor('ack', (d) => d.clientId === id);
      // The link leads to the very message.
      expect((event!.data as { link: { seq: number } }).link.seq).toBe(ack.seq);
      await new Promise((r) => setTimeout(r, 200));
      expect(bobStream.events).toHaveLength(1);
      expect(aliceStream.events).toHaveLength(0);
    } finally {
      bobStream.close();
      aliceStream.close();
    }
  });
});

describe('bad frames', () => {
  let client: WsClient;
  let reader: WsClient;
  beforeAll(async () => {
    client = await connect(alice);
    reader = await connect(bob);
    await client.join('general');
    await reader.join('general');
  });

  const errorAfter = async (send: () => void) => {
    const from = client.frames.length;
    send();
    return client.waitFor('error', () => true, 5000, from);
  };

  it.each<[string, () => void, string, string | null]>([
    ['binary', () => client.sendRaw(Buffer.from([1, 2, 3]), true), 'bad_json', null],
    ['not JSON', () => client.sendRaw('hello'), 'bad_json', null],
    ['a JSON array', () => client.sendRaw('[1,2]'), 'bad_frame', null],
    ['a JSON string', () => client.sendRaw('"join"'), 'bad_frame', null],
    ['no event', () => client.sendRaw(JSON.stringify({ data: {}, ref: 'r1' })), 'bad_frame', 'r1'],
    ['data not an object', () => client.sendRaw(JSON.stringify({ event: 'join', data: 'general' })), 'bad_frame', null],
    ['an unknown event', () => client.send('shout', {}, { ref: 'r2' }), 'unknown_event', 'r2'],
    ['a prototype-polluting event', () => client.sendRaw('{"event":"__proto__","data":{}}'), 'unknown_event', null],
    ['a missing field', () => client.send('message', { room: 'general', clientId: 'm1' }), 'invalid', 'm1'],
    ['a wrong type', () => client.send('message', { room: 'general', text: 5, clientId: 'm2' }), 'invalid', 'm2'],
    ['an unknown field', () => client.send('message', { room: 'general', text: 'x', clientId: 'm3', admin: true }), 'invalid', 'm3'],
    ['an empty text', () => client.send('message', { room: 'general', text: '   ', clientId: 'm4' }), 'invalid', 'm4'],
    ['a text over 4000 characters', () => client.send('message', { room: 'general', text: 'x'.repeat(4001), clientId: 'm5' }), 'invalid', 'm5'],
    ['a huge clientId', () => client.send('message', { room: 'general', text: 'x', clientId: 'c'.repeat(65) }, { ref: 'r6' }), 'invalid', 'r6'],
    ['a negative afterSeq', () => client.send('join', { room: 'general', afterSeq: -1 }), 'invalid', null],
    ['a hostile room name', () => client.send('join', { room: '../../etc' }), 'invalid', null],
    ['an unknown room', () => client.send('join', { room: 'nowhere' }), 'room_not_found', null],
    ['a room not joined', () => client.send('message', { room: 'elsewhere', text: 'x', clientId: 'm7' }), 'not_joined', 'm7'],
  ])('answers %s with error %s, stores nothing, and keeps the connection', async (_, send, code, ref) => {
    const readerFrames = reader.frames.length;
    const error = await errorAfter(send);
    expect(error).toEqual({ code, message: expect.any(String), ref });
    expect((error.message as string).length).toBeGreaterThan(0);
    // The same socket still works, and the reader got nothing but the valid message.
    const id = clientId();
    const text = `still here ${id}`;
    client.send('message', { room: 'general', text, clientId: id });
    await reader.waitFor('message', (d) => d.text === text);
    // (Presence frames from the joins above may still be arriving: they are not what we count.)
    expect(reader.frames.slice(readerFrames).map((f) => f.event).filter((e) => e !== 'presence')).toEqual(['message']);
  });

  it('closes the connection with 1009 for a frame over the size limit', async () => {
    const big = await connect(alice);
    big.sendRaw(JSON.stringify({ event: 'message', data: { room: 'general', text: 'x'.repeat(5000), clientId: 'big' } }));
    expect(await big.waitClosed()).toBe(1009);
  });
});
