import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson, signUp, WsClient, type Frame, type SignedIn } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

// A small allowance that refills quickly: a burst past it is refused at once, and tokens come
// back while later frames are still on their way, which is when a later message could overtake.
const BURST = 5;
const PER_SECOND = 10;

let server: TestServer;
const sockets: WsClient[] = [];
let users = 0;

beforeAll(async () => {
  server = await startServer({ chatRateBurst: BURST, chatRatePerSecond: PER_SECOND });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server.close();
  server.cleanup();
});

async function newUser(): Promise<SignedIn> {
  return signUp(server.url, `sender${++users}`);
}

async function newRoom(user: SignedIn, name: string): Promise<void> {
  expect((await postJson(server.url, '/api/rooms', { name }, { cookie: user.cookie })).status).toBe(201);
}

async function connect(user: SignedIn, room: string): Promise<WsClient> {
  const ws = await WsClient.connect(server.wsUrl, user.cookie);
  sockets.push(ws);
  await ws.join(room);
  return ws;
}

/** The room's whole history over REST, oldest first: each message's clientId. */
async function storedClientIds(user: SignedIn, room: string): Promise<string[]> {
  const all: string[] = [];
  let before: number | undefined;
  for (;;) {
    const query = before === undefined ? 'limit=100' : `limit=100&before=${before}`;
    const res = await fetch(`${server.url}/api/rooms/${room}/messages?${query}`, { headers: { cookie: user.cookie } });
    const page = (await res.json()) as { messages: { seq: number; clientId: string }[]; hasMore: boolean };
    all.unshift(...page.messages.map((m) => m.clientId));
    if (!page.hasMore || page.messages.length === 0) return all;
    before = page.messages[0]!.seq;
  }
}

/** The answer (ack or error) to each message frame sent from frame index `from` on. */
function answers(ws: WsClient, from: number): Map<string, Frame> {
  const byClientId = new Map<string, Frame>();
  for (const frame of ws.frames.slice(from)) {
    if (frame.event === 'ack') byClientId.set(frame.data.clientId as string, frame);
    if (frame.event === 'error' && typeof frame.data.ref === 'string') byClientId.set(frame.data.ref, frame);
  }
  return byClientId;
}

describe('a sender\'s messages keep their order through the rate limit', () => {
  it('refuses what follows a rate-limited message as out_of_order; resent from the refused one, all are stored once, in order', async () => {
    const alice = await newUser();
    await newRoom(alice, 'burst');
    const ws = await connect(alice, 'burst');
    const ids = Array.from({ length: 40 }, (_, i) => `b-${String(i + 1).padStart(2, '0')}`);
    const send = (clientId: string, first = false) =>
      ws.send('message', { room: 'burst', text: `message ${clientId}`, clientId, ...(first ? { first: true } : {}) });

    // Round 1, as a client on a slow link pipelines: half the burst; then, before the refusals
    // have reached it (modelled here by ignoring the one that came back), the rest, once the
    // allowance has partly refilled. Those would be stored ahead of the refused ones without the gate.
    let from = ws.frames.length;
    ids.slice(0, 20).forEach((id, i) => send(id, i === 0));
    await ws.waitFor('error', (d) => d.code === 'rate_limited', 5000, from);
    await new Promise((r) => setTimeout(r, 400)); // at least 4 tokens come back
    ids.slice(20).forEach((id) => send(id));
    let got = await eventually(() => (answers(ws, from).size === ids.length ? answers(ws, from) : undefined), 10_000, 'round 1 answered');
    const codes: Record<string, string | undefined>[] = [];
    const record = (batch: string[]) => codes.push(Object.fromEntries(batch.map((id) => [id, got.get(id)!.event === 'ack' ? 'ack' : (got.get(id)!.data.code as string)])));
    record(ids);
    const round1 = got;

    // What docs/protocol.md says a client does: wait as told, then send again from the refused
    // one, in order; repeat until everything is acked.
    let next = ids.findIndex((id) => got.get(id)!.event === 'error');
    while (next !== -1 && next < ids.length) {
      const wait = got.get(ids[next]!)!.data.retryAfterMs;
      await new Promise((r) => setTimeout(r, typeof wait === 'number' ? wait : 100));
      from = ws.frames.length;
      const batch = ids.slice(next);
      batch.forEach((id) => send(id));
      got = await eventually(() => (answers(ws, from).size === batch.length ? answers(ws, from) : undefined), 10_000, `round ${codes.length + 1} answered`);
      record(batch);
      const refused = batch.findIndex((id) => got.get(id)!.event === 'error');
      next = refused === -1 ? -1 : next + refused;
      expect(codes.length, 'rounds').toBeLessThan(100);
    }

    // Stored exactly once each, in the order sent, and acked with those places.
    expect(await storedClientIds(alice, 'burst')).toEqual(ids);
    const acks = ws.of('ack');
    expect(acks.map((a) => a.clientId)).toEqual(ids);
    expect(acks.map((a) => a.seq)).toEqual(ids.map((_, i) => i + 1));

    // How: in each round the first refused one is rate_limited and every later one out_of_order,
    // naming it, even those that arrived after the allowance refilled.
    for (const round of codes) {
      const outcomes = Object.values(round);
      const firstRefused = outcomes.findIndex((c) => c !== 'ack');
      if (firstRefused === -1) continue;
      expect(outcomes.slice(0, firstRefused).every((c) => c === 'ack')).toBe(true);
      expect(outcomes[firstRefused]).toBe('rate_limited');
      expect(outcomes.slice(firstRefused + 1).every((c) => c === 'out_of_order')).toBe(true);
    }
    const refused1 = ids.findIndex((id) => round1.get(id)!.event === 'error');
    expect(refused1).toBeGreaterThanOrEqual(BURST);
    for (const id of ids.slice(refused1 + 1)) {
      expect(round1.get(id)!.data, id).toEqual({ code: 'out_of_order', message: expect.stringContaining(ids[refused1]!), ref: id, expected: ids[refused1] });
    }
    // Held-back messages did not use the allowance: what refilled during the pause was there for
    // the resend (the refused ones themselves took nothing either).
    expect(Object.values(codes[1]!).filter((c) => c === 'ack').length).toBeGreaterThanOrEqual(3);
    expect(codes.length).toBeGreaterThan(2); // the limit was hit again while resending
  });

  /** Sends `count` messages at once; resolves with the index of the first refused one (rate_limited) and the answers. */
  async function overrun(ws: WsClient, room: string, prefix: string, count: number) {
    const from = ws.frames.length;
    for (let i = 1; i <= count; i++) ws.send('message', { room, text: `${prefix}${i}`, clientId: `${prefix}-${i}` });
    const got = await eventually(() => (answers(ws, from).size === count ? answers(ws, from) : undefined), 5000, 'answers');
    const refused = Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`).findIndex((id) => got.get(id)!.event === 'error');
    expect(refused, 'the allowance ran out').toBeGreaterThanOrEqual(0);
    expect(got.get(`${prefix}-${refused + 1}`)!.data.code).toBe('rate_limited');
    return { refused: refused + 1, got };
  }

  it('lets the head of the outbox (first: true) through the gate, so a message given up on holds nothing up', async () => {
    const bob = await newUser();
    await newRoom(bob, 'giveup');
    const ws = await connect(bob, 'giveup');
    const count = BURST + 4;
    const { refused, got } = await overrun(ws, 'giveup', 'g', count);
    expect(got.get(`g-${count}`)!.data).toMatchObject({ code: 'out_of_order', expected: `g-${refused}` });
    await new Promise((r) => setTimeout(r, 300));
    // The client gives up on the refused one (say its user discarded it) and goes on from the next,
    // now the head of its outbox. A later one without the flag is still held back.
    const again = ws.frames.length;
    ws.send('message', { room: 'giveup', text: 'not the head', clientId: `g-${refused + 2}` });
    ws.send('message', { room: 'giveup', text: 'the head', clientId: `g-${refused + 1}`, first: true });
    ws.send('message', { room: 'giveup', text: 'after the head', clientId: `g-${refused + 2}` });
    await eventually(() => (ws.of('ack').some((a) => a.clientId === `g-${refused + 2}`) ? true : undefined), 5000, 'the last ack');
    const after = ws.frames.slice(again).filter((f) => f.event === 'ack' || f.event === 'error');
    expect(after.map((f) => (f.event === 'ack' ? `ack ${String(f.data.clientId)}` : `${String(f.data.code)} ${String(f.data.expected)}`))).toEqual([
      `out_of_order g-${refused}`,
      `ack g-${refused + 1}`,
      `ack g-${refused + 2}`,
    ]);
    const kept = Array.from({ length: refused - 1 }, (_, i) => `g-${i + 1}`);
    expect(await storedClientIds(bob, 'giveup')).toEqual([...kept, `g-${refused + 1}`, `g-${refused + 2}`]);
  });

  it('holds back only the connection and room of the refusal: another tab and another room go on', async () => {
    const carol = await newUser();
    await newRoom(carol, 'tab-a');
    await newRoom(carol, 'tab-b');
    const tab1 = await connect(carol, 'tab-a');
    await tab1.join('tab-b');
    const tab2 = await connect(carol, 'tab-a');
    const { refused } = await overrun(tab1, 'tab-a', 't', BURST + 3);
    await new Promise((r) => setTimeout(r, 250)); // tokens for the two sends below
    tab1.send('message', { room: 'tab-b', text: 'other room', clientId: 'o-1' });
    expect((await tab1.waitFor('ack', (d) => d.clientId === 'o-1')).room).toBe('tab-b');
    tab2.send('message', { room: 'tab-a', text: 'other tab', clientId: 'o-2' });
    expect((await tab2.waitFor('ack', (d) => d.clientId === 'o-2')).room).toBe('tab-a');
    // The first tab's room stays held until the refused one comes again.
    tab1.send('message', { room: 'tab-a', text: 'still held', clientId: 't-late' });
    expect(await tab1.waitFor('error', (d) => d.ref === 't-late')).toMatchObject({ code: 'out_of_order', expected: `t-${refused}` });
  });
});

describe('hostile input for the ordering fields', () => {
  it('refuses a `first` that is not a boolean with `invalid`, stores nothing, and keeps the socket', async () => {
    const dave = await newUser();
    await newRoom(dave, 'hostile-first');
    const ws = await connect(dave, 'hostile-first');
    const bad: unknown[] = ['true', 1, 0, null, {}, [], [true], 'x'.repeat(1000)];
    const from = ws.frames.length;
    bad.forEach((first, i) => ws.send('message', { room: 'hostile-first', text: 'x', clientId: `h-${i}`, first }));
    const errors = await eventually(() => (ws.of('error').length >= bad.length ? ws.frames.slice(from).filter((f) => f.event === 'error') : undefined), 5000, 'errors');
    expect(errors.map((e) => e.data)).toEqual(bad.map((_, i) => ({ code: 'invalid', message: 'first must be true or false', ref: `h-${i}` })));
    // No other ordering field is taken either (a client cannot pick its own seq).
    ws.send('message', { room: 'hostile-first', text: 'x', clientId: 'h-extra', seq: 1 });
    expect((await ws.waitFor('error', (d) => d.ref === 'h-extra')).code).toBe('invalid');
    // Nothing was stored, nothing closed the gate: a normal message goes through.
    ws.send('message', { room: 'hostile-first', text: 'fine', clientId: 'h-ok', first: false });
    expect((await ws.waitFor('ack', (d) => d.clientId === 'h-ok')).seq).toBe(1);
    expect(await storedClientIds(dave, 'hostile-first')).toEqual(['h-ok']);
    expect(ws.closeCode).toBeUndefined();
  });

  it('refuses out-of-order messages of a room the socket has not joined as not_joined, not as out_of_order', async () => {
    const erin = await newUser();
    const ws = await connect(erin, 'general');
    ws.send('message', { room: 'nowhere', text: 'x', clientId: 'n-1', first: true });
    expect((await ws.waitFor('error', (d) => d.ref === 'n-1')).code).toBe('not_joined');
  });
});
