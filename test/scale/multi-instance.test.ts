// Two (and more) API instances, each its own process as `npm start` runs it, sharing the machine's
// PostgreSQL and Redis: fan-out, ordering, resume and presence across instances, graceful and
// ungraceful stops.
import { BoardPicture, type BoardEntry, type BoardPictureData } from '@rt/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson, range, readStream, SseClient, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startInstance, type Instance } from '../support/instances.js';
import { redisPrefix, REDIS_URL, servicesAvailable, testDatabase } from '../support/services.js';

const available = await servicesAvailable();

/** The env that makes instances one deployment: one database, one Redis namespace. */
async function deployment() {
  const db = await testDatabase();
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    REDIS_KEY_PREFIX: redisPrefix(),
    INSTANCE_TTL_SECONDS: '3',
    SHUTDOWN_GRACE_MS: '5000',
    // The tests send fast; the rate limit is not what they are about.
    CHAT_RATE_BURST: '10000',
    CHAT_RATE_PER_SECOND: '10000',
  };
  const instances: Instance[] = [];
  return {
    env,
    start: async (name: string, extra: Record<string, string> = {}) => {
      const instance = await startInstance(name, { ...env, ...extra });
      instances.push(instance);
      return instance;
    },
    close: async () => {
      await Promise.all(instances.map((i) => i.stop('SIGKILL')));
      await db.drop();
    },
  };
}

type Deployment = Awaited<ReturnType<typeof deployment>>;

let counter = 0;
const unique = (p: string) => `${p}${Date.now().toString(36)}${++counter}`;

async function createRoom(base: string, user: SignedIn, name: string): Promise<void> {
  const res = await postJson(base, '/api/rooms', { name }, { cookie: user.cookie, origin: base });
  expect(res.status).toBe(201);
}

/** Messages of a room as a reader saw them: seq and text, in arrival order. */
const seen = (ws: WsClient, room: string) => ws.of('message').filter((m) => m.room === room).map((m) => ({ seq: m.seq as number, text: m.text as string }));

/** The room's log as the database holds it, read through `base`. */
async function history(base: string, user: SignedIn, room: string): Promise<{ seq: number; text: string; clientId: string }[]> {
  const all: { seq: number; text: string; clientId: string }[] = [];
  let before: number | undefined;
  for (;;) {
    const res = await fetch(`${base}/api/rooms/${room}/messages?limit=100${before ? `&before=${before}` : ''}`, { headers: { cookie: user.cookie } });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { messages: { seq: number; text: string; clientId: string }[]; hasMore: boolean };
    all.unshift(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return all;
    before = page.messages[0]!.seq;
  }
}

describe.skipIf(!available)('two instances sharing PostgreSQL and Redis', () => {
  let d: Deployment;
  let a: Instance;
  let b: Instance;
  let alice: SignedIn;
  let bob: SignedIn;

  beforeAll(async () => {
    d = await deployment();
    // Started together: both apply the migrations at once, and Prisma's advisory lock lets one.
    [a, b] = await Promise.all([d.start('a'), d.start('b')]);
    alice = await signUp(a.url, unique('alice'));
    bob = await signUp(b.url, unique('bob')); // a session from B works on A: one JWT_SECRET
  }, 60_000);

  afterAll(() => d?.close());

  it('both report ready, with the database and Redis up', async () => {
    for (const instance of [a, b]) {
      const res = await fetch(`${instance.url}/api/health/ready`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up', provider: 'postgres' }, redis: { status: 'up' }, lifecycle: { status: 'up', instance: instance.name } },
      });
    }
  });

  it('a message sent on A reaches a member on B, in order', async () => {
    const room = unique('ab');
    await createRoom(a.url, alice, room);
    const sender = await WsClient.connect(a.wsUrl, alice.cookie);
    const reader = await WsClient.connect(b.wsUrl, bob.cookie);
    await sender.join(room);
    await reader.join(room);
    for (let i = 0; i < 30; i++) sender.send('message', { room, text: `m${i}`, clientId: `ab-${i}` });
    await eventually(() => (seen(reader, room).length >= 30 ? true : undefined), 10_000, 'the 30 messages on B');
    expect(seen(reader, room)).toEqual(range(1, 30).map((seq) => ({ seq, text: `m${seq - 1}` })));
    sender.close();
    reader.close();
  });

  it('concurrent senders on both instances make one gapless order that every reader sees', async () => {
    const room = unique('race');
    await createRoom(b.url, bob, room);
    const users = await Promise.all(range(1, 4).map((i) => signUp(i % 2 ? a.url : b.url, unique(`w${i}`))));
    const senders = await Promise.all(users.map((u, i) => WsClient.connect((i % 2 ? a : b).wsUrl, u.cookie)));
    const readers = [await WsClient.connect(a.wsUrl, alice.cookie), await WsClient.connect(b.wsUrl, bob.cookie)];
    for (const ws of [...senders, ...readers]) await ws.join(room);
    const perSender = 40;
    senders.forEach((ws, s) => {
      for (let i = 0; i < perSender; i++) ws.send('message', { room, text: `s${s}-${i}`, clientId: `s${s}-${i}` });
    });
    const total = perSender * senders.length;
    for (const ws of senders) await ws.waitFor('ack', (d) => d.clientId === `s${senders.indexOf(ws)}-${perSender - 1}`, 20_000);
    for (const reader of readers) await eventually(() => (seen(reader, room).length >= total ? true : undefined), 20_000, `${total} messages`);

    const stored = await history(a.url, alice, room);
    expect(stored.map((m) => m.seq)).toEqual(range(1, total));
    // Every reader, on either instance, saw exactly the stored order: no gap, no duplicate.
    for (const reader of readers) expect(seen(reader, room)).toEqual(stored.map(({ seq, text }) => ({ seq, text })));
    // Each sender's messages keep the order they were sent in.
    for (let s = 0; s < senders.length; s++) {
      const mine = stored.filter((m) => m.clientId.startsWith(`s${s}-`)).map((m) => m.text);
      expect(mine).toEqual(range(0, perSender - 1).map((i) => `s${s}-${i}`));
    }
    // The acks name the stored seqs.
    const acked = senders.flatMap((ws) => ws.of('ack').map((d) => d.seq as number)).sort((x, y) => x - y);
    expect(acked).toEqual(range(1, total));
    for (const ws of [...senders, ...readers]) ws.close();
  });

  it('a board drawn on A and on B at once is one gapless log; watchers on either instance, over WebSocket and SSE, fold it to the same picture', async () => {
    const room = unique('board');
    await createRoom(a.url, alice, room);
    const drawers = [await WsClient.connect(a.wsUrl, alice.cookie), await WsClient.connect(b.wsUrl, bob.cookie)];
    const watcher = await WsClient.connect(b.wsUrl, alice.cookie);
    for (const ws of [...drawers, watcher]) {
      ws.send('board-join', { room });
      await ws.waitFor('board-joined', (d) => d.room === room);
    }
    const id = watcher.of('board-picture')[0]!.id as number;
    const viewer = new SseClient(`${b.url}/api/events?topics=board:${id}`, bob.cookie, ['picture', 'board']);
    await viewer.waitForCount(1);
    const parts = 30;
    drawers.forEach((ws, d) => {
      for (let i = 0; i < parts; i++) ws.send('board-stroke', i === 0 ? { room, s: 1, i, p: [d, i], c: '#000000', w: 4 } : { room, s: 1, i, p: [d, i] });
    });
    const total = parts * drawers.length;
    const board = (ws: WsClient) => ws.of('board-entry').map((f) => f.entry as BoardEntry);
    for (const ws of [...drawers, watcher]) await eventually(() => (board(ws).length >= total ? true : undefined), 20_000, `${total} board entries`);
    await viewer.waitForCount(1 + total, 20_000);
    expect(board(watcher).map((e) => e[2])).toEqual(range(1, total));
    for (const ws of drawers) expect(board(ws)).toEqual(board(watcher));
    expect(viewer.events.slice(1).map((e) => e.data.entry)).toEqual(board(watcher));
    // Each drawer's stroke holds its points in the order drawn, whichever instance stored them.
    const picture = new BoardPicture(viewer.events[0]!.data as unknown as BoardPictureData);
    for (const entry of board(watcher)) expect(picture.apply(entry)).toBe('applied');
    for (const s of picture.strokes) expect(s.points).toEqual(range(0, parts - 1).flatMap((i) => [s.authorId === alice.user.id ? 0 : 1, i]));
    viewer.close();
    for (const ws of [...drawers, watcher]) ws.close();
  });

  it('a WebSocket that leaves A resumes on B with afterSeq and misses nothing', async () => {
    const room = unique('resume');
    await createRoom(a.url, alice, room);
    const writer = await WsClient.connect(a.wsUrl, alice.cookie);
    await writer.join(room);
    const first = await WsClient.connect(a.wsUrl, bob.cookie);
    await first.join(room);
    for (let i = 0; i < 5; i++) writer.send('message', { room, text: `before ${i}`, clientId: `rb-${i}` });
    await eventually(() => (seen(first, room).length === 5 ? true : undefined), 5000, 'five on A');
    const last = seen(first, room).at(-1)!.seq;
    first.socket.terminate();
    for (let i = 0; i < 5; i++) writer.send('message', { room, text: `away ${i}`, clientId: `ra-${i}` });
    await writer.waitFor('ack', (d) => d.clientId === 'ra-4');
    const back = await WsClient.connect(b.wsUrl, bob.cookie);
    const joined = await back.join(room, last);
    expect(joined.lastSeq).toBe(10);
    expect(seen(back, room)).toEqual(range(6, 10).map((seq) => ({ seq, text: `away ${seq - 6}` })));
    writer.send('message', { room, text: 'live', clientId: 'rl' });
    await back.waitFor('message', (d) => d.text === 'live');
    expect(seen(back, room).map((m) => m.seq)).toEqual(range(6, 11));
    writer.close();
    back.close();
  });

  it('an SSE reader that drops from A and reconnects to B with Last-Event-ID misses nothing', async () => {
    const created = await postJson(a.url, '/api/blogs', { title: 'Across instances' }, { cookie: alice.cookie, origin: a.url });
    expect(created.status).toBe(201);
    const blog = (await created.json()) as { id: number };
    const post = async (base: string, body: string) => {
      const res = await postJson(base, `/api/blogs/${blog.id}/updates`, { body }, { cookie: alice.cookie, origin: base });
      expect(res.status).toBe(201);
    };
    // Live on A, including updates posted through B (the Redis hop).
    const onA = new SseClient(`${a.url}/api/blogs/${blog.id}/stream`, undefined, ['update']);
    await onA.waitForOpen();
    for (let i = 0; i < 3; i++) await post(i % 2 ? b.url : a.url, `one ${i}`);
    await onA.waitForCount(3);
    const lastId = onA.events.at(-1)!.id;
    onA.close();
    for (let i = 0; i < 4; i++) await post(b.url, `two ${i}`);
    // Back, on B, from where it left.
    const res = await fetch(`${b.url}/api/blogs/${blog.id}/stream`, { headers: { 'last-event-id': lastId } });
    expect(res.status).toBe(200);
    const text = await readStream(res, (t) => (t.match(/^data: /gm) ?? []).length >= 5);
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    // `update` events are `[id, t, body]` on a single-topic stream (the hello is an object).
    const bodies = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as unknown).filter(Array.isArray).map((d) => d[2] as string);
    expect(ids.slice(0, 4)).toEqual(range(Number(lastId) + 1, Number(lastId) + 4));
    expect(bodies.slice(0, 4)).toEqual(['two 0', 'two 1', 'two 2', 'two 3']);
    expect(onA.ids()).toEqual(range(Number(onA.events[0]!.id), Number(lastId)));
  });

  it('tabs of one user joining a room at the same moment, on both instances, all join without an error', async () => {
    const room = unique('tabs');
    await createRoom(a.url, alice, room);
    // The membership row is created by whichever join gets there first; the others must not fail.
    const users = await Promise.all(range(1, 5).map((i) => signUp(a.url, unique(`t${i}`))));
    const tabs = await Promise.all(users.flatMap((u) => [a, b, a, b].map((inst) => WsClient.connect(inst.wsUrl, u.cookie))));
    await Promise.all(tabs.map((ws) => ws.join(room)));
    await new Promise((r) => setTimeout(r, 200));
    expect(tabs.flatMap((ws) => ws.of('error'))).toEqual([]);
    for (const ws of tabs) ws.close();
  });

  it('presence is shared: a user on A is listed for a reader on B', async () => {
    const room = unique('here');
    await createRoom(a.url, alice, room);
    const onA = await WsClient.connect(a.wsUrl, alice.cookie);
    const onB = await WsClient.connect(b.wsUrl, bob.cookie);
    await onA.join(room);
    await onB.join(room);
    const names = (d: Record<string, unknown>) => (d.users as { username: string }[]).map((u) => u.username).sort();
    await onB.waitFor('presence', (d) => d.room === room && names(d).length === 2);
    await onA.waitFor('presence', (d) => d.room === room && names(d).length === 2);
    const { rooms } = (await (await fetch(`${b.url}/api/rooms`, { headers: { cookie: bob.cookie } })).json()) as { rooms: { name: string; online: number }[] };
    expect(rooms.find((r) => r.name === room)?.online).toBe(2);
    const from = onB.frames.length;
    onA.close();
    await onB.waitFor('presence', (d) => d.room === room && names(d).length === 1, 5000, from);
    onB.close();
  });
});

describe.skipIf(!available)('stopping an instance', () => {
  let d: Deployment;
  let b: Instance;
  let alice: SignedIn;
  let bob: SignedIn;

  beforeAll(async () => {
    d = await deployment();
    b = await d.start('b');
    alice = await signUp(b.url, unique('alice'));
    bob = await signUp(b.url, unique('bob'));
  }, 60_000);

  afterAll(() => d?.close());

  it('SIGTERM: clients are told 1012 and streams end, in-flight writes finish, and a resend elsewhere stores each message once', async () => {
    const c = await d.start('c');
    const room = unique('drain');
    await createRoom(b.url, alice, room);
    const ws = await WsClient.connect(c.wsUrl, alice.cookie);
    await ws.join(room);
    const sse = await fetch(`${c.url}/api/notifications/stream`, { headers: { cookie: bob.cookie } });
    expect(sse.status).toBe(200);
    const streamText = readStream(sse, () => false, 10_000).catch((err: Error) => err.message);
    const sent = range(0, 49).map((i) => ({ room, text: `t${i}`, clientId: `t${i}` }));
    for (const m of sent) ws.send('message', m);
    const exit = c.stop('SIGTERM');
    expect(await ws.waitClosed(10_000)).toBe(1012);
    expect(await exit).toBe(0);
    // The stream ended (the read finished before its 10 s deadline, without an error).
    expect(await streamText).not.toMatch(/did not match/);
    const acked = ws.of('ack').map((x) => x.clientId as string);
    const stored = await history(b.url, alice, room);
    // Everything acked is stored, stored messages are a prefix of what was sent (in order,
    // nothing half-written), and nothing after the stop was accepted.
    expect(stored.map((m) => m.clientId)).toEqual(sent.slice(0, stored.length).map((m) => m.clientId));
    expect(stored.length).toBeGreaterThanOrEqual(acked.length);
    expect(c.output()).toMatch(/stopped taking traffic on SIGTERM/);
    // The client moves to B and resends whatever was not acked: each stored once.
    const moved = await WsClient.connect(b.wsUrl, alice.cookie);
    await moved.join(room, stored.length);
    for (const m of sent.filter((m) => !acked.includes(m.clientId))) moved.send('message', m);
    await moved.waitFor('ack', (x) => x.clientId === 't49', 10_000);
    const after = await history(b.url, alice, room);
    expect(after.map((m) => m.clientId)).toEqual(sent.map((m) => m.clientId));
    expect(after.map((m) => m.seq)).toEqual(range(1, 50));
    moved.close();
  });

  it('SIGKILL mid-traffic: no stored message is lost and the clients recover on B', async () => {
    const a = await d.start('a');
    const room = unique('kill');
    await createRoom(b.url, alice, room);
    const writerA = await WsClient.connect(a.wsUrl, alice.cookie);
    const readerA = await WsClient.connect(a.wsUrl, bob.cookie);
    const writerB = await WsClient.connect(b.wsUrl, bob.cookie);
    const carol = await signUp(b.url, unique('carol'));
    const readerB = await WsClient.connect(b.wsUrl, carol.cookie);
    for (const ws of [writerA, readerA, writerB, readerB]) await ws.join(room);
    const names = (x: Record<string, unknown>) => (x.users as { username: string }[]).map((u) => u.username);
    await readerB.waitFor('presence', (x) => x.room === room && names(x).includes(alice.user.username));

    const sentA = range(0, 59).map((i) => ({ room, text: `a${i}`, clientId: `a${i}` }));
    const sentB = range(0, 59).map((i) => ({ room, text: `b${i}`, clientId: `b${i}` }));
    // Both write at once; A dies part-way through its batch.
    const pace = async (ws: WsClient, batch: typeof sentA, stopAfter?: number) => {
      for (let i = 0; i < batch.length; i++) {
        if (stopAfter !== undefined && i === stopAfter) return;
        ws.send('message', batch[i]!);
        if (i % 5 === 4) await new Promise((r) => setTimeout(r, 5));
      }
    };
    await Promise.all([pace(writerA, sentA, 30), pace(writerB, sentB.slice(0, 30))]);
    await a.stop('SIGKILL');
    await writerA.waitClosed();
    await readerA.waitClosed();

    // A's clients reconnect to B: the reader resumes after what it saw, the writer resends
    // everything it has no ack for (with the same clientIds) and goes on.
    const lastSeen = seen(readerA, room).at(-1)?.seq ?? 0;
    const movedReader = await WsClient.connect(b.wsUrl, bob.cookie);
    await movedReader.join(room, lastSeen);
    const ackedA = new Set(writerA.of('ack').map((x) => x.clientId as string));
    const movedWriter = await WsClient.connect(b.wsUrl, alice.cookie);
    await movedWriter.join(room);
    await Promise.all([pace(movedWriter, sentA.filter((m) => !ackedA.has(m.clientId))), pace(writerB, sentB.slice(30))]);
    await movedWriter.waitFor('ack', (x) => x.clientId === 'a59', 10_000);
    await writerB.waitFor('ack', (x) => x.clientId === 'b59', 10_000);

    const stored = await history(b.url, alice, room);
    expect(stored.map((m) => m.seq)).toEqual(range(1, 120));
    expect(new Set(stored.map((m) => m.clientId)).size).toBe(120);
    // Each writer's messages in the order sent, across the crash.
    expect(stored.filter((m) => m.clientId.startsWith('a')).map((m) => m.text)).toEqual(sentA.map((m) => m.text));
    expect(stored.filter((m) => m.clientId.startsWith('b')).map((m) => m.text)).toEqual(sentB.map((m) => m.text));
    // The reader that stayed on B and the reader that moved from A saw the log exactly.
    const want = stored.map(({ seq, text }) => ({ seq, text }));
    await eventually(() => (seen(readerB, room).length >= 120 ? true : undefined), 10_000, 'reader on B');
    expect(seen(readerB, room)).toEqual(want);
    await eventually(() => (seen(movedReader, room).length >= 120 - lastSeen ? true : undefined), 10_000, 'moved reader');
    expect([...seen(readerA, room), ...seen(movedReader, room)]).toEqual(want);
    for (const ws of [movedReader, movedWriter, writerB, readerB]) ws.close();
  });

  it('a crashed instance’s users disappear from presence within the TTL', async () => {
    const a = await d.start('a2');
    const room = unique('ghost');
    await createRoom(b.url, alice, room);
    const ghost = await WsClient.connect(a.wsUrl, alice.cookie);
    const watcher = await WsClient.connect(b.wsUrl, bob.cookie);
    await ghost.join(room);
    await watcher.join(room);
    const names = (x: Record<string, unknown>) => (x.users as { username: string }[]).map((u) => u.username);
    await watcher.waitFor('presence', (x) => x.room === room && names(x).includes(alice.user.username));
    const from = watcher.frames.length;
    const killedAt = Date.now();
    await a.stop('SIGKILL');
    const update = await watcher.waitFor('presence', (x) => x.room === room && !names(x).includes(alice.user.username), 15_000, from);
    expect(names(update)).toEqual([bob.user.username]);
    // TTL 3 s, refreshed every second: gone within about 4 s of the crash.
    expect(Date.now() - killedAt).toBeLessThan(8000);
    watcher.close();
  });
});
