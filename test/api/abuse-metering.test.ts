// Hostile clients against the meters (issue 16, defect 10): a reader that never reads is cut
// as a slow consumer with frames still queued in the server. Whatever was queued but never
// written to the kernel must not be counted, so `GET /api/metrics` stays true: payload bytes
// never exceed wire bytes, the overhead per message is at least the framing, and the server
// counts no more messages than the reader could get.
import { connect as tcpConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SseRepository } from '../../apps/api/src/repositories/sse.repository.js';
import type { TransportStats } from '../../apps/api/src/repositories/telemetry.repository.js';
import { WebSocketRepository } from '../../apps/api/src/repositories/websocket.repository.js';
import { eventually, postJson, signUp, WsClient } from '../support/clients.js';
import { serverForSuite } from '../support/server.js';

const CAP = 256 * 1024;
const TEXT_CHARS = 30_000;
/** Far more than the kernel's socket buffers on loopback (4 MiB of send buffer at most) and the cap. */
const FLOOD_BYTES = 12 * 1024 * 1024;

const server = serverForSuite({
  wsMaxBufferedBytes: CAP,
  sseMaxBufferedBytes: CAP,
  chatMaxTextChars: TEXT_CHARS,
  blogMaxUpdateChars: TEXT_CHARS,
  chatRateBurst: 100_000,
  chatRatePerSecond: 100_000,
});

type Metrics = { ws: TransportStats; sse: TransportStats };
const metrics = async () => (await (await fetch(`${server.url}/api/metrics`)).json()) as Metrics;

/** The change of each counted figure between two snapshots of one transport. */
function delta(before: TransportStats, after: TransportStats) {
  const messages = after.messagesOut - before.messagesOut;
  const payload = after.payloadBytesOut - before.payloadBytesOut;
  const wire = after.wireBytesOut - before.wireBytesOut;
  return { messages, payload, wire, overheadPerMessage: (wire - payload) / messages, slowCloses: after.slowConsumerCloses - before.slowConsumerCloses };
}

describe('metering counts only what reached the socket (defect 10)', () => {
  it('WebSocket: after a non-reader is cut with 4008, payload <= wire, overhead >= the 2-byte frame header, and no more messages than the reader got', async () => {
    const alice = await signUp(server.url, 'alice');
    const writer = await WsClient.connect(server.wsUrl, alice.cookie);
    await writer.join('general');
    // The reader joins, then stops reading TCP: what it is sent piles up in the kernel, then in the server.
    const reader = new WebSocket(server.wsUrl, { headers: { cookie: alice.cookie } });
    let received = 0;
    let closeCode: number | undefined;
    reader.on('message', () => received++);
    reader.on('close', (code) => (closeCode = code));
    await new Promise((resolve, reject) => {
      reader.once('open', resolve);
      reader.once('error', reject);
    });
    reader.send(JSON.stringify({ event: 'join', data: { room: 'general' } }));
    await eventually(() => (received >= 3 ? true : undefined), 5000, 'hello, joining and joined');
    const tcp = (reader as unknown as { _socket: Socket })._socket;
    tcp.pause();
    await new Promise((r) => setTimeout(r, 100));
    // Not scraped again until the cut is over: the scrape must not be what makes the figures right.
    const before = await metrics();
    const receivedBefore = received;
    const writerBefore = writer.raw.length;

    const text = 'x'.repeat(TEXT_CHARS);
    const count = Math.ceil(FLOOD_BYTES / TEXT_CHARS);
    for (let i = 0; i < count; i++) writer.send('message', { room: 'general', text, clientId: `flood-${i}` });
    await writer.waitFor('ack', (d) => d.clientId === `flood-${count - 1}`, 60_000);
    // The server closes it with 4008, and terminates it 5 s later as it does not take the close frame.
    const sockets = server.app.get(WebSocketRepository);
    await eventually(() => (sockets.connectionCount === 1 ? true : undefined), 15_000, 'the cut');
    // Reading again: the reader gets what had reached the kernel before the cut, then the end.
    tcp.resume();
    await eventually(() => closeCode, 10_000, 'the close');
    await eventually(() => (writer.raw.length - writerBefore >= 2 * count ? true : undefined), 10_000, 'the writer’s frames');
    const after = await metrics();
    const d = delta(before.ws, after.ws);
    await new Promise((r) => setTimeout(r, 200)); // whatever was counted has arrived by now
    const got = received - receivedBefore + writer.raw.length - writerBefore;
    console.log(`[figures] ws slow-consumer cut: overheadBytesPerMessage ${d.overheadPerMessage.toFixed(1)} (payload ${d.payload}, wire ${d.wire}, messages ${d.messages}, frames the clients got ${got})`);
    expect(d.slowCloses).toBe(1);
    expect(d.payload).toBeLessThanOrEqual(d.wire);
    expect(d.overheadPerMessage).toBeGreaterThanOrEqual(2);
    // Counted: only frames whose bytes are on the wire. The wire beyond their text is their
    // headers (2 bytes for the writer's acks, 4 for every 30,000-character frame), a few bytes of
    // pings, and at most the one frame in flight at the cut, which is on the wire but not
    // counted. A frame counted but never written would leave the wire 30 KB short.
    const extra = d.wire - d.payload - (2 * count + 4 * (d.messages - count));
    expect(extra).toBeGreaterThanOrEqual(0);
    expect(extra).toBeLessThan(TEXT_CHARS + 4 + 64);
    // The clients got all of it but the frame half written at the cut (not counted), and, when
    // the cut resets the connection, whatever the reader's kernel still held then (counted).
    expect(d.messages).toBeGreaterThanOrEqual(got - 1);
    writer.close();
  }, 90_000);

  it('SSE: a stream ended for a slow reader, then cut, counts neither wire bytes nor events that never left the server', async () => {
    const owner = await signUp(server.url, 'owner');
    const blog = (await (await postJson(server.url, '/api/blogs', { title: 'flood' }, { cookie: owner.cookie })).json()) as { id: number };
    // A raw reader of the public stream that reads the response head and then stops reading.
    const socket = tcpConnect(server.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const ended = new Promise((r) => socket.once('close', r));
    socket.write(`GET /api/blogs/${blog.id}/stream HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAccept: text/event-stream\r\n\r\n`);
    await eventually(() => (received.includes('connectionId') ? true : undefined), 5000, 'the hello');
    socket.pause();
    const streams = server.app.get(SseRepository);
    const before = await metrics();
    const headEnd = received.indexOf('\r\n\r\n') + 4;

    const body = 'y'.repeat(TEXT_CHARS);
    const count = Math.ceil(FLOOD_BYTES / TEXT_CHARS);
    for (let i = 0; i < count && streams.connectionCount > 0; i++) {
      const res = await postJson(server.url, `/api/blogs/${blog.id}/updates`, { body }, { cookie: owner.cookie });
      expect(res.status).toBe(201);
    }
    await eventually(() => (streams.connectionCount === 0 ? true : undefined), 10_000, 'the slow reader ended');
    // The connection is cut with the rest still queued in the server (as a proxy or a shutdown would).
    server.app.getHttpServer().closeAllConnections();
    socket.resume();
    await ended;
    const after = await metrics();
    const d = delta(before.sse, after.sse);
    // What the reader got after the head: every byte the server counted must be in it.
    const gotBytes = received.length - headEnd;
    const gotEvents = (received.toString('latin1').match(/^id: \d+$/gm) ?? []).length;
    console.log(`[figures] sse slow-reader end + cut: wire ${d.wire} vs ${gotBytes} bytes the reader got, events ${d.messages} vs ${gotEvents} it got, overheadBytesPerMessage ${d.overheadPerMessage.toFixed(1)}`);
    expect(d.slowCloses).toBe(1);
    expect(d.payload).toBeLessThanOrEqual(d.wire);
    expect(d.wire).toBeLessThanOrEqual(gotBytes);
    expect(d.messages).toBeLessThanOrEqual(gotEvents);
    expect(d.messages).toBeGreaterThan(0);
    // `id: N\ndata: ` and the blank line, plus the chunk's size line and CRLFs.
    expect(d.overheadPerMessage).toBeGreaterThanOrEqual(20);
  }, 90_000);
});
