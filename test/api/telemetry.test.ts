import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SseRepository } from '../../apps/api/src/repositories/sse.repository.js';
import type { TransportStats } from '../../apps/api/src/repositories/telemetry.repository.js';
import { eventually, postJson, signUp, type SignedIn } from '../support/clients.js';
import { countingProxy } from '../support/recording-proxy.js';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;
let user: SignedIn;
beforeAll(async () => {
  server = await startServer({ chatRateBurst: 1000, chatRatePerSecond: 1000 });
  user = await signUp(server.url, 'meter');
});
afterAll(async () => {
  await server.close();
  server.cleanup();
});

const metrics = async () => (await (await fetch(`${server.url}/api/metrics`)).json()) as { ws: TransportStats; sse: TransportStats; process: Record<string, number> };

describe('wire bytes are measured at the socket', () => {
  it('WebSocket: the server reports exactly the bytes a TCP proxy saw after the 101 answer', async () => {
    const proxy = await countingProxy(server.port);
    const before = await metrics();
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws`, { headers: { cookie: user.cookie } });
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(String(d)));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ event: 'join', data: { room: 'general' } }));
    await eventually(() => (frames.some((f) => f.includes('"joined"')) ? true : undefined));
    for (let i = 0; i < 5; i++) ws.send(JSON.stringify({ event: 'message', data: { room: 'general', text: 'x'.repeat(100), clientId: `w${i}` } }));
    await eventually(() => (frames.filter((f) => f.includes('"ack"')).length === 5 ? true : undefined));
    const live = await metrics();
    expect(live.ws.connections).toBe(before.ws.connections + 1);
    const closed = new Promise((r) => ws.once('close', r));
    ws.close();
    await closed;
    const after = await eventuallyAsync(async () => {
      const m = await metrics();
      return m.ws.connections === before.ws.connections ? m : undefined;
    });
    expect(after.ws.wireBytesOut - before.ws.wireBytesOut).toBe(proxy.bodyBytes(0));
    expect(after.ws.messagesIn - before.ws.messagesIn).toBe(6);
    expect(after.ws.disconnects.client! - (before.ws.disconnects.client ?? 0)).toBe(1);
    // Every server frame here is under 126 bytes of payload or between 126 and 65535: the
    // overhead is the RFC 6455 header (2 or 4 bytes) per frame plus the 4-byte close frame.
    const sent = after.ws.messagesOut - before.ws.messagesOut;
    const overhead = after.ws.wireBytesOut - before.ws.wireBytesOut - (after.ws.payloadBytesOut - before.ws.payloadBytesOut);
    expect(sent).toBe(frames.length);
    const headers = frames.reduce((sum, f) => sum + (Buffer.byteLength(f) < 126 ? 2 : 4), 0);
    expect(overhead).toBe(headers + 2); // the close frame echoing the client's empty close
    await proxy.close();
  });

  it('SSE: the server reports exactly the bytes a TCP proxy saw after the response head', async () => {
    const proxy = await countingProxy(server.port);
    const before = await metrics();
    const body = new Promise<string>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: proxy.port, path: '/api/notifications/stream?lastEventId=0', agent: false, headers: { cookie: user.cookie } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            if ((text.match(/^id: \d+$/gm) ?? []).length === 3) server.app.get(SseRepository).closeAll();
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
    });
    for (let i = 0; i < 3; i++) await postJson(server.url, '/api/notifications/test', { title: `t${i}` }, { cookie: user.cookie });
    const text = await body;
    expect(text.match(/^id: \d+\ndata: \["system",/gm)).toHaveLength(3);
    const after = await eventuallyAsync(async () => {
      const m = await metrics();
      return m.sse.connections === before.sse.connections ? m : undefined;
    });
    expect(after.sse.wireBytesOut - before.sse.wireBytesOut).toBe(proxy.bodyBytes(0));
    expect(after.sse.messagesOut - before.sse.messagesOut).toBe(3);
    expect(after.sse.resumes - before.sse.resumes).toBe(1);
    expect(after.sse.disconnects.shutdown! - (before.sse.disconnects.shutdown ?? 0)).toBe(1);
    await proxy.close();
  }, 10_000);
});

describe('GET /metrics', () => {
  it('is valid Prometheus text carrying every series, with the default Node metrics', async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const types = new Map<string, string>();
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) {
        types.set(type[1]!, type[2]!);
        continue;
      }
      if (line.startsWith('# HELP ')) continue;
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/);
    }
    for (const [name, type] of [
      ['rt_connections', 'gauge'],
      ['rt_connects_total', 'counter'],
      ['rt_disconnects_total', 'counter'],
      ['rt_resumes_total', 'counter'],
      ['rt_events_replayed_total', 'counter'],
      ['rt_messages_in_total', 'counter'],
      ['rt_messages_out_total', 'counter'],
      ['rt_payload_bytes_out_total', 'counter'],
      ['rt_wire_bytes_out_total', 'counter'],
      ['rt_slow_consumer_closes_total', 'counter'],
      ['rt_event_loop_delay_seconds', 'gauge'],
      ['process_cpu_user_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
    ]) {
      expect(types.get(name!), name).toBe(type);
    }
    for (const transport of ['ws', 'sse']) expect(text).toContain(`rt_wire_bytes_out_total{transport="${transport}"}`);
  });

  it('has the JSON view with both transports and the process', async () => {
    const m = await metrics();
    for (const t of [m.ws, m.sse]) {
      expect(t).toMatchObject({ connections: expect.any(Number), messagesOut: expect.any(Number), payloadBytesOut: expect.any(Number), wireBytesOut: expect.any(Number) });
    }
    expect(m.process).toMatchObject({ rssBytes: expect.any(Number), heapUsedBytes: expect.any(Number), eventLoopDelayP99Ms: expect.any(Number), cpuUserSeconds: expect.any(Number) });
  });
});

async function eventuallyAsync<T>(check: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('per-connection figures and the network simulation', () => {
  it("greets each connection with its id, reports that connection's own counters to its owner only", async () => {
    const owner = await signUp(server.url, 'connowner');
    const stranger = await signUp(server.url, 'stranger');
    const ws = new WebSocket(server.wsUrl, { headers: { cookie: owner.cookie } });
    const frames: { event: string; data: Record<string, unknown> }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d)) as { event: string; data: Record<string, unknown> }));
    await new Promise((r) => ws.once('open', r));
    const hello = await eventually(() => frames.find((f) => f.event === 'hello'));
    expect(hello.data).toEqual({ connectionId: expect.any(String), serverTime: expect.any(Number) });
    ws.send(JSON.stringify({ event: 'join', data: { room: 'general' } }));
    await eventually(() => (frames.some((f) => f.event === 'joined') ? true : undefined));
    const get = (who: SignedIn, id: string) => fetch(`${server.url}/api/metrics/connections/${encodeURIComponent(id)}`, { headers: { cookie: who.cookie } });
    const mine = await get(owner, hello.data.connectionId as string);
    expect(mine.status).toBe(200);
    const stats = (await mine.json()) as { transport: string; messagesOut: number; payloadBytesOut: number; wireBytesOut: number };
    expect(stats.transport).toBe('ws');
    expect(stats.messagesOut).toBe(frames.length);
    expect(stats.wireBytesOut - stats.payloadBytesOut).toBe(frames.reduce((n, f) => n + (Buffer.byteLength(JSON.stringify(f)) < 126 ? 2 : 4), 0));
    expect((await get(stranger, hello.data.connectionId as string)).status).toBe(404);
    expect((await get(owner, 'nope')).status).toBe(404);
    ws.close();
  });

  it('drops all of my connections, and nobody else’s', async () => {
    const me = await signUp(server.url, 'dropper');
    const other = await signUp(server.url, 'bystander');
    const mine = new WebSocket(server.wsUrl, { headers: { cookie: me.cookie } });
    const theirs = new WebSocket(server.wsUrl, { headers: { cookie: other.cookie } });
    await Promise.all([new Promise((r) => mine.once('open', r)), new Promise((r) => theirs.once('open', r))]);
    const myClose = new Promise<number>((r) => mine.once('close', r));
    const stream = await fetch(`${server.url}/api/notifications/stream`, { headers: { cookie: me.cookie } });
    const reading = (async () => {
      const reader = stream.body!.getReader();
      for (;;) if ((await reader.read()).done) return 'ended';
    })();
    await new Promise((r) => setTimeout(r, 50));
    const res = await postJson(server.url, '/api/netsim/drop', undefined, { cookie: me.cookie });
    expect(await res.json()).toEqual({ ws: 1, sse: 1 });
    expect(await myClose).toBe(1006);
    expect(await reading).toBe('ended');
    expect(theirs.readyState).toBe(WebSocket.OPEN);
    theirs.close();
    expect((await postJson(server.url, '/api/netsim/drop', undefined)).status).toBe(401);
  });
});
