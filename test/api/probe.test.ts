import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, postJson, signUp, WsClient, type SignedIn } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let user: SignedIn;
const closers: (() => void)[] = [];

beforeAll(async () => {
  server = await startServer();
  user = await signUp(server.url, 'prober');
});
afterAll(async () => {
  for (const c of closers) c();
  await server.close();
  server.cleanup();
});

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
  /** The `data:` value as sent (re-serializing the parsed JSON can drop a trailing zero of a number). */
  text: string;
  at: number;
}

/** A raw event stream reader that keeps every event, id or not (hello, pong, probe). */
async function openStream(who: SignedIn) {
  const controller = new AbortController();
  closers.push(() => controller.abort());
  const res = await fetch(`${server.url}/api/notifications/stream`, { headers: { cookie: who.cookie }, signal: controller.signal });
  const events: SseEvent[] = [];
  void (async () => {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          // An event without a name is this single-topic stream's main event (docs/protocol.md).
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'notification';
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown>, text: data, at: performance.now() });
        }
      }
    } catch {
      // aborted
    }
  })();
  const hello = await eventually(() => events.find((e) => e.event === 'hello'));
  return { events, id: hello.data.connectionId as string };
}

async function openSocket(who: SignedIn) {
  const ws = await WsClient.connect(server.wsUrl, who.cookie);
  closers.push(() => ws.close());
  const hello = await ws.waitFor('hello');
  return { ws, id: hello.connectionId as string };
}

describe('clock probe over SSE', () => {
  it('writes pong with the server clock on the caller’s own stream only', async () => {
    const stream = await openStream(user);
    const t = performance.timeOrigin + performance.now();
    const res = await postJson(server.url, `/api/metrics/connections/${stream.id}/ping`, { id: 3, t }, { cookie: user.cookie });
    expect(res.status).toBe(204);
    const pong = await eventually(() => stream.events.find((e) => e.event === 'pong'));
    expect(pong.data).toEqual({ id: 3, t, serverTime: expect.any(Number) });
    const other = await signUp(server.url, 'otherprober');
    expect((await postJson(server.url, `/api/metrics/connections/${stream.id}/ping`, { id: 1, t }, { cookie: other.cookie })).status).toBe(404);
    expect((await postJson(server.url, `/api/metrics/connections/${stream.id}/ping`, { id: 'x', t }, { cookie: user.cookie })).status).toBe(400);
  });
});

describe('POST /api/probe', () => {
  it('sends the same payloads at the same instants on both transports and reports wire bytes and CPU', async () => {
    const { ws, id: wsId } = await openSocket(user);
    const stream = await openStream(user);
    const res = await postJson(
      server.url,
      '/api/probe',
      { sizeBytes: 100, ratePerSecond: 50, durationMs: 600, wsConnectionId: wsId, sseConnectionId: stream.id },
      { cookie: user.cookie },
    );
    expect(res.status).toBe(200);
    const result = (await res.json()) as {
      run: string;
      count: number;
      ws: { sent: number; wireBytesPerMessage: number; payloadBytesPerMessage: number; cpuMsPer1000: number };
      sse: { sent: number; wireBytesPerMessage: number; payloadBytesPerMessage: number; cpuMsPer1000: number };
    };
    expect(result.count).toBe(30);
    expect(result.ws.sent).toBe(30);
    expect(result.sse.sent).toBe(30);
    // A 100-byte data JSON: the WebSocket frame is the 25-byte {"event":"probe","data":...}
    // envelope plus a 2-byte RFC 6455 header; the SSE event is `event: probe\ndata: ` + data +
    // `\n\n` in one HTTP chunk (`79\r\n` ... `\r\n`).
    expect(result.ws.payloadBytesPerMessage).toBe(125);
    expect(result.ws.wireBytesPerMessage).toBe(127);
    expect(result.sse.payloadBytesPerMessage).toBe(100);
    expect(result.sse.wireBytesPerMessage).toBe(127);
    expect(result.ws.cpuMsPer1000).toBeGreaterThan(0);
    expect(result.sse.cpuMsPer1000).toBeGreaterThan(0);

    const wsProbes = ws.of('probe');
    const sseProbes = stream.events.filter((e) => e.event === 'probe').map((e) => e.data);
    expect(wsProbes.map((p) => p.n)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(sseProbes.map((p) => p.n)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    // Identical payloads, stamped at the same instant.
    expect(sseProbes).toEqual(wsProbes);
    expect(stream.events.filter((e) => e.event === 'probe').every((e) => e.text.length === 100)).toBe(true);
  });

  it('enforces the limits and ownership', async () => {
    const { id: wsId } = await openSocket(user);
    const stream = await openStream(user);
    const probe = (body: Record<string, unknown>, who = user) =>
      postJson(server.url, '/api/probe', { sizeBytes: 100, ratePerSecond: 10, durationMs: 500, wsConnectionId: wsId, sseConnectionId: stream.id, ...body }, { cookie: who.cookie });
    for (const bad of [{ sizeBytes: 63 }, { sizeBytes: 65_537 }, { ratePerSecond: 0 }, { ratePerSecond: 1001 }, { durationMs: 499 }, { durationMs: 30_001 }, { sizeBytes: '100' }]) {
      expect((await probe(bad)).status, JSON.stringify(bad)).toBe(400);
    }
    const stranger = await signUp(server.url, 'probestranger');
    expect((await probe({}, stranger)).status).toBe(404);
    expect((await probe({ wsConnectionId: 'nope' })).status).toBe(404);
    const first = probe({ durationMs: 1000 });
    await new Promise((r) => setTimeout(r, 100));
    expect((await probe({})).status).toBe(409);
    expect((await first).status).toBe(200);
    expect((await postJson(server.url, '/api/probe', {})).status).toBe(401);
  });
});

describe('network simulation', () => {
  it('delays deliveries to my connections, keeps their order, and stops when lifted', async () => {
    const { ws } = await openSocket(user);
    const rtt = async () => {
      const from = ws.frames.length;
      const t = performance.now();
      ws.send('ping', { id: from, t: 1 });
      await ws.waitFor('pong', () => true, 5000, from);
      return performance.now() - t;
    };
    expect((await postJson(server.url, '/api/netsim/impair', { delayMs: 300, jitterMs: 0 }, { cookie: user.cookie })).status).toBe(204);
    expect(await rtt()).toBeGreaterThanOrEqual(290);
    expect((await postJson(server.url, '/api/netsim/impair', { delayMs: 0, jitterMs: 0 }, { cookie: user.cookie })).status).toBe(204);
    expect(await rtt()).toBeLessThan(250);
    for (const bad of [{ delayMs: -1, jitterMs: 0 }, { delayMs: 5001, jitterMs: 0 }, { delayMs: 0 }]) {
      expect((await postJson(server.url, '/api/netsim/impair', bad, { cookie: user.cookie })).status).toBe(400);
    }
  });

  it('pauses deliveries for N seconds, then sends them in order', async () => {
    const stream = await openStream(user);
    expect((await postJson(server.url, '/api/netsim/pause', { seconds: 1 }, { cookie: user.cookie })).status).toBe(204);
    const started = performance.now();
    for (let i = 0; i < 3; i++) await postJson(server.url, '/api/notifications/test', { title: `held ${i}` }, { cookie: user.cookie });
    await new Promise((r) => setTimeout(r, 500));
    expect(stream.events.filter((e) => e.event === 'notification')).toHaveLength(0);
    const held = await eventually(() => {
      const n = stream.events.filter((e) => e.event === 'notification');
      return n.length === 3 ? n : undefined;
    });
    // A notification's data is `[kind, t, title, body]` (docs/protocol.md).
    expect(held.map((e) => (e.data as unknown as unknown[])[2])).toEqual(['held 0', 'held 1', 'held 2']);
    expect(held[0]!.at - started).toBeGreaterThanOrEqual(900);
    expect((await postJson(server.url, '/api/netsim/pause', { seconds: 31 }, { cookie: user.cookie })).status).toBe(400);
  });
});
