// Faults between an instance and its engines: Redis or PostgreSQL goes away (a TCP proxy in
// front of the real one resets every connection) and comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson, range, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startInstance, type Instance } from '../support/instances.js';
import { redisPrefix, REDIS_URL, servicesAvailable, testDatabase } from '../support/services.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const available = await servicesAvailable();

const ready = async (instance: Instance) => {
  const res = await fetch(`${instance.url}/api/health/ready`);
  return { status: res.status, body: (await res.json()) as { status: string; error?: Record<string, { status: string }>; info?: Record<string, unknown> } };
};

const seen = (ws: WsClient, room: string) => ws.of('message').filter((m) => m.room === room).map((m) => m.seq as number);

describe.skipIf(!available)('faults', () => {
  let db: Awaited<ReturnType<typeof testDatabase>>;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  /** Reaches PostgreSQL and Redis through the proxies. */
  let faulty: Instance;
  /** Reaches them directly. */
  let steady: Instance;
  let alice: SignedIn;
  let bob: SignedIn;
  const room = `faults${Date.now().toString(36)}`;

  beforeAll(async () => {
    db = await testDatabase();
    pgProxy = await TcpProxy.start(5432);
    redisProxy = await TcpProxy.start(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
    const proxiedDb = new URL(db.url);
    proxiedDb.host = `127.0.0.1:${pgProxy.port}`;
    const env = { REDIS_KEY_PREFIX: redisPrefix(), CHAT_RATE_BURST: '10000', CHAT_RATE_PER_SECOND: '10000' };
    steady = await startInstance('steady', { ...env, DATABASE_URL: db.url, REDIS_URL });
    faulty = await startInstance('faulty', { ...env, DATABASE_URL: proxiedDb.toString(), REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` });
    alice = await signUp(steady.url, `alice${Date.now().toString(36)}`);
    bob = await signUp(steady.url, `bob${Date.now().toString(36)}`);
    const created = await postJson(steady.url, '/api/rooms', { name: room }, { cookie: alice.cookie, origin: steady.url });
    expect(created.status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([faulty?.stop('SIGKILL'), steady?.stop('SIGKILL')]);
    await Promise.all([pgProxy?.close(), redisProxy?.close()]);
    await db?.drop();
  });

  it('Redis away: not ready, messages still stored and delivered locally; back: ready, and the other instance catches up from the log', async () => {
    const writer = await WsClient.connect(faulty.wsUrl, alice.cookie);
    const localReader = await WsClient.connect(faulty.wsUrl, bob.cookie);
    const remoteReader = await WsClient.connect(steady.wsUrl, bob.cookie);
    for (const ws of [writer, localReader, remoteReader]) await ws.join(room);
    writer.send('message', { room, text: 'before', clientId: 'r0' });
    await remoteReader.waitFor('message', (m) => m.text === 'before');
    const base = seen(remoteReader, room).at(-1)!;

    redisProxy.cut();
    const down = await eventually(
      () => ready(faulty).then((r) => (r.status === 503 ? r : undefined)),
      10_000,
      'readiness 503 while Redis is away',
    );
    expect(down.body.error?.redis?.status).toBe('down');
    expect((await fetch(`${faulty.url}/api/health/live`)).status).toBe(200);

    // Writes go on: stored, acked, and delivered to this instance's own readers.
    for (let i = 1; i <= 5; i++) writer.send('message', { room, text: `during ${i}`, clientId: `r${i}` });
    await writer.waitFor('ack', (a) => a.clientId === 'r5');
    await localReader.waitFor('message', (m) => m.text === 'during 5');
    // The other instance heard nothing (the doorbell is down), and its room is quiet.
    await new Promise((r) => setTimeout(r, 300));
    expect(seen(remoteReader, room).at(-1)).toBe(base);

    redisProxy.restore();
    await eventually(() => ready(faulty).then((r) => (r.status === 200 ? true : undefined)), 15_000, 'ready again');
    // No new message is needed: the failed publishes are owed, and the resync brings them.
    await eventually(() => (seen(remoteReader, room).length >= base + 5 ? true : undefined), 10_000, 'catch-up on the other instance');
    expect(seen(remoteReader, room).slice(-6)).toEqual(range(base, base + 5));
    expect(new Set(seen(remoteReader, room)).size).toBe(seen(remoteReader, room).length);
    // Live traffic flows both ways again.
    writer.send('message', { room, text: 'after', clientId: 'r6' });
    await remoteReader.waitFor('message', (m) => m.text === 'after');
    for (const ws of [writer, localReader, remoteReader]) ws.close();
  });

  it('Redis away: messages posted on another instance meanwhile reach this one’s readers when it reconnects', async () => {
    const reader = await WsClient.connect(faulty.wsUrl, bob.cookie);
    const writer = await WsClient.connect(steady.wsUrl, alice.cookie);
    await reader.join(room);
    await writer.join(room);
    redisProxy.cut();
    await eventually(() => ready(faulty).then((r) => (r.status === 503 ? true : undefined)), 10_000, 'not ready');
    const before = seen(reader, room).length;
    for (let i = 0; i < 3; i++) writer.send('message', { room, text: `elsewhere ${i}`, clientId: `e${i}` });
    await writer.waitFor('ack', (a) => a.clientId === 'e2');
    redisProxy.restore();
    await eventually(() => (seen(reader, room).length >= before + 3 ? true : undefined), 15_000, 'catch-up after reconnect');
    const got = seen(reader, room);
    expect(got).toEqual(range(got[0]!, got.at(-1)!));
    reader.close();
    writer.close();
  });

  it('Redis away: a session revoked on another instance meanwhile has its sockets closed with 4001 and its streams ended with auth-expired once the bus is back', async () => {
    const carol = await signUp(steady.url, `carol${Date.now().toString(36)}`);
    const revoked = await WsClient.connect(faulty.wsUrl, carol.cookie);
    const bystander = await WsClient.connect(faulty.wsUrl, bob.cookie);
    const stream = await fetch(`${faulty.url}/api/notifications/stream`, { headers: { cookie: carol.cookie } });
    expect(stream.status).toBe(200);
    let text = '';
    const streamEnded = (async () => {
      const decoder = new TextDecoder();
      const reader = stream.body!.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value, { stream: true });
    })().catch(() => undefined); // cut rather than ended: the assertion on `text` says so
    redisProxy.cut();
    await eventually(() => ready(faulty).then((r) => (r.status === 503 ? true : undefined)), 10_000, 'not ready');
    const out = await postJson(steady.url, '/api/auth/logout', undefined, { cookie: carol.cookie, origin: steady.url });
    expect(out.status).toBe(204);
    // The revocation went out on the bus, which this instance does not hear: its connections stay.
    await new Promise((r) => setTimeout(r, 500));
    expect(revoked.closeCode).toBeUndefined();
    redisProxy.restore();
    expect(await revoked.waitClosed(15_000)).toBe(4001);
    await streamEnded;
    expect(text).toMatch(/^event: auth-expired$/m);
    // A session that still exists keeps its socket.
    await new Promise((r) => setTimeout(r, 200));
    expect(bystander.closeCode).toBeUndefined();
    bystander.close();
  }, 40_000);

  it('PostgreSQL away: not ready, clear 503s and `unavailable` errors, nothing half-written; back: a resend is stored once', async () => {
    const writer = await WsClient.connect(faulty.wsUrl, alice.cookie);
    await writer.join(room);
    const { rooms } = (await (await fetch(`${steady.url}/api/rooms`, { headers: { cookie: alice.cookie } })).json()) as { rooms: { name: string; lastSeq: number }[] };
    const lastSeq = rooms.find((r) => r.name === room)!.lastSeq;

    pgProxy.cut();
    const down = await eventually(() => ready(faulty).then((r) => (r.status === 503 ? r : undefined)), 10_000, 'readiness 503 while the database is away');
    expect(down.body.error?.database?.status).toBe('down');

    // HTTP: a JSON 503 with Retry-After, not a 500 or a hang.
    const res = await fetch(`${faulty.url}/api/rooms`, { headers: { cookie: alice.cookie } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.stringMatching(/database is unavailable/) });
    const post = await postJson(faulty.url, '/api/rooms', { name: `${room}x` }, { cookie: alice.cookie, origin: faulty.url });
    expect(post.status).toBe(503);
    // A new WebSocket is refused with 503 (the session cannot be checked).
    await expect(WsClient.connect(faulty.wsUrl, bob.cookie)).rejects.toMatchObject({ status: 503 });
    // The open socket: an `unavailable` error naming the message; the socket stays open.
    const from = writer.frames.length;
    writer.send('message', { room, text: 'in the dark', clientId: 'dark-1' });
    const error = await writer.waitFor('error', () => true, 15_000, from);
    expect(error).toMatchObject({ code: 'unavailable', ref: 'dark-1' });
    expect(writer.closeCode).toBeUndefined();

    pgProxy.restore();
    await eventually(() => ready(faulty).then((r) => (r.status === 200 ? true : undefined)), 20_000, 'ready again');
    // Nothing of the failed write was kept: the room's counter did not move.
    const after = (await (await fetch(`${steady.url}/api/rooms`, { headers: { cookie: alice.cookie } })).json()) as { rooms: { name: string; lastSeq: number }[] };
    expect(after.rooms.find((r) => r.name === room)!.lastSeq).toBe(lastSeq);
    // The client resends with the same clientId, twice even: stored once, at the next seq.
    writer.send('message', { room, text: 'in the dark', clientId: 'dark-1' });
    writer.send('message', { room, text: 'in the dark', clientId: 'dark-1' });
    await eventually(() => (writer.of('ack').filter((a) => a.clientId === 'dark-1').length === 2 ? true : undefined), 10_000, 'two acks');
    expect(new Set(writer.of('ack').filter((a) => a.clientId === 'dark-1').map((a) => a.seq))).toEqual(new Set([lastSeq + 1]));
    writer.close();
  });
});
