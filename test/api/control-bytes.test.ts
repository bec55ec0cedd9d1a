import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually, signUp, type SignedIn } from '../support/clients.js';
import { startServer, type TestServer } from '../support/server.js';

// Heartbeats and protocol pings every 100 ms, so a few arrive within a test.
let server: TestServer;
let user: SignedIn;
beforeAll(async () => {
  server = await startServer({ sseHeartbeatMs: 100, wsPingIntervalMs: 100 });
  user = await signUp(server.url, 'controller');
});
afterAll(async () => {
  await server.close();
  server.cleanup();
});

interface Stats {
  transport: string;
  messagesOut: number;
  payloadBytesOut: number;
  wireBytesOut: number;
  controlBytesOut: number;
}
const stats = async (id: string) =>
  (await (await fetch(`${server.url}/api/metrics/connections/${encodeURIComponent(id)}`, { headers: { cookie: user.cookie } })).json()) as Stats;

describe('control bytes: what per-message wire bytes leave out', () => {
  it('SSE: a stream that carried no message has all of its wire bytes counted as control (retry, hello, heartbeats)', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/api/notifications/stream`, { headers: { cookie: user.cookie }, signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (!/connectionId":"([^"]+)"/.test(text)) text += decoder.decode((await reader.read()).value);
    const id = /connectionId":"([^"]+)"/.exec(text)![1]!;
    // Three heartbeats at least.
    while ((text.match(/: heartbeat/g) ?? []).length < 3) text += decoder.decode((await reader.read()).value);
    const s = await stats(id);
    expect(s.messagesOut).toBe(0);
    expect(s.wireBytesOut).toBeGreaterThan(0);
    expect(s.controlBytesOut).toBe(s.wireBytesOut);
    controller.abort();
  });

  it('WebSocket: protocol pings are control bytes; wire minus control is the messages with their frame headers', async () => {
    const ws = new WebSocket(server.wsUrl, { headers: { cookie: user.cookie } });
    const frames: string[] = [];
    let pings = 0;
    ws.on('message', (d) => frames.push(String(d)));
    ws.on('ping', () => (pings += 1));
    await new Promise((r) => ws.once('open', r));
    await eventually(() => (pings >= 3 && frames.length >= 1 ? true : undefined));
    const id = (JSON.parse(frames[0]!) as { data: { connectionId: string } }).data.connectionId;
    const s = await stats(id);
    // Sampled after the pings we saw, maybe with one more on its way: 2 bytes each (an empty unmasked ping frame).
    expect(s.controlBytesOut % 2).toBe(0);
    expect(s.controlBytesOut).toBeGreaterThanOrEqual(pings * 2);
    expect(s.controlBytesOut).toBeLessThanOrEqual((pings + 1) * 2);
    const framing = frames.reduce((n, f) => n + (Buffer.byteLength(f) < 126 ? 2 : 4), 0);
    expect(s.wireBytesOut - s.controlBytesOut - s.payloadBytesOut).toBe(framing);
    ws.close();
  });
});
