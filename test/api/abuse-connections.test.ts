// Hostile clients against the realtime connections (issue 16, defects 1, 3, 6 and 9): join
// floods into a big room, replies that pile up for a reader that never reads, thousands of
// connections, and protocol corners.
import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually, postJson, signUp, SseClient, WsClient, type SignedIn } from '../support/clients.js';
import { startInstance, type Instance } from '../support/instances.js';
import { serverForSuite, withTwoInstances } from '../support/server.js';
import { REDIS_URL, redisPrefix, servicesAvailable } from '../support/services.js';

interface ProcessMetrics {
  ws: { connections: number; slowConsumerCloses: number; payloadBytesOut: number; wireBytesOut: number; messagesOut: number; overheadBytesPerMessage: number };
  process: { heapUsedBytes: number; rssBytes: number };
}
const metrics = async (base: string) => (await (await fetch(`${base}/api/metrics`)).json()) as ProcessMetrics;

/** A raw upgrade request; resolves with the response head the server wrote (or '' if it closed without one). */
function rawUpgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(head.slice(0, head.indexOf('\r\n\r\n')));
      }
    });
    socket.on('close', () => resolve(head));
    socket.on('error', reject);
    const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
  });
}

/** Resolves once `read` has not changed for 500 ms: the server has worked through what it was sent. */
async function quiet(read: () => Promise<number>): Promise<void> {
  let last = await read();
  let since = Date.now();
  while (Date.now() - since < 500) {
    await new Promise((r) => setTimeout(r, 50));
    const now = await read();
    if (now !== last) [last, since] = [now, Date.now()];
  }
}

/** Opens a WebSocket whose client stops reading from TCP at once: what it is sent piles up in the server. */
async function nonReader(url: string, cookie: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { headers: { cookie } });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  // ws reads its TCP socket in flowing mode; pausing it stops the reads (the kernel buffers
  // fill, then the server's writes queue in its own memory).
  (socket as unknown as { _socket: import('node:net').Socket })._socket.pause();
  return socket;
}

describe('join amplification (defect 1), server in its own process', () => {
  let server: Instance;
  let alice: SignedIn;
  const ROOM_MESSAGES = 600;
  beforeAll(async () => {
    server = await startInstance('join-flood', { CHAT_RATE_BURST: '100000', CHAT_RATE_PER_SECOND: '100000' });
    alice = await signUp(server.url, 'alice');
    const writer = await WsClient.connect(server.wsUrl, alice.cookie);
    await writer.join('general');
    const text = 'x'.repeat(4000);
    for (let i = 0; i < ROOM_MESSAGES; i++) writer.send('message', { room: 'general', text, clientId: `seed-${i}` });
    await writer.waitFor('ack', (d) => d.clientId === `seed-${ROOM_MESSAGES - 1}`, 60_000);
    writer.close();
  }, 120_000);
  afterAll(() => server.stop());

  it('a second join of a joined room replays nothing and answers with the current position', async () => {
    const reader = await WsClient.connect(server.wsUrl, alice.cookie);
    const first = await reader.join('general', 0);
    const replayed = reader.of('message').length;
    expect(replayed).toBe(ROOM_MESSAGES);
    const second = await reader.join('general', 0);
    expect(second).toEqual(first);
    await new Promise((r) => setTimeout(r, 200));
    expect(reader.of('message').length).toBe(replayed);
    reader.close();
  });

  it('two non-reading sockets sending 150 joins each: server heap stays bounded, /api/health/live answers, and each socket gets one replay', async () => {
    const before = await metrics(server.url);
    const sockets = await Promise.all([nonReader(server.wsUrl, alice.cookie), nonReader(server.wsUrl, alice.cookie)]);
    const join = JSON.stringify({ event: 'join', data: { room: 'general', afterSeq: 0 } });
    for (const socket of sockets) for (let i = 0; i < 150; i++) socket.send(join);
    let worstHealth = 0;
    let peakHeap = 0;
    const until = Date.now() + 6000;
    while (Date.now() < until) {
      const t = performance.now();
      const m = await metrics(server.url);
      worstHealth = Math.max(worstHealth, performance.now() - t);
      peakHeap = Math.max(peakHeap, m.process.heapUsedBytes);
      await new Promise((r) => setTimeout(r, 100));
    }
    const t = performance.now();
    expect((await fetch(`${server.url}/api/health/live`)).status).toBe(200);
    worstHealth = Math.max(worstHealth, performance.now() - t);
    const after = await metrics(server.url);
    const growthMiB = (peakHeap - before.process.heapUsedBytes) / 2 ** 20;
    console.log(`[figures] join flood: heap ${(before.process.heapUsedBytes / 2 ** 20).toFixed(0)} MiB -> peak ${(peakHeap / 2 ** 20).toFixed(0)} MiB (+${growthMiB.toFixed(0)}), worst metrics/health ${worstHealth.toFixed(0)} ms, slow-consumer closes +${after.ws.slowConsumerCloses - before.ws.slowConsumerCloses}`);
    // Before the fix: 166 MiB -> 1.38 GiB and 17.9 s. The latency bound is loose: a shared, loaded machine.
    expect(growthMiB).toBeLessThan(64);
    expect(worstHealth).toBeLessThan(3000);
    // Reading again: the replay was paced, not dropped. Each socket gets the room once and a
    // `joined` per join (or, had it fallen over the cap, a 4008 close to resume from).
    const received = sockets.map((socket) => {
      const counts = { message: 0, joined: 0, close: 0 };
      socket.on('message', (raw) => {
        // A `message` frame is an array (docs/protocol.md); every other frame an object.
        const frame = JSON.parse(String(raw)) as { event: keyof typeof counts } | unknown[];
        const event = Array.isArray(frame) ? 'message' : frame.event;
        if (event in counts) counts[event]++;
      });
      socket.on('close', (code) => (counts.close = code));
      (socket as unknown as { _socket: import('node:net').Socket })._socket.resume();
      return counts;
    });
    await eventually(() => (received.every((c) => c.joined === 150 || c.close === 4008) ? true : undefined), 20_000, 'the answers');
    for (const c of received) if (c.close !== 4008) expect(c).toEqual({ message: ROOM_MESSAGES, joined: 150, close: 0 });
    for (const socket of sockets) socket.terminate();
  }, 30_000);
});

describe('every reply counts against the send cap (defect 6)', () => {
  const server = serverForSuite();
  let alice: SignedIn;
  beforeAll(async () => {
    alice = await signUp(server.url, 'alice');
  });

  /**
   * Sends `count` frames from a socket that does not read, waits for `processed` (the server has
   * handled them), then reads again: resolves with the close code it gets.
   */
  async function floodThenRead(send: (socket: WebSocket) => void, count: number, processed: () => Promise<void>): Promise<number> {
    const socket = await nonReader(server.wsUrl, alice.cookie);
    let code: number | undefined;
    socket.on('close', (c) => (code = c));
    for (let i = 0; i < count; i++) send(socket);
    await processed();
    // Reading again (within the 5 s a cut reader gets to take its close frame), it gets what was
    // queued before the cut, then the close frame.
    (socket as unknown as { _socket: import('node:net').Socket })._socket.resume();
    return eventually(() => code, 10_000, 'the close');
  }

  it('error frames: a client flooding invalid frames without reading is cut as a slow consumer once WS_MAX_BUFFERED_BYTES wait', async () => {
    const before = await metrics(server.url);
    const socket = await nonReader(server.wsUrl, alice.cookie);
    let code: number | undefined;
    socket.on('close', (c) => (code = c));
    // 200,000 error frames of 80+ bytes: well past the 1 MiB cap, whatever the kernel buffers hold.
    for (let i = 0; i < 200_000; i++) socket.send('not json');
    await eventually(async () => ((await metrics(server.url)).ws.slowConsumerCloses === before.ws.slowConsumerCloses + 1 ? true : undefined), 30_000, 'the cut');
    (socket as unknown as { _socket: import('node:net').Socket })._socket.resume();
    // Still busy with the flood, it is past the 5 s a cut reader gets to take its close frame:
    // terminated, so it sees 1006; a reader that reads again in time sees 4008 (the pong case).
    expect([4008, 1006]).toContain(await eventually(() => code, 10_000, 'the close'));
  }, 60_000);

  it('pongs: a client flooding protocol pings without reading is closed with 4008', async () => {
    const before = await metrics(server.url);
    const payload = Buffer.alloc(125, 1); // the largest ping
    const code = await floodThenRead((s) => s.ping(payload), 60_000, () => quiet(async () => (await metrics(server.url)).ws.wireBytesOut));
    expect(code).toBe(4008);
    await eventually(async () => ((await metrics(server.url)).ws.slowConsumerCloses === before.ws.slowConsumerCloses + 1 ? true : undefined), 5000, 'the cut counted');
  }, 40_000);
});

describe('connection caps (defect 3)', () => {
  const server = serverForSuite({ wsMaxPerUser: 3, sseMaxPerUser: 3, sseMaxPerIp: 3 });

  it('WebSockets per user: the one past WS_MAX_PER_USER gets HTTP 429 with Retry-After at the upgrade; closing one makes room', async () => {
    const bob = await signUp(server.url, 'bob');
    const open = await Promise.all([1, 2, 3].map(() => WsClient.connect(server.wsUrl, bob.cookie)));
    const head = await rawUpgrade(server.port, '/ws', { cookie: bob.cookie });
    expect(head).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
    expect(head).toMatch(/\r\nRetry-After: \d+/i);
    // Another user is not affected.
    const carol = await signUp(server.url, 'carol');
    (await WsClient.connect(server.wsUrl, carol.cookie)).close();
    open[0]!.close();
    await open[0]!.waitClosed();
    await eventually(async () => ((await rawUpgrade(server.port, '/ws', { cookie: bob.cookie })).startsWith('HTTP/1.1 101') ? true : undefined), 5000, 'room for one more');
    for (const c of open) c.close();
  });

  it('private streams per user: the one past SSE_MAX_PER_USER gets 429 with Retry-After before any event', async () => {
    const dave = await signUp(server.url, 'dave');
    const streams = [1, 2, 3].map(() => new SseClient(`${server.url}/api/notifications/stream`, dave.cookie));
    await Promise.all(streams.map((s) => s.waitForOpen()));
    const res = await fetch(`${server.url}/api/events?topics=notifications`, { headers: { cookie: dave.cookie } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    for (const s of streams) s.close();
  });

  it('signed-out streams per IP: the one past SSE_MAX_PER_IP gets 429', async () => {
    const owner = await signUp(server.url, 'owner');
    const blog = (await (await postJson(server.url, '/api/blogs', { title: 'open' }, { cookie: owner.cookie })).json()) as { id: number };
    const streams = [1, 2, 3].map(() => new SseClient(`${server.url}/api/blogs/${blog.id}/stream`, undefined, ['update']));
    await Promise.all(streams.map((s) => s.waitForOpen()));
    const res = await fetch(`${server.url}/api/blogs/${blog.id}/stream`);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    for (const s of streams) s.close();
    // Released when they close.
    await eventually(async () => {
      const again = await fetch(`${server.url}/api/blogs/${blog.id}/stream`);
      void again.body?.cancel();
      return again.status === 200 ? true : undefined;
    }, 5000, 'a released slot');
  });
});

describe.runIf(await servicesAvailable())('connection caps across instances (Redis)', () => {
  it('counts a user once over two instances', async () => {
    await withTwoInstances({ wsMaxPerUser: 4, redisUrl: REDIS_URL, redisKeyPrefix: redisPrefix() }, async (a, b) => {
      await eventually(async () => ((await fetch(`${a.url}/api/health/ready`)).status === 200 && (await fetch(`${b.url}/api/health/ready`)).status === 200 ? true : undefined), 10_000, 'readiness');
      const erin = await signUp(a.url, 'erin');
      const open = [await WsClient.connect(a.wsUrl, erin.cookie), await WsClient.connect(b.wsUrl, erin.cookie), await WsClient.connect(a.wsUrl, erin.cookie), await WsClient.connect(b.wsUrl, erin.cookie)];
      expect(await rawUpgrade(a.port, '/ws', { cookie: erin.cookie })).toMatch(/^HTTP\/1\.1 429 /);
      expect(await rawUpgrade(b.port, '/ws', { cookie: erin.cookie })).toMatch(/^HTTP\/1\.1 429 /);
      for (const c of open) c.close();
    });
  });
});

describe('exact protocol answers (defect 9)', () => {
  const server = serverForSuite();

  it('selects no subprotocol when the client offers some (it supports none)', async () => {
    const frank = await signUp(server.url, 'frank');
    const head = await rawUpgrade(server.port, '/ws', { cookie: frank.cookie, 'Sec-WebSocket-Protocol': 'chat, superchat' });
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).not.toMatch(/sec-websocket-protocol/i);
  });

  it.each(['/nope', '/ws/extra', '/api/events'])('answers an upgrade on %s with HTTP/1.1 404', async (path) => {
    const head = await rawUpgrade(server.port, path);
    expect(head).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
  });
});
