import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseRepository } from '../../apps/api/src/repositories/database.repository.js';
import { NotificationRepository } from '../../apps/api/src/repositories/notification.repository.js';
import { RoomRepository, type AppendOutcome } from '../../apps/api/src/repositories/room.repository.js';
import { one, type Unit } from '../../apps/api/src/repositories/sql.js';
import { eventually, postJson, range, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startInstance } from '../support/instances.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * What group commit could break: many writers at once, resends inside and across batches, a bad
 * unit inside a batch, and a crash in the middle of the writes. The order and exactly-once
 * guarantees must hold as they did with one transaction per message.
 */
describe('group commit', () => {
  let server: TestServer;
  let db: DatabaseRepository;
  let rooms: RoomRepository;
  const users: SignedIn[] = [];

  beforeAll(async () => {
    // A generous rate limit: these tests are about the writer, not the limiter.
    server = await startServer({ chatRateBurst: 10_000, chatRatePerSecond: 10_000 });
    db = server.app.get(DatabaseRepository);
    rooms = server.app.get(RoomRepository);
    for (const name of ['gc_ann', 'gc_bob', 'gc_cat', 'gc_dan']) users.push(await signUp(server.url, name));
    for (const room of ['gc-one', 'gc-two', 'gc-three', 'gc-long']) {
      const res = await postJson(server.url, '/api/rooms', { name: room }, { cookie: users[0]!.cookie, origin: server.url });
      expect(res.status).toBe(201);
    }
  });

  afterAll(async () => {
    await server?.close();
    server?.cleanup();
  });

  async function joined(user: SignedIn, room: string): Promise<WsClient> {
    const client = await WsClient.connect(server.wsUrl, user.cookie);
    await client.join(room);
    return client;
  }

  it('one sender’s burst of long messages is pipelined within its bound: nobody is cut as a slow consumer, every ack in order', async () => {
    // 300 messages of 4,000 characters (1.2 MB) at once. Unbounded, a batch on PostgreSQL takes
    // everything that arrived while the previous one ran and lands it on every reader in one
    // turn (abuse-metering.test.ts on PostgreSQL: the sender itself was cut with 4008).
    const [sender, reader] = [await joined(users[0]!, 'gc-long'), await joined(users[1]!, 'gc-long')];
    const count = 300;
    for (const n of range(1, count)) sender.send('message', { room: 'gc-long', text: `${n} `.padEnd(4000, 'x'), clientId: `long-${n}` });
    await eventually(() => (sender.of('ack').length === count || sender.closeCode !== undefined ? true : undefined), 30_000, 'every ack');
    expect(sender.closeCode).toBeUndefined();
    const acks = sender.of('ack').map((a) => a.clientId);
    expect(acks).toEqual(range(1, count).map((n) => `long-${n}`));
    const seqs = sender.of('ack').map((a) => a.seq as number);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    await eventually(() => (reader.of('message').filter((m) => String(m.text).endsWith('x')).length >= count ? true : undefined), 10_000, 'the reader’s copies');
    expect(reader.closeCode).toBeUndefined();
    sender.close();
    reader.close();
  });

  it('concurrent senders in one room and across rooms: gapless, in commit order, every ack is the stored seq', async () => {
    const perSender = 60;
    const plan = users.flatMap((user, u) => ['gc-one', 'gc-two', 'gc-three'].map((room) => ({ user, u, room })));
    const clients = await Promise.all(plan.map(({ user, room }) => joined(user, room)));
    // Everyone fires their whole burst at once, without waiting for acks.
    plan.forEach(({ u, room }, i) => {
      for (const n of range(1, perSender)) clients[i]!.send('message', { room, text: `${u}:${n}`, clientId: `c-${room}-${u}-${n}` });
    });
    await Promise.all(clients.map((c) => eventually(() => (c.of('ack').length === perSender ? true : undefined), 15_000, 'every ack')));

    for (const room of ['gc-one', 'gc-two', 'gc-three']) {
      const ref = (await rooms.refByName(room))!;
      const stored = await rooms.messagesAfter(ref.id, 0, 10_000);
      expect(stored.map((m) => m.seq)).toEqual(range(1, users.length * perSender));
      // Each sender's messages in the order they were sent.
      for (const u of range(0, users.length - 1)) {
        const mine = stored.filter((m) => m.text.startsWith(`${u}:`)).map((m) => Number(m.text.split(':')[1]));
        expect(mine).toEqual(range(1, perSender));
      }
      // Every ack names the seq the message was stored with.
      const seqByClientId = new Map(stored.map((m) => [m.clientId, m.seq]));
      plan.forEach(({ room: r }, i) => {
        if (r !== room) return;
        for (const ack of clients[i]!.of('ack')) expect(ack.seq).toBe(seqByClientId.get(ack.clientId as string));
      });
    }
    for (const c of clients) c.close();
  });

  it('a duplicate clientId inside one batch and across batches is stored once and acked with the same seq', async () => {
    const [ann] = users;
    const ref = (await rooms.refByName('gc-one'))!;
    const before = (await rooms.messagesAfter(ref.id, 0, 10_000)).length;
    const admit = () => true;
    const author = ann!.user;
    // Three writes of one clientId queued in the same tick: one batch.
    const same = await Promise.all([1, 2, 3].map(() => db.write(() => rooms.appendMessage(ref, author, 'once', 'dup-in-batch', admit))));
    expect(same.map((o) => o.kind)).toEqual(['stored', 'duplicate', 'duplicate']);
    const seqs = same.map((o) => (o as Exclude<AppendOutcome, { kind: 'refused' }>).message.seq);
    expect(new Set(seqs).size).toBe(1);
    // And again later, in a batch of its own, with a new message after it.
    const again = await db.write(() => rooms.appendMessage(ref, author, 'once', 'dup-in-batch', admit));
    const next = await db.write(() => rooms.appendMessage(ref, author, 'next', 'after-dup', admit));
    expect(again).toMatchObject({ kind: 'duplicate', message: { seq: seqs[0] } });
    expect(next).toMatchObject({ kind: 'stored', message: { seq: seqs[0]! + 1 } });
    const after = await rooms.messagesAfter(ref.id, 0, 10_000);
    expect(after.length).toBe(before + 2);
    expect(after.map((m) => m.seq)).toEqual(range(1, after.length));
  });

  it('a unit that violates a constraint fails alone; the rest of its batch commits, gapless', async () => {
    const ref = (await rooms.refByName('gc-two'))!;
    const start = (await rooms.messagesAfter(ref.id, 0, 10_000)).length;
    const author = users[1]!.user;
    const ghost = { id: 999_999, username: 'nobody' }; // no such user: the foreign key refuses it
    const admit = () => true;
    const writes = [
      db.write(() => rooms.appendMessage(ref, author, 'a', 'bad-batch-1', admit)),
      db.write(() => rooms.appendMessage(ref, ghost, 'b', 'bad-batch-2', admit)),
      db.write(() => rooms.appendMessage(ref, author, 'c', 'bad-batch-3', admit)),
      // A unit that fails half-way, after its first write: nothing of it may remain.
      db.write(function* (): Unit<number> {
        yield* one(`UPDATE "Room" SET "lastSeq" = "lastSeq" + 100 WHERE "id" = $1 RETURNING "lastSeq"`, [ref.id]);
        throw new Error('fails after writing');
      }),
      db.write(() => rooms.appendMessage(ref, author, 'd', 'bad-batch-4', admit)),
    ];
    const settled = await Promise.allSettled(writes);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    const stored = await rooms.messagesAfter(ref.id, start, 100);
    expect(stored.map((m) => m.text)).toEqual(['a', 'c', 'd']);
    expect(stored.map((m) => m.seq)).toEqual(range(start + 1, start + 3));
    const room = await server.app.get(RoomRepository).findByName('gc-two');
    expect(room?.lastSeq).toBe(start + 3);
  });

  it('a mention is stored with its message in one unit: the notification log stays gapless beside it', async () => {
    const [ann, bob] = users;
    const client = await joined(ann!, 'gc-three');
    for (const n of range(1, 30)) client.send('message', { room: 'gc-three', text: `hi @gc_bob ${n}`, clientId: `mention-${n}` });
    await eventually(() => (client.of('ack').length === 30 ? true : undefined), 10_000, 'acks');
    const notifications = server.app.get(NotificationRepository);
    const mine = await notifications.after(bob!.user.id, 0, 1000);
    expect(mine.map((n) => n.seq)).toEqual(range(1, mine.length));
    expect(mine.filter((n) => n.kind === 'mention').length).toBeGreaterThanOrEqual(30);
    client.close();
  });
});

describe('group commit across a crash (SIGKILL mid-burst)', () => {
  it('keeps every acked message and its mention; nothing unacked is half-stored', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rt-kill-'));
    try {
      let instance = await startInstance('kill', { DATA_DIR: dataDir, CHAT_RATE_BURST: '100000', CHAT_RATE_PER_SECOND: '100000' });
      const ann = await signUp(instance.url, 'kill_ann');
      const bob = await signUp(instance.url, 'kill_bob');
      const senders = await Promise.all(range(1, 4).map(async () => {
        const client = await WsClient.connect(instance.wsUrl, ann.cookie);
        await client.join('general');
        return client;
      }));
      // Keep the writer busy: every sender pushes a message (each mentioning bob) every few ms.
      let n = 0;
      const timer = setInterval(() => {
        for (const [s, client] of senders.entries()) {
          for (let k = 0; k < 5; k++) {
            n++;
            client.send('message', { room: 'general', text: `@kill_bob ${s}-${n}`, clientId: `kill-${s}-${n}` });
          }
        }
      }, 2);
      await eventually(() => (senders.every((c) => c.of('ack').length >= 50) ? true : undefined), 15_000, 'acks before the kill');
      expect(await instance.stop('SIGKILL')).toBe('SIGKILL');
      clearInterval(timer);
      const acked = new Map<string, number>();
      for (const client of senders) for (const ack of client.of('ack')) acked.set(ack.clientId as string, ack.seq as number);

      const file = new Database(join(dataDir, 'app.db'), { readonly: true });
      const messages = file.prepare(`SELECT "seq", "clientId" FROM "Message" m JOIN "Room" r ON r."id" = m."roomId" WHERE r."name" = 'general' ORDER BY "seq"`).all() as { seq: number; clientId: string }[];
      const notes = file.prepare(`SELECT "seq" FROM "Notification" WHERE "userId" = ? ORDER BY "seq"`).all(bob.user.id) as { seq: number }[];
      const events = file.prepare(`SELECT COUNT(*) AS n FROM "StreamEvent" WHERE "stream" = ?`).get(`user:${bob.user.id}`) as { n: number };
      const counter = file.prepare(`SELECT "lastSeq" FROM "Room" WHERE "name" = 'general'`).get() as { lastSeq: number };
      file.close();

      const stored = new Map(messages.map((m) => [m.clientId, m.seq]));
      for (const [clientId, seq] of acked) expect(stored.get(clientId), clientId).toBe(seq);
      expect(messages.map((m) => m.seq)).toEqual(range(1, messages.length));
      expect(counter.lastSeq).toBe(messages.length);
      // Every stored message's mention is there, and nothing else: no half of a unit.
      expect(notes.length).toBe(messages.length);
      expect(notes.map((r) => r.seq)).toEqual(range(1, notes.length));
      expect(events.n).toBe(notes.length);

      // And the restarted server serves exactly that.
      instance = await startInstance('kill-again', { DATA_DIR: dataDir });
      const reader = await WsClient.connect(instance.wsUrl, bob.cookie);
      reader.send('join', { room: 'general', afterSeq: 0 });
      await reader.waitFor('joined', () => true, 10_000);
      expect(reader.of('message').map((m) => m.seq)).toEqual(range(1, messages.length));
      reader.close();
      await instance.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
